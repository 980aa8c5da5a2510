"""Scripted caller input for turn-taking tests: audio, VAD events, transcripts, bot playback."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from cascade.frames import (
    BotAudioFrame,
    FinalTranscript,
    Frame,
    PartialTranscript,
    SessionPlaysAudio,
    SpeechStarted,
    SpeechStopped,
    UserAudioFrame,
)
from cascade.session import SessionContext

RATE = 16000
HOP = 0.02


def speechlike(seconds: float, seed: int = 0, level: float = 0.3) -> np.ndarray:
    """Noise with a syllable-rate (4 Hz) envelope: energy that goes up and down like speech."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    t = np.arange(n) / RATE
    envelope = 0.35 + 0.65 * (0.5 + 0.5 * np.sin(2 * np.pi * (3.0 + seed % 3) * t + seed))
    return (rng.standard_normal(n) * level * envelope**2).astype(np.float32)


def caller_frames(
    total: float, spans: Iterable[tuple[float, float]] = (), *, audio: np.ndarray | None = None, seed: int = 0
) -> list[Frame]:
    """``total`` seconds of 20 ms caller frames: speech-like in ``spans``, quiet noise elsewhere.

    ``audio`` (float, 16 kHz) is mixed in from time 0 when given (echo, recordings).
    """
    n = round(total * RATE)
    rng = np.random.default_rng(1000 + seed)
    signal = (rng.standard_normal(n) * 0.0005).astype(np.float32)
    for i, (start, end) in enumerate(spans):
        a, b = round(start * RATE), round(end * RATE)
        signal[a:b] += speechlike(end - start, seed=seed + i)[: b - a]
    if audio is not None:
        m = min(n, len(audio))
        signal[:m] += audio[:m]
    pcm = (np.clip(signal, -1, 1) * 32767).astype(np.int16)
    step = round(HOP * RATE)
    return [
        UserAudioFrame(pts=i * HOP, pcm=pcm[i * step : (i + 1) * step].tobytes(), sample_rate=RATE)
        for i in range(n // step)
    ]


def vad(spans: Iterable[tuple[float, float]], *, delay: float = 0.2) -> list[tuple[float, Frame]]:
    """SpeechStarted/SpeechStopped around ``spans``, each stop confirmed ``delay`` s after it."""
    out: list[tuple[float, Frame]] = []
    for start, end in spans:
        out.append((start, SpeechStarted(pts=start)))
        out.append((end + delay, SpeechStopped(pts=end, speech_start=start)))
    return out


def plays_audio(ctx: SessionContext) -> None:
    """Tell the session that the bot's audio is played (what a transport's playout sink does)."""
    ctx.broadcast(SessionPlaysAudio())


def partial(t: float, text: str) -> PartialTranscript:
    return PartialTranscript(pts=t, text=text)


def final(t: float, text: str) -> FinalTranscript:
    return FinalTranscript(pts=t, text=text)


def late(arrival: float, frame: Frame) -> tuple[float, Frame]:
    """Deliver ``frame`` at ``arrival`` (e.g. a SpeechStopped confirmed after some silence)."""
    return (arrival, frame)


def timeline(*groups: Iterable[Frame | tuple[float, Frame]]) -> list[Frame]:
    """Merge frames in arrival order (their ``pts`` unless given by :func:`late`).

    At equal times audio comes first, then events. The list source delivers a frame whose
    ``pts`` has passed right after the one before it, so late frames keep their true ``pts``.
    """
    items: list[tuple[float, bool, int, Frame]] = []
    for group in groups:
        for item in group:
            arrival, frame = item if isinstance(item, tuple) else (item.pts, item)
            items.append((arrival, not isinstance(frame, UserAudioFrame), len(items), frame))
    return [frame for *_, frame in sorted(items, key=lambda x: x[:3])]


def bot_reply_frames(
    text: str, *, start: float, response_id: str = "r1", word_seconds: float = 0.3
) -> list[Frame]:
    """TTS-like output for ``text`` (one chunk per word, speech-like audio), emitted at ``start``."""
    frames: list[Frame] = []
    for i, word in enumerate(text.split()):
        audio = speechlike(word_seconds, seed=50 + i)
        frames.append(
            BotAudioFrame(
                pts=start,
                pcm=(audio * 32767).astype(np.int16).tobytes(),
                sample_rate=RATE,
                response_id=response_id,
                text=word + " ",
            )
        )
    frames.append(BotAudioFrame(pts=start, pcm=b"", sample_rate=RATE, response_id=response_id, last=True))
    return frames
