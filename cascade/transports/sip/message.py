"""SIP messages (RFC 3261): parse, inspect and serialize requests and responses.

Parsing is strict about structure (start line, header syntax, Content-Length) and lenient about
what does not matter to a user agent (header case, compact forms, folded lines). Anything that
cannot be understood raises :class:`SipParseError` with a message that names the problem; the
user agent answers it with ``400 Bad Request`` when enough headers survive to address a reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_MESSAGE_BYTES = 65535
"""Largest message accepted (the UDP datagram limit; TCP framing enforces it too)."""
MAX_HEADERS = 128

COMPACT = {
    "v": "Via",
    "f": "From",
    "t": "To",
    "i": "Call-ID",
    "m": "Contact",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "e": "Content-Encoding",
    "s": "Subject",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "u": "Allow-Events",
}
_SPECIAL = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
}
_MULTI = {"Via", "Route", "Record-Route", "Contact"}
"""Headers whose comma-separated values are separate entries."""

_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_STATUS = re.compile(r"^SIP/2\.0 ([1-6]\d\d) ?(.*)$")
_REQUEST = re.compile(r"^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP/2\.0$")


class SipParseError(ValueError):
    """A message that is not valid SIP (the text says what is wrong)."""


def canonical_name(name: str) -> str:
    """Header name in its usual spelling (``call-id`` → ``Call-ID``, ``v`` → ``Via``)."""
    lower = name.lower()
    if lower in COMPACT:
        return COMPACT[lower]
    if lower in _SPECIAL:
        return _SPECIAL[lower]
    return "-".join(part.capitalize() for part in lower.split("-"))


def split_commas(value: str) -> list[str]:
    """Split a header value at commas outside quotes and angle brackets."""
    parts: list[str] = []
    depth, quoted, start, escaped = 0, False, 0, False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and not quoted and depth == 0:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


@dataclass
class SipMessage:
    """Headers (ordered, repeated names allowed) and a body."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def get(self, name: str) -> str | None:
        """The first value of a header, or ``None``."""
        name = canonical_name(name)
        return next((v for n, v in self.headers if n == name), None)

    def get_all(self, name: str) -> list[str]:
        """Every value of a header, in order."""
        name = canonical_name(name)
        return [v for n, v in self.headers if n == name]

    def require(self, name: str) -> str:
        """The first value of a header; :class:`SipParseError` if it is missing."""
        value = self.get(name)
        if value is None:
            raise SipParseError(f"missing {canonical_name(name)} header")
        return value

    def add(self, name: str, value: str) -> None:
        """Append a header."""
        self.headers.append((canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace every value of a header with one value (placed where the first one was)."""
        name = canonical_name(name)
        index = next((i for i, (n, _) in enumerate(self.headers) if n == name), len(self.headers))
        self.headers = [(n, v) for n, v in self.headers if n != name]
        self.headers.insert(min(index, len(self.headers)), (name, value))

    def remove(self, name: str) -> None:
        """Drop every value of a header."""
        name = canonical_name(name)
        self.headers = [(n, v) for n, v in self.headers if n != name]

    @property
    def call_id(self) -> str:
        """The Call-ID."""
        return self.require("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        """``(number, method)`` of the CSeq header."""
        parts = self.require("CSeq").split()
        if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 10:
            raise SipParseError(f"malformed CSeq header {self.get('CSeq')!r}")
        return int(parts[0]), parts[1].upper()

    @property
    def content_type(self) -> str:
        """The media type of the body (lower case, without parameters)."""
        return (self.get("Content-Type") or "").split(";")[0].strip().lower()

    def _start_line(self) -> str:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """Serialize (Content-Length is set from the body)."""
        self.set("Content-Length", str(len(self.body)))
        lines = [self._start_line(), *(f"{n}: {v}" for n, v in self.headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class SipRequest(SipMessage):
    """A SIP request."""

    method: str = ""
    uri: str = ""

    def _start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"


@dataclass
class SipResponse(SipMessage):
    """A SIP response."""

    status: int = 200
    reason: str = "OK"

    def _start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"


def _split_head(data: bytes) -> tuple[list[str], bytes]:
    end = data.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end, sep = data.find(b"\n\n"), 2
    if end < 0:
        raise SipParseError("no blank line after the headers (message truncated?)")
    try:
        head = data[:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError(f"headers are not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return head.replace("\r\n", "\n").split("\n"), data[end + sep :]


def _unfold(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


def parse_message(data: bytes) -> SipRequest | SipResponse:
    """Parse one complete message (a UDP datagram, or a TCP-framed message)."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    lines, body = _split_head(data.lstrip(b"\r\n"))
    start, header_lines = lines[0].strip(), _unfold(lines[1:])
    if len(header_lines) > MAX_HEADERS:
        raise SipParseError(f"more than {MAX_HEADERS} header lines")
    message: SipRequest | SipResponse
    if match := _STATUS.match(start):
        message = SipResponse(status=int(match.group(1)), reason=match.group(2).strip())
    elif match := _REQUEST.match(start):
        message = SipRequest(method=match.group(1).upper(), uri=match.group(2))
    else:
        raise SipParseError(f"bad start line {start[:80]!r}")
    for line in header_lines:
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not _TOKEN.match(name):
            raise SipParseError(f"bad header line {line[:80]!r}")
        canon = canonical_name(name)
        values = split_commas(value) if canon in _MULTI else [value.strip()]
        for item in values:
            message.headers.append((canon, item))
    length_text = message.get("Content-Length")
    if length_text is not None:
        if not length_text.isdigit():
            raise SipParseError(f"bad Content-Length {length_text!r}")
        length = int(length_text)
        if length > len(body):
            raise SipParseError(f"Content-Length {length} but only {len(body)} body bytes")
        body = body[:length]
    message.body = body
    return message


def check_request(request: SipRequest) -> None:
    """Raise :class:`SipParseError` if a request lacks what RFC 3261 §8.1.1 requires."""
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        request.require(name)
    _, method = request.cseq
    if method != request.method:
        raise SipParseError(f"CSeq method {method} does not match request method {request.method}")
    if ":" not in request.uri:
        raise SipParseError(f"bad Request-URI {request.uri!r}")
    forwards = request.get("Max-Forwards")
    if forwards is not None and not forwards.strip().isdigit():
        raise SipParseError(f"bad Max-Forwards {forwards!r}")


def frame_stream(buffer: bytearray) -> bytes | None:
    """Cut one message off a TCP byte buffer (``None`` until a whole message arrived).

    Raises :class:`SipParseError` when the stream cannot be framed (no/invalid Content-Length,
    oversized); the connection must then be closed. Keep-alive CRLFs are skipped.
    """
    while buffer[:2] == b"\r\n":
        del buffer[:2]
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_MESSAGE_BYTES:
            raise SipParseError("header block too large")
        return None
    head = bytes(buffer[:end]).decode("utf-8", "replace")
    match = re.search(r"^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*$", head, re.IGNORECASE | re.MULTILINE)
    if match is None:
        raise SipParseError("message on a stream transport without Content-Length")
    total = end + 4 + int(match.group(1))
    if total > MAX_MESSAGE_BYTES:
        raise SipParseError(f"message of {total} bytes exceeds {MAX_MESSAGE_BYTES}")
    if len(buffer) < total:
        return None
    data = bytes(buffer[:total])
    del buffer[:total]
    return data
