"""Periodic due-work of the areas, run by the scheduler (which has no rules of its own).

An area marks a function `(session, now) -> int` with `@sweep(name, every=...)`; it finds
what is due and enqueues notices (core.notices) in that session. The scheduler imports
`SWEEP_MODULES`, runs each sweep on its interval, one transaction per run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

SweepFn = Callable[[Session, datetime], int]

# Core modules that define sweeps (imported by all_sweeps()).
SWEEP_MODULES: tuple[str, ...] = (
    "core.leads",
    "core.followups",
    "core.complaints",
    "core.deliveries",
    "core.fieldservice",
    "core.job_status",
    "core.document_checkout",
    "core.reports",
    "core.dayplan",
)


@dataclass(frozen=True)
class Sweep:
    name: str
    fn: SweepFn
    every: timedelta


_SWEEPS: dict[str, Sweep] = {}


def sweep(name: str, *, every: timedelta = timedelta(minutes=1)) -> Callable[[SweepFn], SweepFn]:
    """Register a periodic due-work function."""

    def decorate(fn: SweepFn) -> SweepFn:
        _SWEEPS[name] = Sweep(name, fn, every)
        return fn

    return decorate


def all_sweeps() -> list[Sweep]:
    """Import the area modules and return every registered sweep."""
    for module in SWEEP_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return list(_SWEEPS.values())
