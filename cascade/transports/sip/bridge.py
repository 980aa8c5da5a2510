"""The phone bridge: a SIP user agent that runs one pipeline session per call.

    bridge = PhoneBridge(make_pipeline, BridgeOptions(sip=SipOptions(port=5070)))
    await bridge.run()

``make_pipeline(info)`` is called once per answered call with a :class:`CallInfo` (who called,
and :class:`~cascade.transports.sip.control.CallControl` to hang up or transfer the call, which
:func:`cascade.agent.phone.call_control_tools` offers to the LLM) and returns a fresh
:class:`~cascade.pipeline.Pipeline`. The session ends, and everything of the call is released,
when the caller hangs up, the RTP times out, the bot hangs up, or a stage fails.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from cascade.pipeline import Pipeline
from cascade.readiness import Readiness
from cascade.session import report_error
from cascade.stage import first_error
from cascade.transports.sip.call import SipCall
from cascade.transports.sip.control import CallControl
from cascade.transports.sip.options import BridgeOptions
from cascade.transports.sip.transport import SipTransport
from cascade.transports.sip.ua import SipUserAgent

log = logging.getLogger("cascade.sip.bridge")


@dataclass
class CallInfo:
    """What a pipeline factory knows about the call it builds a pipeline for."""

    call_id: str
    caller: str
    """The caller's SIP URI (From)."""
    callee: str
    """The dialled SIP URI (To)."""
    remote: str
    """Transport address the call came from (the gateway or proxy)."""
    user: str
    """Authenticated digest user ('' when admitted by address)."""
    controls: CallControl
    transport: SipTransport


PipelineFactory = Callable[[CallInfo], Pipeline | Awaitable[Pipeline]]


@dataclass
class CallRecord:
    """A finished call, for logs, tests and benchmarks."""

    call_id: str
    caller: str
    end_reason: str
    error: str = ""
    packets_in: int = 0
    packets_out: int = 0
    ignored_packets: int = 0
    late_ticks: int = 0
    digits: list[str] = field(default_factory=list)


class PhoneBridge:
    """Answers calls and runs ``factory``'s pipeline on each.

    Args:
        factory: builds the pipeline for a call (sync or async).
        options: SIP and session settings.
        transfer_targets: destinations the LLM may transfer to (name → SIP URI).
        startup: awaited once when the bridge starts (load the models, start the LLM server).
            The SIP port opens first; until ``startup`` is done, INVITE and OPTIONS get 503 with
            ``Retry-After`` (:attr:`readiness`), so no caller is answered into silence. If it
            raises, :meth:`run` raises it.
    """

    def __init__(
        self,
        factory: PipelineFactory,
        options: BridgeOptions | None = None,
        *,
        transfer_targets: dict[str, str] | None = None,
        startup: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.factory = factory
        self.options = options or BridgeOptions()
        self.transfer_targets = transfer_targets or {}
        self.startup = startup
        self.readiness = Readiness()
        self.ua = SipUserAgent(self.options.sip, self._handle, self.readiness)
        self.finished: list[CallRecord] = []
        self.call_ended = anyio.Event()
        """Set (and replaced) each time a call finishes; tests wait on it."""

    @property
    def port(self) -> int:
        """The bound SIP port."""
        return self.ua.port

    @property
    def active_calls(self) -> int:
        """Calls in progress."""
        return self.ua.active_calls

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[PhoneBridge] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve calls until cancelled (``started`` once the port is open, before :attr:`startup`)."""
        async with anyio.create_task_group() as tg:
            await tg.start(self.ua.run)
            task_status.started(self)
            await self.readiness.prepare(self.startup)
            log.info("ready for calls on port %d", self.port)

    async def _handle(self, call: SipCall) -> None:
        transport = SipTransport(
            call, sample_rate=self.options.sample_rate, rtp_timeout=self.options.sip.rtp_timeout
        )
        controls = CallControl(call, transport, transfer_targets=self.transfer_targets)
        transport.controls = controls  # tools reach it through their RunContext
        info = CallInfo(
            call.call_id, call.caller, call.callee, str(call.peer), call.user, controls, transport
        )
        record = CallRecord(call.call_id, call.caller, "")
        log.info("call %s from %s (%s)", call.call_id, call.caller, call.peer)
        pipeline: Pipeline | None = None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(call.media.receive_loop)
                tg.start_soon(self._cancel_after_hangup, call, tg.cancel_scope)
                built = self.factory(info)
                pipeline = await built if isinstance(built, Awaitable) else built
                await pipeline.run(transport)
                tg.cancel_scope.cancel()
        except Exception as exc:
            error = first_error(exc)  # not the task group around it
            record.error = f"{type(error).__name__}: {error}"
            log.exception("call %s: session failed", call.call_id)
            if pipeline is None:  # a session that ran was reported by the pipeline itself
                report_error("session", error)
            await call.hang_up("session error")
        finally:
            with anyio.CancelScope(shield=True):
                await call.hang_up("session ended")
                stats = call.media.stats
                record.end_reason = call.end_reason
                record.packets_in, record.packets_out, record.ignored_packets = (
                    stats.packets_in,
                    stats.packets_out,
                    stats.ignored,
                )
                record.late_ticks = transport.late_ticks
                self.finished.append(record)
                self.call_ended.set()
                self.call_ended = anyio.Event()

    async def _cancel_after_hangup(self, call: SipCall, scope: anyio.CancelScope) -> None:
        """Backstop: a session still running ``hangup_grace`` seconds after the call ended is cancelled."""
        await call.ended.wait()
        await anyio.sleep(self.options.hangup_grace)
        log.warning(
            "call %s: session did not end %.1fs after hang-up; cancelling it",
            call.call_id,
            self.options.hangup_grace,
        )
        scope.cancel()
