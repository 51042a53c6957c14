"""Composition root: settings, database, indexes, registry, engine, scheduler and doors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.conversations.engine import Engine
from bot.conversations.registry import Registry, build_registry
from bot.conversations.services import Services
from bot.conversations.understanding.understander import Understanders
from core import migrate
from core.clock import SystemClock
from core.db import Database, startup_lock
from core.demo import SeedOptions, database_is_empty, seed_demo
from core.health import Components
from core.ports import Clock, MessageSender
from core.settings import Settings, get_settings
from core.stamped_cache import StampedCache
from core.sweeps import Sweeps, gather

if TYPE_CHECKING:
    from core.contact_index import ContactIndex

log = logging.getLogger(__name__)

# The modules whose marked sweeps (@core.sweeps.sweep) the scheduler runs. A name that is
# unknown, fails to import or marks no sweep stops start-up with one line (WiringError).
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
    "bot.conversations.update_records",
)


def build_sweeps(modules: tuple[str, ...] | None = None) -> Sweeps:
    """The sweeps of `modules` (default SWEEP_MODULES; see core.sweeps.gather)."""
    return gather(SWEEP_MODULES if modules is None else modules)


class Door(Protocol):
    """A running chat door (Telegram, Slack): started and stopped by `serve`."""

    name: str

    @property
    def sender(self) -> MessageSender: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class RunOptions:
    """How `sfa run` was asked to serve (its command-line options)."""

    telegram_webhook: tuple[str, int] | None = None  # (public URL, port): webhook mode
    slack_http_port: int | None = None  # Slack HTTP mode on this port
    scheduler: bool = True  # False: a pure chat worker (`sfa scheduler` does the sweeps)
    ops_port: int | None = None  # also serve /healthz and /metrics here


@dataclass
class App:
    settings: Settings
    db: Database
    clock: Clock
    registry: Registry
    engine: Engine
    services: Services
    # The periodic due-work the scheduler runs (gathered from SWEEP_MODULES).
    sweeps: Sweeps = field(default_factory=Sweeps)
    # The states of this process's long-running parts (scheduler, index sync) for /healthz.
    components: Components = field(default_factory=Components)
    # Factories of per-console tick hooks (the scheduler's sweeps run by `@advance`).
    tick_hooks: list[Any] = field(default_factory=list)
    run: RunOptions = field(default_factory=RunOptions)
    # time.monotonic() of the last successful index sync (/healthz: "index ok")
    index_synced_at: float | None = None

    def run_doors(self) -> bool:
        """Run the configured doors and the scheduler until interrupted.

        Returns False (having run nothing) when no Telegram or Slack door is configured.
        """
        doors = build_doors(self)
        if not doors:
            return False
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(self, doors))
        return True


def knowledge_index(settings: Settings, db: Database) -> Any | None:
    """The knowledge search of this process (a Whoosh index under data_dir/index, with the
    mark of its last sync), synced from the documents table: only documents whose revision
    changed are re-indexed."""
    from core.knowledge_search import KnowledgeSearch
    from search_index import WhooshKnowledgeIndex

    search = KnowledgeSearch(WhooshKnowledgeIndex(settings.data_dir / "index" / "knowledge"))
    with db.session() as session:
        search.sync(session)
    return search


def contact_index(settings: Settings, db: Database) -> ContactIndex:
    """Build the in-memory contact lookup index of the database (loaded on first use, kept
    in step with it by polling; see core.contact_index): this process's one, in Services."""
    from core.contact_index import ContactIndex

    index = ContactIndex(min_sync_interval=1.0)
    index.watch(db.sessionmaker)  # this process's writes show at once
    return index


def build_doors(app: App) -> list[Door]:
    """The doors whose credentials are configured (Telegram, Slack)."""
    doors: list[Door] = []
    doors.extend(telegram_doors(app))
    doors.extend(slack_doors(app))
    return doors


def telegram_doors(app: App) -> list[Door]:
    """The Telegram door when TELEGRAM_BOT_TOKEN is set: long polling, or webhook mode when
    `sfa run --telegram-webhook URL --port N` asked for it (app.run.telegram_webhook)."""
    token = app.settings.telegram_bot_token
    if token is None or not token.get_secret_value():
        return []
    import os

    from bot.handlers.telegram import TelegramDoor

    url, port = app.run.telegram_webhook or (None, None)
    secret = app.settings.telegram_webhook_secret
    # Messages/s this process sends at most (Telegram allows ~30/s per bot in all: with N
    # workers, give each 30/N); 0 turns the limiter off (benchmarks against a fake API).
    rate = float(os.environ.get("SFA_TELEGRAM_MAX_RATE", "30"))
    return [TelegramDoor(app.engine, token.get_secret_value(),
                         api_url=app.settings.telegram_api_url, webhook_url=url, port=port,
                         webhook_secret=secret.get_secret_value() if secret else None,
                         overall_max_rate=rate)]


