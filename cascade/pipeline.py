"""Pipeline: stages wired by bounded queues, type-checked when built; Parallel fan-out/merge."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import anyio

from cascade.channel import FrameReceive, FrameSend, create_channel
from cascade.clock import Clock
from cascade.frames import BotAudioFrame, DTMFFrame, EndOfStream, Frame, UserAudioFrame
from cascade.metrics import MetricsCollector
from cascade.session import SessionContext, session_hooks
from cascade.stage import FrameTypes, Stage, raise_stage_error
from cascade.transport import Transport

CALLER_FRAMES: FrameTypes = (UserAudioFrame, DTMFFrame)
"""What a transport feeds into a pipeline."""

DEFAULT_QUEUE_SIZE = 64


class PipelineTypeError(TypeError):
    """Stages whose frame types do not connect."""


def _names(types: Iterable[type[Frame]]) -> str:
    return ", ".join(sorted(t.__name__ for t in types)) or "nothing"


def _reachable(wanted: type[Frame], available: Iterable[type[Frame]]) -> bool:
    return any(issubclass(have, wanted) or issubclass(wanted, have) for have in available)


def check_chain(stages: Sequence[Stage], available: FrameTypes, *, source: str = "the input") -> None:
    """Raise :class:`PipelineTypeError` if a stage could never receive what it handles/requires.

    ``available`` are the frame types entering the chain (from ``source``). Frames pass through
    stages that do not handle them, so a stage can receive anything produced anywhere upstream.
    """
    produced: list[type[Frame]] = list(available)
    previous = source
    for stage in stages:
        missing = [t for t in stage.requires if not _reachable(t, produced)]
        useless = stage.inputs and not any(_reachable(t, produced) for t in stage.inputs)
        if missing or useless:
            wanted = missing or list(stage.inputs)
            raise PipelineTypeError(
                f"stage '{stage.name}' needs {_names(wanted)}, but nothing up to '{previous}' "
                f"produces it (available: {_names(produced)})"
            )
        produced.extend(t for t in stage.outputs if t not in produced)
        previous = stage.name


class Pipeline(Stage):
    """A chain of stages joined by bounded queues. Also usable as a stage inside another pipeline.

    The chain is type-checked when it is built: the ASR and the turn-taker work on the VAD's
    speech events, so a chain without the VAD is refused, naming the stage and what it misses.

    >>> from cascade import Pipeline
    >>> from cascade.asr import WhisperASR
    >>> from cascade.turn import TurnTaker
    >>> from cascade.vad import SileroVAD
    >>> Pipeline([WhisperASR(), TurnTaker()])
    Traceback (most recent call last):
    cascade.pipeline.PipelineTypeError: stage 'WhisperASR' needs SpeechProbabilities, SpeechStarted, ...
    >>> pipeline = Pipeline([SileroVAD(), WhisperASR(), TurnTaker()])
    >>> [stage.name for stage in pipeline.stages]
    ['SileroVAD', 'WhisperASR', 'TurnTaker']

    :meth:`run` runs one session on a transport (a whole voice agent: :mod:`cascade`).
    """

    def __init__(
        self,
        stages: Sequence[Stage],
        *,
        name: str | None = None,
        input_types: FrameTypes | None = CALLER_FRAMES,
        queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        """Build and type-check the chain.

        ``input_types`` are the frames entering the chain (caller audio and DTMF by default);
        pass ``None`` for a sub-pipeline whose inputs are checked where it is used.
        """
        super().__init__(name=name)
        if not stages:
            raise ValueError("a pipeline needs at least one stage")
        self.stages = list(stages)
        self.queue_size = queue_size
        self.inputs = tuple({t for s in self.stages for t in s.inputs})
        self.outputs = tuple({t for s in self.stages for t in s.outputs})
        self.requires = self._unresolved_requires()
        if input_types is not None:
            check_chain(self.stages, input_types)

    def _unresolved_requires(self) -> FrameTypes:
        produced: list[type[Frame]] = []
        needed: list[type[Frame]] = []
        for stage in self.stages:
            needed += [t for t in stage.requires if not _reachable(t, produced) and t not in needed]
            produced += stage.outputs
        return tuple(needed)

    async def _run(self, ctx: SessionContext, inbox: FrameReceive, outbox: FrameSend) -> None:
        await run_chain(self.stages, ctx, inbox, outbox, self.queue_size)

    async def run(
        self,
        transport: Transport,
        *,
        clock: Clock | None = None,
        metrics: MetricsCollector | None = None,
    ) -> SessionContext:
        """Run one session between ``transport``'s source and sink until it ends.

        Returns the finished session (its ``metrics`` hold the per-turn timelines). A failing stage
        ends the session with :class:`~cascade.stage.StageError` naming it; no task outlives this.
        The process's session hooks (:func:`~cascade.session.add_session_hook`) hear of its start
        and end.
        """
        ctx = SessionContext(
            clock=clock or transport.clock,
            metrics=metrics,
            hooks=session_hooks(),
            info=transport.session_info(),
        )
        source, sink = transport.source(), transport.sink()
        check_chain(self.stages, source.outputs, source=source.name)
        check_chain([sink], tuple({*source.outputs, *self.outputs}), source=self.stages[-1].name)
        if not _reachable(BotAudioFrame, self.outputs) and BotAudioFrame in sink.requires:
            raise PipelineTypeError(
                f"transport sink '{sink.name}' needs BotAudioFrame, but the last stage "
                f"'{self.stages[-1].name}' and those before it only produce {_names(self.outputs)}"
            )
        stages = [source, *self.stages, sink]
        ctx.started(stages)
        error: Exception | None = None
        try:
            await run_session(stages, ctx, queue_size=self.queue_size)
        except Exception as exc:
            error = exc
            raise
        finally:
            ctx.ended(error)
        return ctx


async def run_chain(
    stages: Sequence[Stage],
    ctx: SessionContext,
    inbox: FrameReceive,
    outbox: FrameSend,
    queue_size: int,
) -> None:
    """Run ``stages`` in a chain between ``inbox`` and ``outbox``."""
    async with anyio.create_task_group() as tg:
        current = inbox
        for index, stage in enumerate(stages):
            if index == len(stages) - 1:
                tg.start_soon(stage._run, ctx, current, outbox)
            else:
                send, receive = create_channel(queue_size)
                tg.start_soon(stage._run, ctx, current, send)
                current = receive


async def run_session(
    stages: Sequence[Stage],
    ctx: SessionContext,
    inbox: FrameReceive | None = None,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    collect: list[Frame] | None = None,
) -> None:
    """Run a complete chain; what leaves the last stage is discarded (or appended to ``collect``).

    ``inbox`` feeds the first stage; without one it is a :class:`~cascade.transport.Source`
    (it makes its own frames).
    """
    if inbox is None:
        no_input, inbox = create_channel(1)
        no_input.close()
    send, receive = create_channel(queue_size)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_chain, stages, ctx, inbox, send, queue_size)
            with receive:
                async for frame in receive:
                    if collect is not None:
                        collect.append(frame)
    except BaseExceptionGroup as group:
        raise_stage_error(group)
        raise
    finally:
        ctx.metrics.close()


class Parallel(Stage):
    """Fan-out/merge: every branch gets the frames it handles; their outputs are merged.

    Each input frame is forwarded downstream once by the Parallel itself, so a branch's own
    pass-through of its input types is dropped (put stages that transform those types before the
    fan-out). Frames no branch handles pass straight through.
    """

    def __init__(self, *branches: Stage, name: str | None = None, queue_size: int = 16) -> None:
        """Run ``branches`` side by side (each may be a :class:`Pipeline`)."""
        super().__init__(name=name or "Parallel(" + ", ".join(b.name for b in branches) + ")")
        if len(branches) < 2:
            raise ValueError("Parallel needs at least two branches")
        self.branches = list(branches)
        self.queue_size = queue_size
        self.inputs = tuple({t for b in branches for t in b.inputs})
        self.outputs = tuple({t for b in branches for t in b.outputs})
        self.requires = tuple({t for b in branches for t in b.requires})

    async def _run(self, ctx: SessionContext, inbox: FrameReceive, outbox: FrameSend) -> None:
        feeds: list[tuple[Stage, FrameSend]] = []
        try:
            async with anyio.create_task_group() as tg:
                for branch in self.branches:
                    feed_send, feed_receive = create_channel(self.queue_size)
                    out_send, out_receive = create_channel(self.queue_size)
                    feeds.append((branch, feed_send))
                    tg.start_soon(branch._run, ctx, feed_receive, out_send)
                    tg.start_soon(self._forward, out_receive, outbox.clone(), branch.inputs)
                with inbox:
                    async for frame in inbox:
                        if isinstance(frame, EndOfStream):
                            break
                        await outbox.send(frame)
                        for branch, send in feeds:
                            if isinstance(frame, branch.inputs):
                                await send.send(frame)
                for _, send in feeds:
                    send.close()
                # every branch has drained once all forwarders are done
            await outbox.send(ctx.frame(EndOfStream))
        finally:
            for _, send in feeds:
                send.close()
            outbox.close()

    @staticmethod
    async def _forward(branch_out: FrameReceive, outbox: FrameSend, fed: FrameTypes) -> None:
        with branch_out, outbox:
            async for frame in branch_out:
                if not isinstance(frame, (EndOfStream, *fed)):
                    await outbox.send(frame)
