"""Pipecat 1.14 side of ``latency.py --pipecat`` (runs in Pipecat's venv; cannot import cascade).

    <pipecat venv>/bin/python benchmarks/latency_pipecat.py --whisper DIR --smart-turn FILE \\
        --llm-url URL --model NAME --system-prompt TEXT < sessions.jsonl

``latency.py`` starts this once, then sends one JSON line per session, ``{"session": i, "wavs":
[16 kHz mono int16 WAVs, one per caller turn], "bot_wav": where to write the bot's track}``, and
reads one JSON line back: ``{"session": i, "starts": [session time each WAV started playing],
"events": [[mark, session time], ...]}``. Models are loaded once, before the first session; every
session gets a fresh pipeline and context. A line ``{"ready": true}`` is written once loaded.

The bot is Pipecat's canonical voice pipeline: ``input → WhisperSTTService → user aggregator (Silero
VAD, Smart Turn v3 stop strategy) → OpenAILLMService → TTS → output → assistant aggregator`` on a
``PipelineWorker`` with its defaults (RTVI included; no idle timeout), on the same model files and
LLM server as cascade. Every service keeps Pipecat's defaults except what makes the models the
same: Whisper is loaded once per process with cascade's compute type and shared by the sessions'
``WhisperSTTService``s (which decode each VAD segment with faster-whisper's defaults, beam 5, and
drop segments whose no-speech probability is 0.4 or more). Pipecat has no hibari service, so
:class:`HibariTTSService` wraps hibari the way its Kokoro service wraps kokoro-onnx (one synthesis
per sentence from Pipecat's default sentence aggregation). Whisper and hibari are warmed once
before the first session, as cascade's agent warms its own.

The caller is a real-time input transport: 20 ms frames paced on the event loop's clock, each WAV
followed by silence until the bot has stopped speaking after it (``BotStoppedSpeakingFrame``, at
most ``--reply-timeout`` s), then ``--gap`` s, like cascade's file transport. The output transport
plays like a sound card: ``write_audio_frame`` returns when the chunk starts to play, one chunk
queued; its first write after the bot fell silent is ``first_audio_out``. Other marks come from an
observer (push timestamps on the pipeline clock): ``user_speech_end`` (Pipecat's VAD stop minus
its ``stop_secs``), ``end_of_turn`` (``UserStoppedSpeakingFrame``), ``final_transcript``
(``TranscriptionFrame``), ``llm_first_token`` (first ``LLMTextFrame`` of a response) and
``first_tts_audio`` (first ``TTSAudioRawFrame`` after each ``TTSStartedFrame``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import wave
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

logger.remove()
logger.add(sys.stderr, level="WARNING")

import hibari  # noqa: E402
from faster_whisper import WhisperModel  # noqa: E402
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3  # noqa: E402
from pipecat.audio.utils import create_stream_resampler  # noqa: E402
from pipecat.audio.vad.silero import SileroVADAnalyzer  # noqa: E402
from pipecat.frames.frames import (  # noqa: E402
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    OutputAudioRawFrame,
    StartFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    UserStoppedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed  # noqa: E402
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # noqa: E402
from pipecat.processors.aggregators.llm_context import LLMContext  # noqa: E402
from pipecat.processors.aggregators.llm_response_universal import (  # noqa: E402
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection  # noqa: E402
from pipecat.services.openai.llm import OpenAILLMService  # noqa: E402
from pipecat.services.settings import TTSSettings  # noqa: E402
from pipecat.services.tts_service import TTSService  # noqa: E402
from pipecat.services.whisper.stt import WhisperSTTService  # noqa: E402
from pipecat.transcriptions.language import Language  # noqa: E402
from pipecat.transports.base_input import BaseInputTransport  # noqa: E402
from pipecat.transports.base_output import BaseOutputTransport  # noqa: E402
from pipecat.transports.base_transport import TransportParams  # noqa: E402
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy  # noqa: E402
from pipecat.turns.user_turn_strategies import UserTurnStrategies  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

RATE = 16000
FRAME = RATE // 50


class Session:
    """One session's timeline: the caller's files, the marks, the bot's audio."""

    def __init__(self, wavs: list[np.ndarray], reply_timeout: float, gap: float) -> None:
        self.wavs, self.reply_timeout, self.gap = wavs, reply_timeout, gap
        self.origin = time.monotonic()
        self.starts: list[float] = []
        self.events: list[tuple[str, float]] = []
        self.bot_chunks: list[tuple[float, bytes]] = []
        self.bot_speaking = False
        self.answered = asyncio.Event()
        self.done = asyncio.Event()

    def now(self) -> float:
        return time.monotonic() - self.origin

    def mark(self, name: str, at: float) -> None:
        self.events.append((name, round(at, 4)))

    def bot_track(self) -> np.ndarray:
        end = max((int(t * RATE) + len(pcm) // 2 for t, pcm in self.bot_chunks), default=0)
        track = np.zeros(end, np.int16)
        for t, pcm in self.bot_chunks:
            samples = np.frombuffer(pcm, np.int16)
            track[int(t * RATE) : int(t * RATE) + len(samples)] = samples
        return track


class Caller(BaseInputTransport):
    """Plays the session's WAVs in real time, each once the bot has answered the one before."""

    def __init__(self, session: Session, params: TransportParams) -> None:
        super().__init__(params)
        self.s = session
        self.position = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)
        self._task = self.create_task(self._play())

    async def stop(self, frame: EndFrame) -> None:
        await self._stop_playing()
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame) -> None:
        await self._stop_playing()
        await super().cancel(frame)

    async def _stop_playing(self) -> None:
        if self._task is not None:
            await self.cancel_task(self._task)
            self._task = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, BotStartedSpeakingFrame):
            self.s.bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self.s.bot_speaking = False
            self.s.answered.set()
        await super().process_frame(frame, direction)

    async def _play(self) -> None:
        s, silence = self.s, np.zeros(FRAME, np.int16)
        s.origin = time.monotonic()  # session time 0: the caller's first frame
        for audio in s.wavs:
            s.starts.append(self.position / RATE)
            for begin in range(0, len(audio), FRAME):
                await self._send(audio[begin : begin + FRAME])
            s.answered.clear()  # only a stop after the caller's last word answers this turn
            deadline = s.now() + s.reply_timeout
            while (not s.answered.is_set() or s.bot_speaking) and s.now() < deadline:
                await self._send(silence)
            gap_end = s.now() + s.gap
            while s.now() < gap_end:
                await self._send(silence)
        s.done.set()

    async def _send(self, chunk: np.ndarray) -> None:
        chunk = np.pad(chunk, (0, FRAME - len(chunk)))
        await asyncio.sleep(max(0.0, self.position / RATE - self.s.now()))
        self.position += FRAME
        await self.push_audio_frame(
            InputAudioRawFrame(audio=chunk.tobytes(), sample_rate=RATE, num_channels=1)
        )


