"""Jitter buffer: reorders RTP audio by timestamp and hands it out at the listener's pace.

Packets are stored by their (unwrapped) RTP timestamp. Reading starts once ``target`` seconds are
buffered; after that every read takes exactly the requested number of samples from a playout
cursor that moves in step with the reader, so late and lost packets become silence (never a stall),
and a burst of early packets waits in the buffer. If the buffer grows beyond ``max_delay`` (the
sender's clock runs fast, or a burst arrived) the cursor jumps ahead to ``target`` behind the
newest audio; a large timestamp jump (a new stream) restarts the buffer.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class JitterStats:
    """Counters for diagnostics and benchmarks."""

    received: int = 0
    late: int = 0
    duplicate: int = 0
    concealed_samples: int = 0
    skipped_samples: int = 0
    resets: int = 0


@dataclass
class JitterBuffer:
    """Timestamp-ordered audio buffer (mono s16le, one clock rate).

    Args:
        rate: RTP clock rate (8000 for G.711).
        target: playout delay in seconds before reading starts.
        max_delay: buffered seconds beyond which the cursor skips ahead.
        reset_after: a timestamp jump larger than this (seconds) restarts the buffer.
    """

    rate: int = 8000
    target: float = 0.06
    max_delay: float = 0.3
    reset_after: float = 2.0
    stats: JitterStats = field(default_factory=JitterStats)
    _packets: dict[int, bytes] = field(default_factory=dict)
    _cursor: int | None = None
    _last_raw: int | None = None
    _last_ext: int = 0

    def _unwrap(self, timestamp: int) -> int:
        if self._last_raw is None:
            self._last_raw, self._last_ext = timestamp, timestamp
            return timestamp
        delta = (timestamp - self._last_raw) & 0xFFFFFFFF
        if delta >= 0x80000000:
            delta -= 0x100000000
        ext = self._last_ext + delta
        if delta > 0:
            self._last_raw, self._last_ext = timestamp, ext
        return ext

    def put(self, timestamp: int, pcm: bytes) -> None:
        """Add a decoded packet (s16le) whose first sample has RTP ``timestamp``."""
        self.stats.received += 1
        ts = self._unwrap(timestamp)
        if self._cursor is not None and abs(ts - self._cursor) > self.reset_after * self.rate:
            self.stats.resets += 1
            self._packets.clear()
            self._cursor = None
            self._last_raw, self._last_ext = timestamp, ts
        if self._cursor is not None and ts + len(pcm) // 2 <= self._cursor:
            self.stats.late += 1
            return
        if ts in self._packets:
            self.stats.duplicate += 1
            return
        self._packets[ts] = pcm

    @property
    def buffered_seconds(self) -> float:
        """Audio span from the cursor (or the oldest packet) to the end of the newest packet."""
        if not self._packets:
            return 0.0
        newest = max(self._packets)
        end = newest + len(self._packets[newest]) // 2
        start = self._cursor if self._cursor is not None else min(self._packets)
        return max(0, end - start) / self.rate

    def read(self, num_samples: int) -> bytes | None:
        """Take ``num_samples`` of audio (gaps filled with silence), or ``None`` before playout starts."""
        if self._cursor is None:
            if not self._packets or self.buffered_seconds < self.target:
                return None
            self._cursor = min(self._packets)
        if self.buffered_seconds > self.max_delay:
            newest = max(self._packets)
            end = newest + len(self._packets[newest]) // 2
            skip_to = end - int(self.target * self.rate)
            self.stats.skipped_samples += skip_to - self._cursor
            self._cursor = skip_to
        out = bytearray()
        cursor = self._cursor
        want_end = cursor + num_samples
        while cursor < want_end:
            pcm = self._packets.pop(cursor, None)
            if pcm is None:
                pcm = self._take_overlapping(cursor)
            if pcm is None:
                nxt = min((ts for ts in self._packets if ts > cursor), default=want_end)
                gap = min(nxt, want_end) - cursor
                out += bytes(2 * gap)
                self.stats.concealed_samples += gap
                cursor += gap
                continue
            take = min(len(pcm) // 2, want_end - cursor)
            out += pcm[: 2 * take]
            if take * 2 < len(pcm):
                self._packets[cursor + take] = pcm[2 * take :]
            cursor += take
        self._cursor = cursor
        for ts in [ts for ts, pcm in self._packets.items() if ts + len(pcm) // 2 <= cursor]:
            del self._packets[ts]
        return bytes(out)

    def _take_overlapping(self, cursor: int) -> bytes | None:
        """A packet that started before ``cursor`` and reaches past it (misaligned sizes)."""
        for ts, pcm in self._packets.items():
            if ts < cursor < ts + len(pcm) // 2:
                del self._packets[ts]
                return pcm[2 * (cursor - ts) :]
        return None

    def reset(self) -> None:
        """Forget everything (a new stream)."""
        self._packets.clear()
        self._cursor = None
        self._last_raw = None
