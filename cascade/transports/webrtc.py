"""WebRTC transport (aiortc): one browser call per :class:`WebRTCTransport`.

Caller audio arrives as Opus at 48 kHz, is mixed to mono and resampled to the pipeline's rate; bot
audio leaves through :class:`~cascade.transports.webrtc_track.PlayoutTrack`, which aiortc's sender
pulls every 20 ms: each pull waits for the next tick of the session clock, takes 20 ms from the
sink's :class:`~cascade.transports.playout.Playout` and resamples it to 48 kHz. An interrupt flushes
both the playout buffer and the few milliseconds held for resampling, so the caller hears silence on
the next tick.

A data channel (opened by the page) carries live events as JSON objects with a ``type``:

=================  =============================================================================
``session``        ``id``: the channel is attached to session ``id``
``speech_started`` ``t``: the caller started speaking (VAD)
``speech_stopped`` ``t``: the caller stopped speaking
``partial``        ``text``, ``committed``: interim transcript of the caller's turn
``final``          ``text``: final transcript of a caller utterance
``end_of_turn``    ``text``: the bot decided to answer
``bot_text``       ``response_id``, ``text``: the whole reply the LLM generated
``bot_started``    ``response_id``: the bot started speaking
``bot_words``      ``response_id``, ``text``: words as their audio starts playing
``bot_ended``      ``response_id``, ``heard_text``, ``interrupted``
``interrupt``      ``reason``, ``dropped_seconds``: playback was flushed (barge-in)
``turn``           a finished turn's latency timeline (:meth:`TurnTimeline.summary`)
``error``          ``stage``, ``message``: a non-fatal problem
``bye``            ``reason``: the session is ending
=================  =============================================================================

Every event also has ``t``, the session time in seconds. The page may send ``{"type": "hangup"}``.
The tracks are in :mod:`cascade.transports.webrtc_track`; signaling and the HTTP app in
:mod:`cascade.transports.webrtc_signaling`, the sessions it runs in
:mod:`cascade.transports.webrtc_sessions`.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from cascade.audio import StreamResampler
from cascade.clock import Clock, RealClock
from cascade.frames import (
    BotAudioFrame,
    BotSpeechEnded,
    BotSpeechStarted,
    EndOfTurn,
    ErrorFrame,
    FinalTranscript,
    Frame,
    Interrupt,
    LLMResponseEnded,
    PartialTranscript,
    SpeechStarted,
    SpeechStopped,
    UserAudioFrame,
)
from cascade.metrics import TurnTimeline
from cascade.session_info import SessionInfo
from cascade.stage import FrameTypes
from cascade.transport import Source, Transport
from cascade.transports.playout import PlayoutSink
from cascade.transports.webrtc_track import PlayoutTrack, to_mono_s16

log = logging.getLogger("cascade.webrtc")

RESYNC_AFTER = 0.2
"""Caller audio lagging the clock by more than this (lost packets, stalls) re-anchors its pts."""
MAX_QUEUED_EVENTS = 256


class WebRTCTransport(Transport):
    """One browser call: the caller's incoming audio track, the bot's outgoing track, events.

    Built by :class:`~cascade.transports.webrtc_signaling.WebRTCServer` for each accepted offer;
    ``Pipeline.run(transport)`` runs the conversation. ``remote_track`` is the caller's aiortc
    track; ``output`` must be added to the peer connection before the answer is created.
    """

    kind = "webrtc"

    def __init__(
        self,
        remote_track: MediaStreamTrack,
        *,
        sample_rate: int = 16000,
        session_id: str = "",
        clock: Clock | None = None,
    ) -> None:
        self.remote_track = remote_track
        self.sample_rate = sample_rate
        self.session_id = session_id
        self.session_clock: Clock = clock or RealClock()
        self.clock = self.session_clock
        self.output = PlayoutTrack(self.session_clock, sample_rate)
        self.channel: Any = None
        self.hung_up = False
        self.received_seconds = 0.0
        """Caller audio received so far (at the pipeline rate)."""
        self._queued: deque[str] = deque(maxlen=MAX_QUEUED_EVENTS)
        self._input_scope: anyio.CancelScope | None = None

    def session_info(self) -> SessionInfo:
        """The session's id (the one the page was answered with)."""
        if not self.session_id:
            return super().session_info()
        return SessionInfo(session_id=self.session_id, transport=self.kind)

    def source(self) -> WebRTCSource:
        """The caller side: decoded, resampled audio from the browser."""
        return WebRTCSource(self)

    def sink(self) -> WebRTCSink:
        """The bot side: paced playback, flush on interrupt, events to the page."""
        return WebRTCSink(self)

    def attach_channel(self, channel: Any) -> None:
        """Use ``channel`` (an aiortc RTCDataChannel) for events; sends what was queued."""
        self.channel = channel

        def flush_queue() -> None:
            while self._queued and channel.readyState == "open":
                channel.send(self._queued.popleft())

        channel.on("open", flush_queue)
        self.send_event({"type": "session", "id": self.session_id})
        flush_queue()

    def send_event(self, event: dict[str, Any]) -> None:
        """Send a JSON event to the page (queued until the data channel is open)."""
        event.setdefault("t", round(self.session_clock.now(), 3))
        text = json.dumps(event)
        channel = self.channel
        if channel is not None and channel.readyState == "open" and not self._queued:
            channel.send(text)
        elif channel is None or channel.readyState in ("connecting", "open"):
            self._queued.append(text)

    def end_input(self) -> None:
        """Hang up: the source stops, the pipeline drains and the session ends."""
        self.hung_up = True
        if self._input_scope is not None:
            self._input_scope.cancel()

    def stop_tracks(self) -> None:
        """End both media tracks (after the peer connection closed)."""
        self.output.stop()
        self.remote_track.stop()


