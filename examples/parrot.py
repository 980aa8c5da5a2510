"""A framework demo without models: a parrot that repeats each caller utterance back.

    python examples/parrot.py examples/question.wav out/parrot.wav

Shows a custom stage on the file transport: energy-based segmentation of the caller's audio and
a reply made of the caller's own voice, written to ``out/parrot.wav`` (+ ``.conversation.wav``,
``.json``).
"""

from __future__ import annotations

import sys

import anyio
import numpy as np

from cascade import Pipeline, Stage
from cascade.frames import BotAudioFrame, Frame, UserAudioFrame
from cascade.transports.file import FileTransport


class Parrot(Stage):
    """Collects loud audio; after ``silence`` seconds of quiet, plays it back."""

    inputs = (UserAudioFrame,)
    outputs = (BotAudioFrame,)

    def __init__(self, threshold: float = 0.02, silence: float = 0.6) -> None:
        super().__init__()
        self.threshold, self.silence = threshold, silence
        self.heard: list[bytes] = []
        self.quiet = 0.0
        self.replies = 0

    async def process(self, frame: Frame) -> None:
        assert isinstance(frame, UserAudioFrame)
        loud = float(np.sqrt(np.mean(frame.floats() ** 2))) > self.threshold
        if loud:
            self.heard.append(frame.pcm)
            self.quiet = 0.0
        elif self.heard:
            self.quiet += frame.duration
            if self.quiet >= self.silence:
                await self.reply(frame)

    async def reply(self, frame: UserAudioFrame) -> None:
        pcm, self.heard = b"".join(self.heard), []
        rid = f"parrot-{self.replies}"
        self.replies += 1
        self.ctx.metrics.mark("user_speech_end", frame.pts - self.silence)
        step = frame.sample_rate // 50 * 2  # 20 ms
        for start in range(0, len(pcm), step):
            chunk = pcm[start : start + step]
            await self.emit(
                BotAudioFrame(pts=frame.pts, pcm=chunk, sample_rate=frame.sample_rate, response_id=rid)
            )
        await self.emit(BotAudioFrame(pts=frame.pts, pcm=b"", response_id=rid, text="(parrot)", last=True))


async def main(question: str, reply: str) -> None:
    ctx = await Pipeline([Parrot()]).run(FileTransport(question, reply))
    for turn in ctx.metrics.timelines:
        print(f"turn {turn.turn}: bot audio {turn.voice_to_voice:.2f} s after the caller stopped")
    print(f"wrote {reply}")


if __name__ == "__main__":
    anyio.run(main, *(sys.argv[1:3] or ["examples/question.wav", "out/parrot.wav"]))
