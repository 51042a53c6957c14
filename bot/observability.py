"""Operations: Prometheus metrics and the /healthz and /metrics HTTP endpoints."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import func, select, text

from core import migrate
from core.db import Database
from core.health import Components
from core.models import NoticeRow, NoticeStatus
from core.ports import Clock

log = logging.getLogger(__name__)

UPDATES = Counter("sfa_updates_total", "Updates handled by the conversation engine",
                  ["door", "outcome"])
UPDATE_SECONDS = Histogram(
    "sfa_update_seconds", "Time to handle one update (engine, including the database)",
    ["door"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
LOCK_WAIT_SECONDS = Histogram(
    "sfa_lock_wait_seconds", "Time an update waited for its per-user / transaction lock",
    ["door"], buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5))
REPLAYED = Counter("sfa_answers_replayed_total",
                   "Redelivered updates answered from the answer kept with their record "
                   "(the worker that handled them died before sending)", ["door"])
SENDS = Counter("sfa_sends_total", "Pushed messages sent by the outbox", ["door", "result"])


class OutboxCollector(Collector):
    """Outbox depth and age, read from the database at scrape time."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def collect(self) -> Iterable[GaugeMetricFamily]:
        depth = GaugeMetricFamily("sfa_outbox_depth", "Pushed messages due and not yet sent")
        age = GaugeMetricFamily("sfa_outbox_oldest_age_seconds",
                                "Age of the oldest due, unsent pushed message")
        try:
            now = self.clock.now()
            with self.db.engine.connect() as conn:
                due = (NoticeRow.status.in_([NoticeStatus.PENDING.value,
                                             NoticeStatus.CLAIMED.value,
                                             NoticeStatus.QUEUED.value]),
                       NoticeRow.due_at <= now)
                count, oldest = conn.execute(
                    select(func.count(), func.min(NoticeRow.due_at)).where(*due)).one()
            depth.add_metric([], float(count or 0))
            oldest_at = _aware(oldest)
            age.add_metric([], (now - oldest_at).total_seconds() if oldest_at else 0.0)
        except Exception:  # a scrape must never fail because the database is down
            log.warning("outbox metrics unavailable")
        yield depth
        yield age


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value


@dataclass
class HealthCheck:
    """What /healthz reports: database reachable, migrations current, indexes fresh, and the
    state of each of the process's components (core.health: sweeps, notices, outbox, the
    schedulers' roster, the index sync), each as it is now."""

    db: Database
    index_fresh: Callable[[], bool] | None = None
    components: Components | None = None

    def run(self) -> tuple[bool, dict[str, str]]:
        checks: dict[str, str] = {}
        ok = True
        try:
            with self.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception:
            checks["database"] = "unreachable"
            if self.components is not None:
                checks.update(self.components.snapshot())
            return False, checks
        current = migrate.is_current(self.db.engine)
        checks["migrations"] = "ok" if current else "behind: run sfa db upgrade"
        ok &= current
        if self.index_fresh is not None:
            fresh = self.index_fresh()
            checks["index"] = "ok" if fresh else "stale"
            ok &= fresh
        if self.components is not None:
            for name, state in self.components.snapshot().items():
                checks.setdefault(name, state)
                ok &= state == "ok"
        return ok, checks


_collector_registered: set[int] = set()


def register_outbox_metrics(db: Database, clock: Clock) -> None:
    """Register the outbox gauges once per process."""
    if _collector_registered:
        return
    REGISTRY.register(OutboxCollector(db, clock))
    _collector_registered.add(id(db))


def ops_routes(health: HealthCheck) -> list[web.RouteDef]:
    """The /healthz and /metrics routes, to mount on any aiohttp app (webhook servers too)."""

    async def healthz(_request: web.Request) -> web.Response:
        ok, checks = health.run()
        return web.json_response({"status": "ok" if ok else "fail", **checks},
                                 status=200 if ok else 503)

    async def metrics(_request: web.Request) -> web.Response:
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [web.get("/healthz", healthz), web.get("/metrics", metrics)]


async def start_ops_server(health: HealthCheck, host: str, port: int) -> web.AppRunner:
    """Serve /healthz and /metrics on host:port; returns the runner (call cleanup())."""
    app = web.Application()
    app.add_routes(ops_routes(health))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
