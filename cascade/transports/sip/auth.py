"""HTTP digest authentication for SIP (RFC 3261 §22, RFC 2617; MD5 and SHA-256, qop=auth).

:class:`DigestVerifier` challenges and checks callers (stateless nonces: an HMAC of their issue
time, valid for ``nonce_ttl`` seconds). :func:`authorization_header` answers a challenge as a
client (REGISTER to a registrar).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)')
_ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def parse_challenge(value: str) -> dict[str, str]:
    """``Digest realm="x", nonce="y"`` → ``{"scheme": "digest", "realm": "x", "nonce": "y"}``."""
    scheme, _, rest = value.strip().partition(" ")
    params = {k.lower(): v.strip('"') for k, v in _PARAM.findall(rest)}
    params["scheme"] = scheme.lower()
    return params


def _hash(algorithm: str, text: str) -> str:
    return _ALGORITHMS[algorithm](text.encode()).hexdigest()


def digest_response(
    *,
    algorithm: str,
    username: str,
    password: str,
    realm: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str = "",
    nc: str = "",
    cnonce: str = "",
) -> str:
    """The ``response`` value of a digest Authorization."""
    ha1 = _hash(algorithm, f"{username}:{realm}:{password}")
    ha2 = _hash(algorithm, f"{method}:{uri}")
    if qop:
        return _hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _hash(algorithm, f"{ha1}:{nonce}:{ha2}")


def authorization_header(challenge: str, *, method: str, uri: str, username: str, password: str) -> str:
    """The Authorization value answering a WWW-/Proxy-Authenticate challenge."""
    params = parse_challenge(challenge)
    if params["scheme"] != "digest":
        raise ValueError(f"unsupported authentication scheme {params['scheme']!r}; only Digest is supported")
    algorithm = params.get("algorithm", "MD5").upper()
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}; use MD5 or SHA-256")
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    qop = "auth" if "auth" in qops else ""
    cnonce, nc = secrets.token_hex(8), "00000001"
    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    response = digest_response(
        algorithm=algorithm,
        username=username,
        password=password,
        realm=realm,
        method=method,
        uri=uri,
        nonce=nonce,
        qop=qop,
        nc=nc,
        cnonce=cnonce,
    )
    parts = [
        f'username="{username}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{uri}"',
        f'response="{response}"',
        f"algorithm={algorithm}",
    ]
    if "opaque" in params:
        parts.append(f'opaque="{params["opaque"]}"')
    if qop:
        parts += [f"qop={qop}", f"nc={nc}", f'cnonce="{cnonce}"']
    return "Digest " + ", ".join(parts)


class DigestVerifier:
    """Server side of digest authentication for a fixed set of users."""

    def __init__(self, realm: str, users: dict[str, str], *, nonce_ttl: float = 300.0) -> None:
        self.realm = realm
        self.users = dict(users)
        self.nonce_ttl = nonce_ttl
        self._secret = secrets.token_bytes(16)

    def _sign(self, issued: str) -> str:
        return hmac.new(self._secret, issued.encode(), hashlib.sha256).hexdigest()[:24]

    def challenge(self) -> str:
        """A WWW-Authenticate value with a fresh nonce."""
        issued = f"{time.time():.3f}"
        nonce = f"{issued}-{self._sign(issued)}"
        return f'Digest realm="{self.realm}", nonce="{nonce}", algorithm=MD5, qop="auth"'

    def _nonce_ok(self, nonce: str) -> bool:
        issued, _, signature = nonce.partition("-")
        if not hmac.compare_digest(signature, self._sign(issued)):
            return False
        try:
            return -1.0 <= time.time() - float(issued) <= self.nonce_ttl  # issue time is rounded
        except ValueError:
            return False

    def verify(self, authorization: str | None, method: str) -> str | None:
        """The authenticated user name, or ``None`` (missing, wrong, stale or unknown user)."""
        if not authorization:
            return None
        params = parse_challenge(authorization)
        username = params.get("username", "")
        algorithm = params.get("algorithm", "MD5").upper()
        if (
            params["scheme"] != "digest"
            or username not in self.users
            or params.get("realm") != self.realm
            or algorithm not in _ALGORITHMS
            or not self._nonce_ok(params.get("nonce", ""))
        ):
            return None
        expected = digest_response(
            algorithm=algorithm,
            username=username,
            password=self.users[username],
            realm=self.realm,
            method=method,
            uri=params.get("uri", ""),
            nonce=params.get("nonce", ""),
            qop=params.get("qop", ""),
            nc=params.get("nc", ""),
            cnonce=params.get("cnonce", ""),
        )
        return username if hmac.compare_digest(expected, params.get("response", "")) else None
