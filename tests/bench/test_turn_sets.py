"""The turn-set builders' labels: pause spans are exact, and the dev and test sets share no prompt."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def builder(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("build_turn_manifests")


def test_pause_spans_are_the_silences_between_the_parts(builder: ModuleType) -> None:
    rate = builder.RATE
    parts = [np.full(n, 0.5, np.float32) for n in (7001, 12345, 4000)]
    audio, spans, end = builder.join_with_pauses(parts, [0.7, 1.2345], lead=0.4, tail=2.0)
    assert len(spans) == 2
    ms = rate // 1000  # the labels are in milliseconds
    for start, stop in spans:
        a, b = round(start * rate), round(stop * rate)
        assert audio[a - ms - 1] == 0.5 and audio[b + ms] == 0.5  # speech up to the span, and after
        assert not audio[a + ms : b - ms].any()
    assert spans[0][1] - spans[0][0] == pytest.approx(0.7, abs=1e-3)
    assert end == pytest.approx(0.4 + sum(len(p) for p in parts) / rate + 0.7 + 1.2345, abs=1e-3)
    assert audio[round(end * rate) - ms - 1] == 0.5 and not audio[round(end * rate) + ms :].any()
    assert len(audio) == pytest.approx((end + 2.0) * rate, abs=ms)


def test_asterisk_prompts_split_into_fixed_halves(builder: ModuleType) -> None:
    names = [f"prompt-{i}" for i in range(400)]
    halves = [builder.asterisk_half(n) for n in names]
    assert set(halves) == {"dev", "test"}
    assert 150 < halves.count("test") < 250
    assert halves == [builder.asterisk_half(n) for n in names]
