"""TurnTaker: the stage that decides when the caller's turn ends and when they take the floor.

Placed after the VAD and the ASR::

    Pipeline([SileroVAD(), WhisperASR(), TurnTaker(TurnOptions(...)), ChatLLM(...), HibariTTS()])

Every frame it reads is forwarded. The decisions are made by a synchronous
:class:`~cascade.turn.decider.TurnDecider`; this stage feeds it the caller's audio, the VAD's
events, the transcripts and the playout sink's reports (priority lane: ``BotSpeechStarted``,
``BotSpeechEnded``, ``BotAudioPlayed``, ``SessionPlaysAudio``), keeps its timer, and carries out
what it returns:

* ``EndOfTurn(text=<the turn's transcript>)`` when the caller is done (``preemptive=True`` on the
  stable partial text as soon as the end is likely; that reply's audio is held until the final
  text confirms it, and taken back with an interrupt if the caller goes on);
* an interrupt (``barge-in``) when the caller talks over the bot with real words, or speaks long
  enough, and it is neither a backchannel nor the bot's own echo, or says words before the reply
  to their last turn started playing;
* ``TextToSpeak`` with the unheard rest of an interrupted reply after a false interruption (a
  sound with no words), and short acknowledgements at pauses in long turns (backchannels);
* ``PlaybackHold`` / ``PlaybackRelease`` events: the bot's audio waits while a preemptive reply
  is unconfirmed, while a caller who went on is heard, and while caller speech over it is judged
  (that hold is soft: ducked for ``InterruptionOptions.duck_for`` before it stops the audio).
"""

from __future__ import annotations

from typing import Literal

import anyio
from anyio.abc import TaskGroup

from cascade.frames import (
    BotAudioPlayed,
    BotSpeechEnded,
    BotSpeechStarted,
    EndOfStream,
    EndOfTurn,
    FinalTranscript,
    Frame,
    Interrupt,
    PartialTranscript,
    PlaybackHold,
    PlaybackRelease,
    SessionPlaysAudio,
    SpeechOnset,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    TextToSpeak,
    UserAudioFrame,
)
from cascade.stage import Stage, run_sync_cancellable
from cascade.turn import actions as act
from cascade.turn.decider import MODEL_EVENTS, Event, Tick, TurnDecider
from cascade.turn.ending import TextTurnModel, TurnModel
from cascade.turn.options import TurnOptions
from cascade.turn.stats import TurnStats