class Player(BaseOutputTransport):
    """Plays the bot's chunks on the session timeline like a sound card with one chunk queued."""

    def __init__(self, session: Session, params: TransportParams) -> None:
        super().__init__(params)
        self.s = session
        self.play_until = 0.0
        self.speaking = False

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def push_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> None:
        if isinstance(frame, BotStoppedSpeakingFrame):
            self.speaking = False
        await super().push_frame(frame, direction)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        now = self.s.now()
        if not self.speaking:
            self.speaking = True
            self.s.mark("first_audio_out", now)
        begin = max(now, self.play_until)
        self.s.bot_chunks.append((begin, frame.audio))
        self.play_until = begin + len(frame.audio) / 2 / frame.sample_rate
        await asyncio.sleep(max(0.0, begin - self.s.now()))
        return True


class Marks(BaseObserver):
    """Records the turn's marks at the moment each frame is first pushed (pipeline clock)."""

    def __init__(self, session: Session, llm: Any, tts: Any) -> None:
        super().__init__(observe_every_push=False)
        self.s, self.llm, self.tts = session, llm, tts
        self.llm_started = self.tts_started = False

    async def on_push_frame(self, data: FramePushed) -> None:
        frame = data.frame
        # the push's pipeline-clock time on the session's timeline (observers run behind)
        at = self.s.now() - (data.source.get_clock().get_time() - data.timestamp) / 1e9
        if data.direction != FrameDirection.DOWNSTREAM:
            return
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            self.s.mark("user_speech_end", at - frame.stop_secs)
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self.s.mark("end_of_turn", at)
        elif isinstance(frame, TranscriptionFrame):
            self.s.mark("final_transcript", at)
        elif isinstance(frame, LLMFullResponseStartFrame) and data.source is self.llm:
            self.llm_started = True
        elif isinstance(frame, LLMTextFrame) and data.source is self.llm and self.llm_started:
            self.llm_started = False
            self.s.mark("llm_first_token", at)
        elif isinstance(frame, TTSStartedFrame) and data.source is self.tts:
            self.tts_started = True
        elif isinstance(frame, TTSAudioRawFrame) and data.source is self.tts and self.tts_started:
            self.tts_started = False
            self.s.mark("first_tts_audio", at)


