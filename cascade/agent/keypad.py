"""Keypad input for phone calls: DTMF key presses become a caller turn."""

from __future__ import annotations

from cascade.frames import DTMFFrame, EndOfTurn, Frame
from cascade.stage import Stage


class KeypadInput(Stage):
    """Turns DTMF key presses into a caller turn ("The caller pressed 1 2 on the keypad.").

    Digits are collected until ``#`` or ``timeout`` seconds without a new key.
    """

    inputs = (DTMFFrame,)
    outputs = (EndOfTurn,)

    def __init__(self, timeout: float = 1.5) -> None:
        super().__init__(name="KeypadInput")
        self.timeout = timeout
        self.digits: list[str] = []
        self.last_key = 0.0

    async def start(self) -> None:
        """Start the inter-digit timer."""
        self.spawn(self._timer, service=True)

    async def process(self, frame: Frame) -> None:
        """Collect a digit (forwarded too, for transcripts and other stages)."""
        assert isinstance(frame, DTMFFrame)
        await self.emit(frame)
        if frame.digit == "#":
            await self._flush()
        else:
            self.digits.append(frame.digit)
            self.last_key = self.clock.now()

    async def _timer(self) -> None:
        while True:
            await self.clock.sleep(0.1)
            if self.digits and self.clock.now() - self.last_key >= self.timeout:
                await self._flush()

    async def _flush(self) -> None:
        if not self.digits:
            return
        keys, self.digits = " ".join(self.digits), []
        now = self.clock.now()
        self.ctx.metrics.mark("end_of_turn", now)
        text = f"(The caller pressed {keys} on the keypad.)"
        await self.emit(self.frame(EndOfTurn, pts=now, text=text, reason="dtmf"))
