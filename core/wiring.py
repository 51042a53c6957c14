"""Wiring the composition root: modules named in one place (bot/app.py) are loaded here,
and a name that does not load stops start-up with one clear line (WiringError), never a
silent skip."""

from __future__ import annotations

import importlib
from types import ModuleType


class WiringError(RuntimeError):
    """Start-up could not wire a module: one line saying which and why."""


def load_module(purpose: str, name: str) -> ModuleType:
    """Import the module `name` listed for `purpose` (e.g. "sweeps"); WiringError when it is
    unknown or fails to import."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name or (exc.name and name.startswith(exc.name + ".")):
            raise WiringError(f"{purpose}: there is no module {name}") from exc
        raise WiringError(f"{purpose}: module {name} failed to import: "
                          f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise WiringError(f"{purpose}: module {name} failed to import: "
                          f"{type(exc).__name__}: {exc}") from exc
