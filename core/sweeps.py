"""Periodic due-work of the areas, run by the scheduler (which has no rules of its own).

An area marks a function `(session, now) -> int` with `@sweep(name, every=...)`; it finds
what is due and enqueues notices (core.notices) in that session. Marking registers nothing:
the composition root (bot/app.py, SWEEP_MODULES) names the modules whose sweeps run, and
`gather` collects them into a `Sweeps` object given to the scheduler. A module that is
unknown, fails to import or marks no sweep stops start-up with one line (WiringError).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import ModuleType

from sqlalchemy.orm import Session

from core.wiring import WiringError, load_module

SweepFn = Callable[[Session, datetime], int]

_MARK = "__sfa_sweep__"


@dataclass(frozen=True)
class Sweep:
    name: str
    fn: SweepFn
    every: timedelta


def sweep(name: str, *, every: timedelta = timedelta(minutes=1)) -> Callable[[SweepFn], SweepFn]:
    """Mark a periodic due-work function (collected by `gather` from its module)."""

    def decorate(fn: SweepFn) -> SweepFn:
        setattr(fn, _MARK, Sweep(name, fn, every))
        return fn

    return decorate


class Sweeps:
    """The sweeps the scheduler runs, by name (one name once)."""

    def __init__(self, items: Iterable[Sweep] = ()) -> None:
        self._by_name: dict[str, Sweep] = {}
        for item in items:
            self.add(item)

    def add(self, item: Sweep) -> None:
        if item.name in self._by_name:
            raise WiringError(f"sweeps: {item.name} is declared twice")
        self._by_name[item.name] = item

    def add_module(self, module: ModuleType) -> list[Sweep]:
        """Add the sweeps marked in `module` (defined there, not imported into it)."""
        found = [mark for value in vars(module).values()
                 if (mark := getattr(value, _MARK, None)) is not None
                 and isinstance(mark, Sweep)
                 and getattr(value, "__module__", None) == module.__name__]
        if not found:
            raise WiringError(f"sweeps: module {module.__name__} marks no sweep")
        for item in found:
            self.add(item)
        return found

    def named(self, *names: str) -> list[Sweep]:
        """The sweeps of these names (WiringError for an unknown one)."""
        unknown = [n for n in names if n not in self._by_name]
        if unknown:
            raise WiringError(f"sweeps: no sweep named {', '.join(unknown)}")
        return [self._by_name[n] for n in names]

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def __iter__(self) -> Iterator[Sweep]:
        return iter(list(self._by_name.values()))

    def __len__(self) -> int:
        return len(self._by_name)


def gather(modules: Iterable[str | ModuleType]) -> Sweeps:
    """The sweeps of these modules (names are imported); WiringError, one line, for a module
    unknown, failing to import or marking no sweep."""
    sweeps = Sweeps()
    for module in modules:
        sweeps.add_module(load_module("sweeps", module) if isinstance(module, str) else module)
    return sweeps
