"""The errors a user can fix, and how the command line reports them.

Every error that a user can act on (a config value, a missing file, a model that cannot be
prepared, a server that does not answer) derives from :class:`CascadeError`; its message says
what went wrong, where, and how to fix it. The command line prints it as one line and exits 2
(:func:`describe_error`); anything else is a bug and is reported with a pointer to ``--debug``.

>>> class PortError(CascadeError):
...     pass
>>> describe_error(PortError("port 99 is taken: pick another with --port"))
'port 99 is taken: pick another with --port'
>>> import errno
>>> describe_error(OSError(errno.EADDRINUSE, "Address already in use"))
'cannot listen: address already in use (another process holds the port: stop it or pick another port)'
>>> describe_error(ExceptionGroup("session", [FileNotFoundError(2, "No such file or directory", "a.wav")]))
'No such file or directory: a.wav'
>>> describe_error(KeyError("x")) is None
True
"""

from __future__ import annotations

import errno


class CascadeError(Exception):
    """An error the user can fix; the message says what, where and how."""


def leaf_error(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups, or ``exc`` itself."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe_error(exc: BaseException) -> str | None:
    """One line for an error the user can fix (config, files, audio, network); ``None`` for a bug."""
    exc = leaf_error(exc)
    if isinstance(exc, CascadeError):
        return str(exc)
    if isinstance(exc, OSError):
        if exc.errno == errno.EADDRINUSE:
            return (
                "cannot listen: address already in use "
                "(another process holds the port: stop it or pick another port)"
            )
        if exc.errno == errno.EADDRNOTAVAIL:
            return "cannot listen: the address is not one of this machine's (check --host)"
        if exc.strerror and exc.filename:
            return f"{exc.strerror}: {exc.filename}"
        if exc.strerror:
            return exc.strerror
    try:
        import soundfile
    except ImportError:  # pragma: no cover - soundfile is a core dependency
        return None
    if isinstance(exc, soundfile.LibsndfileError):
        return f"cannot read audio: {exc} (give a WAV, FLAC or OGG file)"
    return None