class TurnTaker(Stage):
    """End-of-turn detection, barge-in, false-interruption resume, backchannels, preemptive replies.

    ``model`` is the audio end-of-turn model: ``"smart-turn"`` (default, the prepared Smart Turn
    v3.2), any callable ``(audio_16k_float) -> probability``, or ``None`` for VAD + transcript
    only. ``text_model`` reads the final transcript: ``"smollm2-135m"`` (default, the prepared
    :class:`~cascade.turn.text_turn.TextTurnDetector`), any callable ``(text, bot_said) ->
    probability`` such as :class:`~cascade.turn.chat_turn.ChatTurnReader` (the served chat model,
    which the :class:`~cascade.agent.agent.VoiceAgent` uses), or ``None``. ``offload`` runs the
    decisions that consult a model in a worker thread (keep it
    off in virtual-time tests).
    """

    inputs = (
        UserAudioFrame,
        SpeechOnset,
        SpeechStarted,
        SpeechStopped,
        SpeechPaused,
        SpeechResumed,
        PartialTranscript,
        FinalTranscript,
    )
    requires = (SpeechStarted, SpeechStopped)
    outputs = (EndOfTurn, TextToSpeak)
    events = (BotSpeechStarted, BotSpeechEnded, BotAudioPlayed, SessionPlaysAudio)

    def __init__(
        self,
        options: TurnOptions | None = None,
        *,
        model: TurnModel | Literal["smart-turn"] | None = "smart-turn",
        text_model: TextTurnModel | Literal["smollm2-135m"] | None = "smollm2-135m",
        offload: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name or "TurnTaker")
        self.options = options or TurnOptions()
        if model == "smart-turn":
            from cascade.turn.smart_turn import SmartTurnDetector

            self.model: TurnModel | None = SmartTurnDetector()
        else:
            self.model = model
        if text_model == "smollm2-135m":
            from cascade.turn.text_turn import TextTurnDetector

            self.text_model: TextTurnModel | None = TextTurnDetector()
        else:
            self.text_model = text_model
        self.offload = offload
        self.decider = self._new_decider()
        self._lock = anyio.Lock()
        self._limiter = anyio.CapacityLimiter(1)
        self._wake = anyio.Event()
        self._own_interrupts: set[int] = set()

    @property
    def stats(self) -> TurnStats:
        """This session's counters."""
        return self.decider.stats

    def _new_decider(self) -> TurnDecider:
        return TurnDecider(self.options, turn_model=self.model, text_model=self.text_model)

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the end-of-turn models and start the timer."""
        self.decider = self._new_decider()
        self._own_interrupts.clear()
        for model in (self.model, self.text_model):
            load = getattr(model, "load", None)
            if not callable(load):
                continue
            if self.offload:
                await run_sync_cancellable(load, limiter=self._limiter)
            else:
                load()
        self.spawn(self._timer, service=True)

    async def finish(self) -> None:
        """End of stream: a turn that went silent ends now."""
        await self._decide(self.frame(EndOfStream))

    # --- events in -------------------------------------------------------------------------------

    async def process(self, frame: Frame) -> None:
        """Forward the frame and let the decider judge it."""
        await self.emit(frame)
        assert isinstance(frame, self.inputs)
        await self._decide(frame)

    async def on_event(self, frame: Frame) -> None:
        """Follow the bot's playback."""
        assert isinstance(frame, self.events)
        await self._decide(frame)

    async def on_interrupt(self, frame: Interrupt) -> None:
        """An interrupt started elsewhere drops the playback holds this stage took."""
        if frame.generation in self._own_interrupts:
            self._own_interrupts.discard(frame.generation)
        else:
            await self._decide(frame)

    async def _decide(self, event: Event) -> None:
        async with self._lock:
            decider = self.decider
            has_model = self.model is not None or self.text_model is not None
            if self.offload and has_model and isinstance(event, MODEL_EVENTS):
                actions = await run_sync_cancellable(
                    decider.decide, event, self.clock.now(), limiter=self._limiter
                )
            else:
                actions = decider.decide(event, self.clock.now())
            for action in actions:
                await self._carry_out(action)
        self._wake.set()

    # --- actions out -----------------------------------------------------------------------------

    async def _carry_out(self, action: act.Action) -> None:
        ctx = self.ctx
        if isinstance(action, act.EndTurn):
            turn = {"text": action.text, "probability": action.probability, "reason": action.reason}
            await self.emit(self.frame(EndOfTurn, **turn, preemptive=action.preemptive))
        elif isinstance(action, act.Say):
            await self.emit(self.frame(TextToSpeak, text=action.text, response_id=action.response_id))
        elif isinstance(action, act.Interrupt):
            self._own_interrupts.add(self.interrupt(action.reason).generation)
        elif isinstance(action, act.Hold):
            self.broadcast(
                self.frame(
                    PlaybackHold, reason=action.reason, duck_db=action.duck_db, duck_for=action.duck_for
                )
            )
        elif isinstance(action, act.Release):
            self.broadcast(self.frame(PlaybackRelease, reason=action.reason))
        elif isinstance(action, act.Mark):
            ctx.metrics.mark(action.name, action.at)
        elif isinstance(action, act.RetractEndOfTurn):
            ctx.metrics.retract_end_of_turn()
        elif isinstance(action, act.CountWasted):
            ctx.metrics.count_wasted_generation()

    # --- the timer -------------------------------------------------------------------------------

    async def _timer(self) -> None:
        while True:
            self._wake = anyio.Event()
            async with self._lock:  # (a decision may be running in a worker thread)
                deadline = self.decider.next_deadline()
            if deadline is None:
                await self._wake.wait()
                continue
            if self.clock.now() < deadline:
                async with anyio.create_task_group() as tg:

                    async def sleeper(tg: TaskGroup = tg, until: float = deadline) -> None:
                        await self.clock.sleep_until(until)
                        tg.cancel_scope.cancel()

                    async def waker(tg: TaskGroup = tg) -> None:
                        await self._wake.wait()
                        tg.cancel_scope.cancel()

                    tg.start_soon(sleeper)
                    tg.start_soon(waker)
            if self.clock.now() >= deadline:
                await self._decide(Tick())