class HibariTTSService(TTSService):
    """hibari-tts as a Pipecat TTS service: one synthesis per aggregated sentence, resampled."""

    def __init__(self, voice: Any, name: str, **kwargs: Any) -> None:
        settings = TTSSettings(model=None, voice=name, language=Language.EN)
        super().__init__(push_start_frame=True, push_stop_frames=True, settings=settings, **kwargs)
        self.voice = voice
        self.resampler = create_stream_resampler()

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        await self.start_tts_usage_metrics(text)
        audio = await asyncio.to_thread(self.voice, text)
        await self.stop_ttfb_metrics()
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
        pcm = await self.resampler.resample(pcm, hibari.SAMPLE_RATE, self.sample_rate)
        yield TTSAudioRawFrame(audio=pcm, sample_rate=self.sample_rate, num_channels=1, context_id=context_id)


class SharedWhisper(WhisperSTTService):
    """WhisperSTTService on a model loaded once per process (as cascade shares its engine)."""

    model: WhisperModel | None = None

    def _load(self) -> None:
        self._model = SharedWhisper.model


async def run_session(args: argparse.Namespace, request: dict[str, Any], voice: Any) -> dict[str, Any]:
    wavs = [read_wav(Path(p)) for p in request["wavs"]]
    session = Session(wavs, args.reply_timeout, args.gap)
    params = TransportParams(audio_in_enabled=True, audio_out_enabled=True, audio_out_end_silence_secs=0)
    caller, player = Caller(session, params), Player(session, params)
    stt = SharedWhisper(settings=WhisperSTTService.Settings(model=args.whisper, language=Language.EN))
    llm = OpenAILLMService(
        base_url=args.llm_url,
        api_key="EMPTY",
        settings=OpenAILLMService.Settings(
            model=args.model,
            system_instruction=args.system_prompt,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
        ),
    )
    tts = HibariTTSService(voice, args.voice)
    context = LLMContext()
    turn = TurnAnalyzerUserTurnStopStrategy(
        turn_analyzer=LocalSmartTurnAnalyzerV3(smart_turn_model_path=args.smart_turn)
    )
    user_params = LLMUserAggregatorParams(
        vad_analyzer=SileroVADAnalyzer(), user_turn_strategies=UserTurnStrategies(stop=[turn])
    )
    pair = LLMContextAggregatorPair(context, user_params=user_params)
    pipeline = Pipeline([caller, stt, pair.user(), llm, tts, player, pair.assistant()])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=RATE, audio_out_sample_rate=RATE),
        observers=[Marks(session, llm, tts)],
        idle_timeout_secs=None,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)

    async def end_when_done() -> None:
        await session.done.wait()
        await worker.queue_frame(EndFrame())

    async with asyncio.TaskGroup() as tg:
        tg.create_task(end_when_done())
        await runner.run()
    write_wav(Path(request["bot_wav"]), session.bot_track())
    return {"session": request["session"], "starts": session.starts, "events": session.events}


def read_wav(path: Path) -> np.ndarray:
    """A 16 kHz mono int16 WAV (``latency.py`` writes the caller's turns this way)."""
    with wave.open(str(path)) as file:
        if file.getframerate() != RATE or file.getnchannels() != 1 or file.getsampwidth() != 2:
            raise SystemExit(f"{path}: expected 16 kHz mono int16")
        return np.frombuffer(file.readframes(file.getnframes()), np.int16)


def write_wav(path: Path, samples: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(RATE)
        file.writeframes(samples.tobytes())


def load(args: argparse.Namespace) -> Any:
    """Load Whisper and hibari once and warm both (cascade's agent loads and warms its own)."""
    SharedWhisper.model = WhisperModel(args.whisper, device="cpu", compute_type=args.compute_type)
    list(SharedWhisper.model.transcribe(np.zeros(RATE, np.float32), language="en")[0])
    voice = hibari.Hibari(voice=args.voice, threads=1)
    voice("Hello.")
    return voice


async def main(args: argparse.Namespace) -> None:
    voice = load(args)
    print(json.dumps({"ready": True}), flush=True)
    while line := await asyncio.to_thread(sys.stdin.readline):
        if line.strip():
            print(json.dumps(await run_session(args, json.loads(line), voice)), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--whisper", required=True, help="CTranslate2 Whisper model directory")
    parser.add_argument("--compute-type", default="int8", help="CTranslate2 compute type")
    parser.add_argument("--smart-turn", required=True, help="Smart Turn v3 ONNX file")
    parser.add_argument("--llm-url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--system-prompt", required=True)
    parser.add_argument("--temperature", type=float, default=0.3)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--voice", default="heart")
    parser.add_argument("--reply-timeout", type=float, default=20.0)
    parser.add_argument("--gap", type=float, default=0.3)
    asyncio.run(main(parser.parse_args()))