def slack_doors(app: App) -> list[Door]:
    """The Slack door when SLACK_BOT_TOKEN is set: Socket Mode with SLACK_APP_TOKEN, else
    HTTP mode (signing secret required) on the port of `sfa run --slack-http --port N`
    (app.run.slack_http_port; default 3000)."""
    token = app.settings.slack_bot_token
    if token is None or not token.get_secret_value():
        return []
    from bot.handlers.slack import SlackDoor

    port = app.run.slack_http_port
    if port is None and app.settings.slack_app_token is None:
        port = 3000
    if port is not None and app.settings.slack_signing_secret is None:
        log.error("Slack HTTP mode needs SLACK_SIGNING_SECRET; the Slack door is not started")
        return []
    return [SlackDoor(app.engine, app.settings, http_port=port)]


async def start_scheduler(app: App, senders: dict[str, MessageSender]) -> Any | None:
    """Start the in-process scheduler (sweeps, due notices, the outbox drain) with the doors'
    senders; returns it (it has `async stop()`), or None when SFA_IN_PROCESS_SCHEDULER=0
    (a separate `sfa scheduler` process does the work)."""
    import os

    from scheduler import Scheduler

    if os.environ.get("SFA_IN_PROCESS_SCHEDULER", "1").lower() in ("0", "false", "no", "off"):
        return None
    scheduler = Scheduler(app.db, app.clock, notice_rendering(app), counted(senders),
                          sweeps=app.sweeps, components=app.components)
    await scheduler.start()
    return scheduler


def notice_rendering(app: App) -> Any:
    """The scheduler's port to the words of notices: the registry's renderers and their
    batch loaders (registry.add_notice), in the settings' default language and zone for a
    team channel (bot.conversations.notices.NoticeRendering)."""
    from bot.conversations.notices import NoticeRendering

    return NoticeRendering(app.registry, default_locale=app.settings.default_locale,
                           default_timezone=app.settings.default_timezone)


class CountingSender:
    """A sender that counts its results in sfa_sends_total{door,result} (ok, rate_limited,
    failed, error) and otherwise behaves as the sender it wraps."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.platform = inner.platform

    async def deliver(self, chat_id: str, message: Any, key: str | None = None
                      ) -> str | None:
        from bot.observability import SENDS
        from core.ports import DeliveryError, PermanentFailure, RateLimited

        try:
            result = await self.inner.deliver(chat_id, message, key=key)
        except RateLimited:
            SENDS.labels(self.platform, "rate_limited").inc()
            raise
        except PermanentFailure:
            SENDS.labels(self.platform, "failed").inc()
            raise
        except DeliveryError:
            SENDS.labels(self.platform, "error").inc()
            raise
        SENDS.labels(self.platform, "ok").inc()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def counted(senders: dict[str, Any]) -> dict[str, Any]:
    """The senders, each counting its results for /metrics."""
    return {name: CountingSender(sender) for name, sender in senders.items()}


def console_scheduler(app: App) -> Any:
    """Tick-hook factory for the terminal door: `@advance` (and each interactive line) runs
    the due sweeps and delivers pushes addressed to console identities, printed in place."""

    def factory(door: Any) -> Any:
        from bot.handlers.console import ConsoleSender
        from scheduler import Scheduler

        scheduler = Scheduler(app.db, app.clock, notice_rendering(app),
                              {"console": ConsoleSender(door)}, sweeps=app.sweeps,
                              components=app.components,
                              in_thread=False)

        async def hook() -> None:
            await scheduler.tick()

        return hook

    return factory


async def serve(app: App, doors: list[Door]) -> None:
    """Start the scheduler and the doors; run until cancelled; stop everything cleanly."""
    senders = {door.sender.platform: door.sender for door in doors}
    scheduler = None
    if app.run.scheduler:
        scheduler = await start_scheduler(app, senders)
    # Warm the indexes before the doors listen: the first lookup must not pay the load of
    # every contact, and /healthz reports "index ok" only once they are in step.
    try:
        await asyncio.to_thread(sync_indexes_once, app)
    except Exception:
        log.exception("index sync failed")
    syncer = asyncio.create_task(sync_indexes(app))
    for door in doors:
        await door.start()
        log.info("door %s started", door.name)
    ops = None  # started last: /healthz answers once the doors are listening
    if app.run.ops_port:
        ops = await start_ops(app, app.run.ops_port)
    try:
        await asyncio.Event().wait()
    finally:
        for door in reversed(doors):
            await door.stop()
        syncer.cancel()
        if ops is not None:
            await ops.cleanup()
        if scheduler is not None:
            await scheduler.stop()


INDEX_SYNC_SECONDS = 2.0
INDEX_STALE_SECONDS = 30.0


def sync_indexes_once(app: App) -> None:
    """Bring this node's knowledge and contact indexes in step with the database once (the
    first call loads the contact index); records the time of the sync for /healthz."""
    import time

    with app.db.session() as session:
        if app.services.knowledge is not None:
            app.services.knowledge.ensure_synced(session)
        if app.services.contacts is not None:
            app.services.contacts.sync(session, force=True)
    app.index_synced_at = time.monotonic()


async def sync_indexes(app: App) -> None:
    """Keep this node's knowledge and contact indexes in step with the database (another
    node's changes show here within INDEX_SYNC_SECONDS, even when nobody asks meanwhile)."""
    components = app.components
    components.register("index sync")
    while True:
        # While the database is down: one try per backoff step, one log line per step.
        await asyncio.sleep(components.delay("index sync", INDEX_SYNC_SECONDS))
        try:
            await asyncio.to_thread(sync_indexes_once, app)
        except Exception as exc:
            if app.db.availability.down:
                components.failed("index sync", exc)
            else:
                log.exception("index sync failed")
        else:
            components.ok("index sync")