class WebRTCSource(Source):
    """Reads the caller's track: mono, pipeline rate, pts on the session clock."""

    outputs = (UserAudioFrame,)

    def __init__(self, transport: WebRTCTransport) -> None:
        super().__init__(name="WebRTCSource")
        self.t = transport
        self._resampler: StreamResampler | None = None
        self._position = 0.0

    async def produce(self) -> None:
        """Forward caller audio until hang-up or the track ends."""
        with anyio.CancelScope() as scope:
            self.t._input_scope = scope
            if self.t.hung_up:
                return
            while True:
                try:
                    frame = await self.t.remote_track.recv()
                except MediaStreamError:
                    return
                if isinstance(frame, av.AudioFrame):
                    await self._forward(frame)

    async def _forward(self, frame: av.AudioFrame) -> None:
        if self._resampler is None:
            self._resampler = StreamResampler(frame.sample_rate, self.t.sample_rate)
            self._position = max(0.0, self.clock.now() - frame.samples / frame.sample_rate)
        pcm = self._resampler(to_mono_s16(frame).tobytes())
        if not pcm:
            return
        duration = len(pcm) / 2 / self.t.sample_rate
        now = self.clock.now()
        if now - (self._position + duration) > RESYNC_AFTER:
            self._position = now - duration  # lost audio: keep caller time on the session clock
        pts, self._position = self._position, self._position + duration
        self.t.received_seconds += duration
        await self.emit(self.frame(UserAudioFrame, pts=pts, pcm=pcm, sample_rate=self.t.sample_rate))


@dataclass
class _Spoken:
    response_id: str
    text: str
    samples: int


class WebRTCSink(PlayoutSink):
    """Feeds the outgoing track and tells the page what happens, as it happens."""

    inputs: FrameTypes = (
        BotAudioFrame,
        SpeechStarted,
        SpeechStopped,
        PartialTranscript,
        FinalTranscript,
        EndOfTurn,
        LLMResponseEnded,
        ErrorFrame,
    )
    events: FrameTypes = (*PlayoutSink.events, BotSpeechStarted, BotSpeechEnded)

    def __init__(self, transport: WebRTCTransport) -> None:
        super().__init__(transport.sample_rate, name="WebRTCSink")
        self.t = transport
        self._spoken: deque[_Spoken] = deque()
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        """Attach to the outgoing track and subscribe to turn metrics."""
        self._unsubscribe = self.ctx.metrics.subscribe(self._on_turn)
        self.t.output.pull = self._pull

    def _pull(self, num_samples: int) -> bytes | None:
        pcm = self.playout.read(num_samples)
        if pcm is None:
            return None
        remaining = num_samples
        while self._spoken and remaining > 0:
            head = self._spoken[0]
            if head.text:  # its audio starts now: the caller begins to hear these words
                self.t.send_event({"type": "bot_words", "response_id": head.response_id, "text": head.text})
                head.text = ""
            used = min(head.samples, remaining)
            head.samples -= used
            remaining -= used
            if head.samples == 0:
                self._spoken.popleft()
        return pcm

    async def process(self, frame: Frame) -> None:
        """Bot audio to the playout; everything else to the page."""
        send = self.t.send_event
        if isinstance(frame, BotAudioFrame):
            await super().process(frame)
            if frame.num_samples or frame.text:
                self._spoken.append(_Spoken(frame.response_id, frame.text, frame.num_samples))
        elif isinstance(frame, SpeechStarted):
            send({"type": "speech_started", "t": round(frame.pts, 3)})
        elif isinstance(frame, SpeechStopped):
            send({"type": "speech_stopped", "t": round(frame.pts, 3)})
        elif isinstance(frame, PartialTranscript):
            send({"type": "partial", "text": frame.text, "committed": frame.committed})
        elif isinstance(frame, FinalTranscript):
            send({"type": "final", "text": frame.text})
        elif isinstance(frame, EndOfTurn):
            send({"type": "end_of_turn", "text": frame.text})
        elif isinstance(frame, LLMResponseEnded):
            send({"type": "bot_text", "response_id": frame.response_id, "text": frame.text})
            await super().process(frame)
        elif isinstance(frame, ErrorFrame):
            send({"type": "error", "stage": frame.stage, "message": frame.message})

    async def on_event(self, frame: Frame) -> None:
        """Follow playback holds; tell the page playback started/ended, with what was heard."""
        await super().on_event(frame)
        if isinstance(frame, BotSpeechStarted):
            self.t.send_event({"type": "bot_started", "response_id": frame.response_id})
        elif isinstance(frame, BotSpeechEnded):
            self.t.send_event(
                {
                    "type": "bot_ended",
                    "response_id": frame.response_id,
                    "heard_text": frame.heard_text,
                    "interrupted": frame.interrupted,
                }
            )

    async def on_interrupt(self, frame: Interrupt) -> None:
        """Barge-in: silence on the next 20 ms tick."""
        dropped = self.playout.flush()
        self.t.output.flush()
        self._spoken.clear()
        self.t.send_event({"type": "interrupt", "reason": frame.reason, "dropped_seconds": round(dropped, 3)})

    async def finish(self) -> None:
        """End of input: let queued audio play out (bounded), unless the caller hung up."""
        deadline = self.clock.now() + self.playout.buffered_seconds + 1.0
        while not self.t.hung_up and self.playout.buffered_seconds > 0 and self.clock.now() < deadline:
            await self.clock.sleep(self.t.output.frame_seconds)

    async def close(self) -> None:
        """Detach from the track and the metrics."""
        self.t.output.pull = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_turn(self, timeline: TurnTimeline) -> None:
        self.t.send_event({"type": "turn", **timeline.summary()})
