"""A real headless Chromium talks to ``cascade demo`` in a private network namespace.

The caller's microphone is a recorded question followed, while the bot answers, by a recorded
barge-in. The page records what it sends and hears; the test checks that the bot's speech
arrives after the question and that the barge-in silences it. Screenshots of the page during the
conversation are left in ``build/test-artifacts/webrtc/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.webrtc.browser import (
    ROOT,
    caller_wav,
    demo_server,
    missing_prerequisites,
    network_namespace,
    read_recording,
    run_browser,
)

pytestmark = pytest.mark.integration

ARTIFACTS = ROOT / "build" / "test-artifacts" / "webrtc"
BARGE_IN_SILENCE = 0.8
"""Seconds after the barge-in starts by which the bot must be silent (VAD + turn-taker + flush)."""


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    reason = missing_prerequisites()
    if reason:
        pytest.fail(f"browser test cannot run: {reason}")
    with network_namespace(f"cascade-rtc-{os.getpid()}") as name:
        yield name


@pytest.mark.parametrize(
    ("agent", "barge_in_silence"),
    [
        ("tests.webrtc.agents:scripted", BARGE_IN_SILENCE),
        # real VAD + Whisper + TurnTaker: the bot pauses at the first caller frame after the
        # VAD's onset, but the VAD shares 2 cores with Whisper and Chromium
        ("tests.webrtc.agents:RealStack", 1.5),
    ],
)
def test_browser_hears_the_bot_and_barge_in_silences_it(
    netns: str, agent: str, barge_in_silence: float, tmp_path: Path
) -> None:
    # the real stack answers later than the scripted one (Whisper and Chromium share 2 cores)
    answer_gap = 3.0 if agent.endswith(":scripted") else 6.0
    timeline = caller_wav(tmp_path / "caller.wav", answer_gap=answer_gap)
    log = tmp_path / "server.log"
    with demo_server(netns, agent, log_path=log) as url:
        seconds = 14 + answer_gap
        (page,) = run_browser(netns, url, tmp_path / "caller.wav", tmp_path / "out", seconds=seconds)
    server_log = log.read_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name in ("demo-conversation.png", "demo-final.png", "call0.wav", "call0.json"):
        if (tmp_path / "out" / name).exists():
            prefix = "" if agent.endswith(":scripted") else "real-stack-"
            shutil.copy(tmp_path / "out" / name, ARTIFACTS / (prefix + name))

    assert page["state"] == "connected", f"page state {page['state']}: {page['error']}\n{server_log}"
    assert not page["error"]
    assert (tmp_path / "out" / "demo-conversation.png").stat().st_size > 10_000

    heard = read_recording(page["wav"])
    assert len(heard.mic) >= 2, f"the fake microphone did not play question and barge-in: {heard.mic}"
    question_end = heard.mic[0][1]
    barge_start, barge_end = next((a, b) for a, b in heard.mic if a >= timeline["barge_in_start"] - 0.5)

    answer = [seg for seg in heard.bot if seg[0] > question_end]
    assert answer, f"no bot speech after the question ended at {question_end:.2f}s: {heard.bot}"
    assert answer[0][0] - question_end < 5.0
    assert heard.bot_audio_between(barge_start - 1.0, barge_start) > 0.5, (
        "the bot was not speaking at the barge-in"
    )
    silent_from = barge_start + barge_in_silence
    assert heard.bot_audio_between(silent_from, barge_end) < 0.05, (
        f"bot still audible after the barge-in at {barge_start:.2f}s: {heard.bot}"
    )

    kinds = [e["type"] for e in page["events"]]
    for expected in ("session", "speech_started", "final", "bot_started", "bot_words", "turn", "interrupt"):
        assert expected in kinds
    assert any(e["type"] == "bot_ended" and e["interrupted"] for e in page["events"])
    # the page hung up at the end: the server tore the session down
    assert "ending (hung up by the client)" in server_log
    assert "closed after" in server_log
