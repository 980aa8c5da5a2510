"""The bot's own voice coming back on a real line: SIPp echoes the bridge's RTP (``-rtp_echo``)
through a line that delays it and scales its G.711 samples, as a phone without echo cancellation
returns it. The agent's real VAD, recognizer, turn-taker and voice run behind the bridge.

With the echo alone the bot says its whole greeting; a caller talking over that echo (a recorded
Asterisk prompt mixed into the returning stream) interrupts it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cascade.agent.agent import Greeter
from cascade.audio import load_audio
from cascade.frames import BotSpeechEnded, EndOfTurn, Frame, Interrupt, SpeechStarted
from cascade.pipeline import Pipeline
from cascade.stage import Stage
from cascade.testing.fakes import FakeLLM
from cascade.testing.sip_peers.line import EchoLine
from cascade.testing.sip_peers.ports import free_media_ports
from cascade.testing.sip_peers.sipp import question_scenario
from cascade.transports.sip import CallInfo
from tests.sip.conftest import run_sipp, running_bridge, wait_until
from tests.sip.helpers import SOUNDS

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

Check = Callable[[Callable[[], Awaitable[None]]], Awaitable[None]]

GREETING = "Thanks for calling the Harbour Bakery. We open at nine and close at six, Monday to Friday."
CALLER = SOUNDS / "vm-enter-num-to-call.wav"  # "Please enter the number you wish to call."


class Probe(Stage):
    """Notes what the turn-taker heard and did: the VAD's speech starts, turns, interrupts, and
    how each of the bot's replies ended."""

    inputs = (SpeechStarted, EndOfTurn)
    events = (BotSpeechEnded,)

    def __init__(self) -> None:
        super().__init__(name="Probe")
        self.speech_starts = 0
        self.turns: list[str] = []
        self.interrupts: list[str] = []
        self.ended: list[BotSpeechEnded] = []

    async def process(self, frame: Frame) -> None:
        """Count and pass on."""
        if isinstance(frame, SpeechStarted):
            self.speech_starts += 1
        elif isinstance(frame, EndOfTurn):
            self.turns.append(frame.text)
        await self.emit(frame)

    async def on_event(self, frame: Frame) -> None:
        """A reply stopped playing."""
        assert isinstance(frame, BotSpeechEnded)
        self.ended.append(frame)

    async def on_interrupt(self, frame: Interrupt) -> None:
        """The session started a new generation."""
        self.interrupts.append(frame.reason)


@pytest.fixture(scope="module")
def agent_models() -> dict[str, Any]:
    """The shipped models the agent runs, loaded once: Whisper, Smart Turn, the text turn model
    and the hibari voice."""
    from cascade.asr.engine import WhisperEngine
    from cascade.tts.hibari import HibariEngine
    from cascade.turn.smart_turn import SmartTurnDetector
    from cascade.turn.text_turn import TextTurnDetector

    asr = WhisperEngine()
    _ = asr.loaded
    models: dict[str, Any] = {"asr": asr, "smart_turn": SmartTurnDetector(), "text_turn": TextTurnDetector()}
    models["tts"] = HibariEngine()
    for name in ("smart_turn", "text_turn", "tts"):
        models[name].load()
    return models


def agent(models: dict[str, Any], probes: list[Probe]) -> Callable[[CallInfo], Pipeline]:
    """The agent's listening side and voice as the phone agent builds them, behind a greeting; the
    LLM is scripted (what it says does not matter here, only whether the greeting is cut)."""
    from cascade.asr.stage import WhisperASR
    from cascade.tts.hibari import HibariTTS
    from cascade.turn.taker import TurnTaker
    from cascade.vad import SileroVAD

    def factory(info: CallInfo) -> Pipeline:
        probe = Probe()
        probes.append(probe)
        turn = TurnTaker(model=models["smart_turn"], text_model=models["text_turn"])
        return Pipeline(
            [
                Greeter(GREETING),
                SileroVAD(),
                WhisperASR(engine=models["asr"]),
                turn,
                probe,
                FakeLLM("All right, what can I do for you?"),
                HibariTTS(engine=models["tts"]),
            ]
        )

    return factory


async def call_over_the_line(
    tmp_path: Path, models: dict[str, Any], line_delay: float, gain: float, caller: np.ndarray | None
) -> tuple[Probe, EchoLine]:
    """One call: SIPp answers the bridge's audio with itself through the line; ``caller`` (8 kHz)
    is mixed in 1.5 s after the bot's voice first reaches the line."""
    probes: list[Probe] = []
    media = free_media_ports()
    with EchoLine(media, delay=line_delay, gain=gain) as line:
        if caller is not None:
            line.speak(caller, after_bot=1.5)
        async with running_bridge(agent(models, probes)) as bridge:
            scenario = question_scenario(None, line.port, 7000)
            await run_sipp(scenario, bridge.port, tmp_path, media_port=media, extra=("-rtp_echo",))
            await wait_until(lambda: bool(bridge.finished), 10)
    (probe,) = probes
    record = bridge.finished[0]
    assert record.end_reason == "caller hung up" and not record.error, record
    # the line carried the bot's voice to SIPp and SIPp's copy back, the whole call long
    assert line.log.bot_voice_at is not None, "the bot never spoke"
    assert line.log.returned > 0.8 * len(line.log.to_peer), (line.log.returned, len(line.log.to_peer))
    return probe, line


@pytest.mark.parametrize(("line_delay", "gain"), [(0.06, 0.5), (0.24, 0.35)])
async def test_the_bots_own_echo_does_not_interrupt_it(
    tmp_path: Path, agent_models: dict[str, Any], line_delay: float, gain: float
) -> None:
    probe, _ = await call_over_the_line(tmp_path, agent_models, line_delay, gain, caller=None)
    assert probe.speech_starts >= 1, "the echo never reached the VAD as speech: nothing was tested"
    (greeting,) = [e for e in probe.ended if e.response_id == "greeting"]
    assert not greeting.interrupted and greeting.heard_text.split() == GREETING.split()
    assert "barge-in" not in probe.interrupts and probe.turns == [], (probe.interrupts, probe.turns)


async def test_the_caller_talking_over_the_echo_interrupts_the_bot(
    tmp_path: Path, agent_models: dict[str, Any]
) -> None:
    caller = load_audio(CALLER, 8000)
    probe, line = await call_over_the_line(tmp_path, agent_models, 0.15, 0.5, caller=caller)
    assert line.log.speech_at is not None, "the caller's voice was never mixed in"
    (greeting,) = [e for e in probe.ended if e.response_id == "greeting"]
    assert greeting.interrupted, greeting
    heard = greeting.heard_text.split()
    assert 0 < len(heard) < len(GREETING.split()) and GREETING.startswith(" ".join(heard))
    assert "barge-in" in probe.interrupts
    assert probe.turns and "number" in " ".join(probe.turns).lower(), probe.turns
