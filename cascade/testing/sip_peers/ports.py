"""Free loopback ports for the bridge and its peers (SIP listens on UDP and TCP, RTP wants even ports)."""

from __future__ import annotations

import socket


def free_port(kind: int = socket.SOCK_DGRAM, host: str = "127.0.0.1", even: bool = False) -> int:
    """A currently free port on ``host`` (UDP by default; ``even`` for RTP)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if not even or port % 2 == 0:
            return port
    raise OSError("no free port found")


def free_media_ports(count: int = 4, host: str = "127.0.0.1") -> int:
    """An even UDP port ``p`` with ``p .. p + count - 1`` all free (SIPp's ``-mp`` takes audio
    RTP/RTCP and video RTP/RTCP from there)."""
    for _ in range(100):
        base = free_port(socket.SOCK_DGRAM, host, even=True)
        held: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(sock)
                sock.bind((host, port))
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
        return base
    raise OSError(f"no {count} consecutive free UDP ports found")


def free_port_both(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP (SIP listens on both)."""
    for _ in range(100):
        port = free_port(socket.SOCK_DGRAM, host)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                tcp.bind((host, port))
            except OSError:
                continue
        return port
    raise OSError("no port free for both UDP and TCP")
