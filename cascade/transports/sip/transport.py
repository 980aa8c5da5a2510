"""The SIP call as a cascade transport: RTP in → caller frames, bot frames → paced RTP out.

:class:`SipSource` reads the jitter buffer every 20 ms, resamples 8 kHz to the pipeline's rate and
emits :class:`~cascade.frames.UserAudioFrame` s (silence when nothing arrived, so the caller's
timeline never stops) plus a :class:`~cascade.frames.DTMFFrame` per key press. It ends the session
when the call ends (interrupting in-flight reply work first). :class:`SipSink` drains the
:class:`~cascade.transports.playout.Playout` every 20 ms into one G.711 packet, so barge-in
flushes at most one packet of queued audio.
"""

from __future__ import annotations

import time

import anyio

from cascade.audio import StreamResampler
from cascade.clock import Clock
from cascade.frames import DTMFFrame, Frame, Interrupt, UserAudioFrame
from cascade.session_info import CallActions, SessionInfo
from cascade.transport import Source, Transport
from cascade.transports.playout import PlayoutSink
from cascade.transports.sip.address import SipUri
from cascade.transports.sip.call import SipCall
from cascade.transports.sip.media import SAMPLES_PER_PACKET
from cascade.transports.sip.message import SipParseError

PACKET_SECONDS = 0.02


class SipTransport(Transport):
    """One call as a transport for ``Pipeline.run``.

    Args:
        call: the answered call.
        sample_rate: the pipeline's audio rate.
        rtp_timeout: seconds without RTP (while not on hold) after which the call is hung up.
        clock: the session clock (real time by default).
    """

    kind = "sip"

    def __init__(
        self,
        call: SipCall,
        *,
        sample_rate: int = 16000,
        rtp_timeout: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.call = call
        self.sample_rate = sample_rate
        self.rtp_timeout = rtp_timeout
        self.clock = clock
        self.sink_stage: SipSink | None = None
        self.late_ticks = 0
        """Source ticks that ran more than one packet late (the process is overloaded)."""
        self.controls: CallActions | None = None
        """Hang-up and transfer for tools (the bridge sets its :class:`~cascade.transports.sip.
        control.CallControl`)."""

    def session_info(self) -> SessionInfo:
        """The call: Call-ID, the caller's number (From user), the peer it came from."""
        call = self.call
        try:
            caller = SipUri.parse(call.caller).user or call.caller
        except SipParseError:
            caller = call.caller
        return SessionInfo(
            session_id=call.call_id,
            transport=self.kind,
            caller=caller,
            remote=str(call.peer),
            call_id=call.call_id,
            controls=self.controls,
        )

    def source(self) -> SipSource:
        """Caller side."""
        return SipSource(self)

    def sink(self) -> SipSink:
        """Bot side."""
        self.sink_stage = SipSink(self)
        return self.sink_stage

    @property
    def playing_seconds(self) -> float:
        """Bot audio queued for the caller and not played yet."""
        sink = self.sink_stage
        if sink is None or sink._playout is None:
            return 0.0
        return sink.playout.buffered_seconds + len(sink.fifo) / 2 / 8000


class SipSource(Source):
    """Caller audio and DTMF from the call's RTP stream."""

    outputs = (UserAudioFrame, DTMFFrame)

    def __init__(self, transport: SipTransport) -> None:
        super().__init__(name="SipSource")
        self.t = transport

    async def produce(self) -> None:
        """Emit 20 ms caller frames until the call ends or its RTP times out."""
        t, call = self.t, self.t.call
        media = call.media
        resample = StreamResampler(8000, t.sample_rate)
        position = 0  # caller samples emitted, at the pipeline rate
        tick = 0
        silence = bytes(2 * SAMPLES_PER_PACKET)
        while not call.ended.is_set():
            tick += 1
            due = tick * PACKET_SECONDS
            if self.clock.now() - due > PACKET_SECONDS:
                t.late_ticks += 1
            await self.clock.sleep_until(due)
            pcm = resample(media.jitter.read(SAMPLES_PER_PACKET) or silence)
            if pcm:
                frame = UserAudioFrame(
                    pts=position / t.sample_rate,
                    generation=self.generation,
                    pcm=pcm,
                    sample_rate=t.sample_rate,
                )
                position += len(pcm) // 2
                await self.emit(frame)
            while media.digits:
                digit = media.digits.popleft()
                await self.emit(self.frame(DTMFFrame, digit=digit))
            if not media.on_hold and time.monotonic() - media.last_received > t.rtp_timeout:
                await call.hang_up(f"no RTP for {t.rtp_timeout:g}s")
        # the caller is gone: stop whatever reply is in flight so the session ends promptly
        self.interrupt(f"call ended: {call.end_reason}")


class SipSink(PlayoutSink):
    """Bot audio to the caller as paced 20 ms RTP packets."""

    def __init__(self, transport: SipTransport) -> None:
        super().__init__(transport.sample_rate, name="SipSink")
        self.t = transport
        self.fifo = bytearray()
        self._resample = StreamResampler(transport.sample_rate, 8000)
        self._resampling = False

    async def start(self) -> None:
        """Start the 20 ms output clock."""
        self.spawn(self._play, service=True)

    async def _play(self) -> None:
        call, media = self.t.call, self.t.call.media
        per_tick = self.t.sample_rate // 50
        tick = 0
        start = self.clock.now()
        while not call.ended.is_set():
            tick += 1
            await self.clock.sleep_until(start + tick * PACKET_SECONDS)
            chunk = self.playout.read(per_tick)
            if chunk is not None:
                self.fifo += self._resample(chunk)
                self._resampling = True
            elif self._resampling:  # the reply ended: flush the resampler's tail
                self.fifo += self._resample(b"", last=True)
                self._resample = StreamResampler(self.t.sample_rate, 8000)
                self._resampling = False
            packet: bytes | None = None
            if self.fifo:
                size = 2 * SAMPLES_PER_PACKET
                packet = bytes(self.fifo[:size]).ljust(size, b"\0")
                del self.fifo[:size]
            await media.send_pcm(packet)

    async def on_interrupt(self, frame: Interrupt) -> None:
        """Barge-in: drop queued audio, including what is already resampled."""
        await super().on_interrupt(frame)
        self.fifo.clear()
        self._resample = StreamResampler(self.t.sample_rate, 8000)
        self._resampling = False

    async def process(self, frame: Frame) -> None:
        """Queue bot audio (dropped once the caller is gone)."""
        if not self.t.call.ended.is_set():
            await super().process(frame)

    async def finish(self) -> None:
        """End of the session: let the queued reply play out (bounded) unless the call is over."""
        deadline = self.clock.now() + self.t.playing_seconds + 1.0
        while self.t.playing_seconds > 0 and not self.t.call.ended.is_set() and self.clock.now() < deadline:
            await self.clock.sleep(PACKET_SECONDS)
        await anyio.lowlevel.checkpoint()
