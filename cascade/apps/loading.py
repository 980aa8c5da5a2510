"""Import what a config names as ``module:name`` or ``path/to/file.py:name``.

>>> target = load_target("json:dumps", setting="demo.agent")
>>> target([1])
'[1]'
>>> load_target("json", setting="demo.agent")
Traceback (most recent call last):
...
cascade.agent.config_sources.ConfigError: demo.agent = 'json' must look like 'module:name' or 'file.py:name'
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from cascade.agent.config_sources import ConfigError


def load_target(spec: str, *, setting: str, app_dir: Path | None = None) -> Any:
    """The object ``spec`` names; ``app_dir`` is searched first (like uvicorn's ``--app-dir``).

    Raises :class:`ConfigError` naming ``setting`` when it cannot be imported.
    """
    target, colon, name = spec.rpartition(":")
    if not colon or not target or not name:
        raise ConfigError(f"{setting} = {spec!r} must look like 'module:name' or 'file.py:name'")
    if app_dir is not None and str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    try:
        if target.endswith(".py"):
            module = _module_from_file(Path(target), setting)
        else:
            module = importlib.import_module(target)
    except ImportError as exc:
        raise ConfigError(f"{setting} = {spec!r}: cannot import {target}: {exc}") from exc
    found = getattr(module, name, None)
    if found is None:
        raise ConfigError(f"{setting} = {spec!r}: {target} has no {name!r}")
    return found


def load_agent(spec: str, *, setting: str, app_dir: Path | None = None) -> Any:
    """What ``spec`` names as an app's agent: an agent (an object with ``pipeline()``, like
    :class:`~cascade.agent.VoiceAgent`; a class is instantiated with no arguments) or a plain
    pipeline factory. Raises :class:`ConfigError` naming ``setting`` for anything else."""
    target = load_target(spec, setting=setting, app_dir=app_dir)
    if is_agent(target):
        return target() if isinstance(target, type) else target
    if not callable(target):
        raise ConfigError(f"{setting} = {spec!r} is neither an agent nor a callable")
    return target


def is_agent(target: Any) -> bool:
    """Whether ``target`` is an agent (has ``pipeline()``) rather than a plain pipeline factory."""
    return callable(getattr(target, "pipeline", None))


def _module_from_file(path: Path, setting: str) -> Any:
    loader_spec = importlib.util.spec_from_file_location(path.stem, path)
    if loader_spec is None or loader_spec.loader is None or not path.is_file():
        raise ConfigError(f"{setting}: no such Python file {path}")
    module = importlib.util.module_from_spec(loader_spec)
    loader_spec.loader.exec_module(module)
    return module
