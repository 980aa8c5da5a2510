"""Where each setting comes from: flags, ``CASCADE_*`` variables, the config file, the defaults.

:class:`Origins` answers "who set ``llm.temperature``?" for ``cascade config show`` and for error
messages, which name the file or the variable holding a bad value:

>>> origins = Origins(flags={"llm": {"model": "m"}}, env={"tts": {"speed": "2"}}, file={}, file_name=None)
>>> origins.origin("llm.model"), origins.origin("tts.speed"), origins.origin("asr.model")
('flag', 'env CASCADE_TTS__SPEED', 'default')
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cascade.errors import CascadeError

ENV_PREFIX = "CASCADE_"
SECRET_WORDS = ("api_key", "token", "password", "auth_users")
"""Settings whose values ``cascade config show`` masks."""


class ConfigError(CascadeError, ValueError):
    """A config file or value that cannot be used; the message names it and says how to fix it."""


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a TOML or JSON config file with a clear error."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path} (check --config or CASCADE_CONFIG)")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text())
        else:
            data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot parse {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a table/object of settings")
    return data


def nest(dotted: dict[str, Any]) -> dict[str, Any]:
    """``{"llm.model": "m"}`` → ``{"llm": {"model": "m"}}``; ``None`` values are left out."""
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        if value is None:
            continue
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables → dotted keys (lists and other values are leaves)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def env_name(key: str) -> str:
    """The variable that sets a dotted key: ``llm.base_url`` → ``CASCADE_LLM__BASE_URL``."""
    return ENV_PREFIX + key.replace(".", "__").upper()


def is_secret(key: str) -> bool:
    """Whether ``config show`` hides this setting's value."""
    return any(part in SECRET_WORDS for part in key.split("."))


@dataclass
class Origins:
    """The values each source gave (nested dicts), highest precedence first."""

    flags: dict[str, Any]
    env: dict[str, Any]
    file: dict[str, Any]
    file_name: str | None

    def origin(self, key: str) -> str:
        """``flag``, ``env CASCADE_...``, ``file NAME`` or ``default`` for a dotted key."""
        parts = key.split(".")
        for source, label in ((self.flags, "flag"), (self.env, "env"), (self.file, "file")):
            for end in range(len(parts), 0, -1):
                if _has(source, parts[:end], whole=end == len(parts)):
                    if label == "env":
                        return f"env {env_name('.'.join(parts[:end]))}"
                    return f"file {self.file_name}" if label == "file" else label
        return "default"


def _has(data: dict[str, Any], parts: list[str], whole: bool) -> bool:
    """Whether ``data`` sets ``parts``; a shorter path counts only where it sets a whole value
    (``CASCADE_LLM='{"model": ...}'``), not where it is a table with other keys set."""
    node: Any = data
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return whole or not isinstance(node, dict)


def describe_validation_error(exc: ValidationError, origins: Origins) -> str:
    """One line per invalid setting: the key, the value, where it came from and what is expected."""
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        value = error.get("input")
        if isinstance(value, dict) and value:  # a whole table is wrong: name what set its parts
            where = ", ".join(dict.fromkeys(origins.origin(f"{key}.{leaf}") for leaf in flatten(value)))
        else:
            where = origins.origin(key)
        if error["type"] == "extra_forbidden":
            lines.append(
                f"config error: unknown setting {key!r} (from {where}): check its spelling; "
                "`cascade config show` lists every setting"
            )
            continue
        value = "<hidden>" if is_secret(key) else repr(value)
        shown = f"{key} = {value}" if key else "the config"
        lines.append(f"config error: {shown} (from {where}): {error['msg']}")
    return "\n".join(lines)
