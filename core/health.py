"""The state of a process's long-running components (sweeps, notices, outbox, roster, index
sync) and how their failures are logged and retried.

A component that fails (the database is down) is retried after an exponential delay capped
at RETRY_CAP seconds, and logged once per backoff step (failures 1, 2, 4, 8, ... and at
least every LOG_EVERY seconds): a 30 s outage gives a handful of lines per component, not a
traceback per attempt. Its recovery is logged once. `/healthz` reports every component's
state from here (bot.observability).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.db import reason_of

log = logging.getLogger("sfa.health")

RETRY_FIRST = 0.5  # seconds before the first retry
RETRY_CAP = 5.0  # never wait longer than this to retry (recovery is seen within it)
LOG_EVERY = 60.0  # a component failing for long is still logged this often


@dataclass
class ComponentState:
    failures: int = 0
    since: float | None = None  # monotonic time of the first failure of this outage
    retry_at: float = 0.0
    logged_at: float = 0.0
    reason: str = ""


class Components:
    """The components of one process and their states (thread-safe: the scheduler's database
    work runs on worker threads)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self._states: dict[str, ComponentState] = {}
        self._lock = threading.Lock()

    def register(self, name: str) -> None:
        """Report `name` from now on (as ok until it fails)."""
        with self._lock:
            self._states.setdefault(name, ComponentState())

    def ok(self, name: str) -> None:
        """`name` worked: if it was failing, log its recovery once."""
        with self._lock:
            state = self._states.setdefault(name, ComponentState())
            if state.since is None:
                return
            down_for = self.monotonic() - state.since
            failures = state.failures
            self._states[name] = ComponentState()
        log.warning("%s recovered after %.0f s (%d failed attempts)", name, down_for, failures)

    def failed(self, name: str, exc: BaseException) -> float:
        """`name` failed: log it when this failure starts a backoff step; returns the seconds
        to wait before trying again."""
        now = self.monotonic()
        with self._lock:
            state = self._states.setdefault(name, ComponentState())
            state.failures += 1
            if state.since is None:
                state.since = now
            state.reason = reason_of(exc)
            delay = min(RETRY_FIRST * 2 ** (state.failures - 1), RETRY_CAP)
            state.retry_at = now + delay
            n = state.failures
            log_now = (n & (n - 1)) == 0 or now - state.logged_at >= LOG_EVERY
            if log_now:
                state.logged_at = now
            since = state.since
        if log_now:
            log.warning("%s failing: %s: %s (attempt %d, for %.0f s; retrying every %.1f s)",
                        name, exc.__class__.__name__, reason_of(exc), n, now - since, delay)
        return delay

    def waiting(self, name: str) -> bool:
        """True while `name` waits out its backoff (skip this attempt)."""
        with self._lock:
            state = self._states.get(name)
            return state is not None and state.since is not None and \
                self.monotonic() < state.retry_at

    def delay(self, name: str, default: float) -> float:
        """Seconds to wait before the next attempt: the backoff while failing, else default."""
        with self._lock:
            state = self._states.get(name)
            if state is None or state.since is None:
                return default
            return max(default, state.retry_at - self.monotonic())

    def snapshot(self) -> dict[str, str]:
        """Every component: "ok" or "failing for N s: reason"."""
        now = self.monotonic()
        with self._lock:
            return {name: "ok" if s.since is None else
                    f"failing for {now - s.since:.0f} s: {s.reason}"[:200]
                    for name, s in sorted(self._states.items())}

