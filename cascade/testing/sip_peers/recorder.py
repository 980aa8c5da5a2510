"""An RTP recorder: the caller's ear, keeping every packet the bridge sends with its arrival time."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from cascade.transports.sip.g711 import G711Codec
from cascade.transports.sip.rtp import RtpError, RtpPacket


@dataclass
class RecordedStream:
    """What one sender (by address) sent to the recorder."""

    packets: list[tuple[float, RtpPacket]] = field(default_factory=list)

    def audio(self, codec: str = "PCMU") -> np.ndarray:
        """The decoded 8 kHz audio, placed by RTP timestamp (gaps are silence)."""
        g711 = G711Codec(codec)
        media = [p for _, p in self.packets if p.payload_type == g711.payload_type]
        if not media:
            return np.zeros(0, np.int16)
        first = media[0].timestamp
        end = max(((p.timestamp - first) & 0xFFFFFFFF) + len(p.payload) for p in media)
        out = np.zeros(end, np.int16)
        for p in media:
            offset = (p.timestamp - first) & 0xFFFFFFFF
            out[offset : offset + len(p.payload)] = np.frombuffer(g711.decode(p.payload), np.int16)
        return out

    def first_voice_time(
        self, threshold: float = 0.02, after: float = 0.0, codec: str = "PCMU"
    ) -> float | None:
        """Arrival time (epoch seconds) of the first packet louder than ``threshold`` RMS after ``after``."""
        g711 = G711Codec(codec)
        for arrived, p in self.packets:
            if arrived < after or p.payload_type != g711.payload_type:
                continue
            samples = np.frombuffer(g711.decode(p.payload), np.int16).astype(np.float32) / 32768
            if samples.size and float(np.sqrt(np.mean(samples**2))) > threshold:
                return arrived
        return None

    def gaps(self) -> np.ndarray:
        """Inter-arrival times between packets, in seconds."""
        times = np.array([t for t, _ in self.packets])
        return np.diff(times) if len(times) > 1 else np.zeros(0)


class RtpRecorder:
    """A UDP socket that records every RTP packet with its arrival time, per sender address.

    Use as a context manager; a background thread receives until :meth:`close`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.streams: dict[tuple[str, int], RecordedStream] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rtp-recorder-{self.port}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, address = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            arrived = time.time()
            try:
                packet = RtpPacket.parse(data)
            except RtpError:
                continue
            with self._lock:
                self.streams.setdefault((address[0], address[1]), RecordedStream()).packets.append(
                    (arrived, packet)
                )

    def stream(self) -> RecordedStream:
        """The single stream recorded (merged if several senders were seen)."""
        with self._lock:
            merged = RecordedStream()
            for s in self.streams.values():
                merged.packets.extend(s.packets)
        merged.packets.sort(key=lambda item: item[0])
        return merged

    def close(self) -> None:
        """Stop receiving and close the socket."""
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def __enter__(self) -> RtpRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