def index_fresh(app: App) -> bool:
    """True when the periodic index sync succeeded recently."""
    import time

    at = app.index_synced_at
    return at is not None and time.monotonic() - at < INDEX_STALE_SECONDS


async def start_ops(app: App, port: int, host: str = "0.0.0.0") -> Any:
    """Serve /healthz and /metrics on port; returns the aiohttp runner (call cleanup())."""
    from bot.observability import HealthCheck, register_outbox_metrics, start_ops_server

    register_outbox_metrics(app.db, app.clock)
    health = HealthCheck(app.db, index_fresh=lambda: index_fresh(app),
                         components=app.components)
    runner = await start_ops_server(health, host, port)
    log.info("ops server on port %s", port)
    return runner


def build_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    db: Database | None = None,
    upgrade: bool = True,
    seed_if_empty: bool = False,
    understanders: Understanders | None = None,
) -> App:
    """Wire everything; migrate the schema and seed demo data when asked. A module named
    for wiring (SWEEP_MODULES, the flow modules) that does not load raises WiringError
    before anything else starts. `understanders`: trained understanders to reuse (tests
    building many apps over the same registry); by default the intents are trained here."""
    settings = settings or get_settings()
    sweeps = build_sweeps()
    registry = build_registry()
    clock = clock or SystemClock()
    db = db or Database(settings.resolved_database_url())
    with db.startup_guard():  # processes started together: one at a time
        # Checked inside the guard: on SQLite the check's transaction waits for the write
        # lock, which a process seeding the demo holds for longer than the busy timeout on
        # a loaded machine (a start race exited 2 with "database is locked").
        db.check()
        if upgrade:
            migrate.upgrade(db.engine)
        if seed_if_empty:
            with db.session() as session:
                startup_lock(session, "seed")  # workers starting together seed once
                if database_is_empty(session):
                    seed_demo(session, now=clock.now(), options=SeedOptions())
        services = Services(settings=settings, configurator=StampedCache())
        # The first sync of a fresh index holds SQLite's write lock while it indexes every
        # document: the processes started with this one wait here, not on the busy timeout.
        services.knowledge = knowledge_index(settings, db)
    services.contacts = contact_index(settings, db)
    services.understanding = (understanders or Understanders()).for_phrasings(
        registry.phrasings)
    engine = Engine(db, registry, settings=settings, clock=clock, services=services)
    app = App(settings=settings, db=db, clock=clock, registry=registry, engine=engine,
              services=services, sweeps=sweeps)
    app.tick_hooks.append(console_scheduler(app))
    return app
