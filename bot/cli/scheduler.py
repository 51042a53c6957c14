"""`sfa scheduler`: run only the sweeps and the outbox (no chat doors listening)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import click


def _senders(app: Any, sink: str | None, platforms: tuple[str, ...]) -> dict[str, Any]:
    if sink:
        from scheduler.sink import BotApiSink

        return {p: BotApiSink(sink, p) for p in platforms}
    from bot.app import build_doors

    # The doors are not started: only their outgoing side is used.
    return {door.sender.platform: door.sender for door in build_doors(app)}


async def _run(app: Any, senders: dict[str, Any], config: Any, once: bool,
               ops_port: int | None = None) -> None:
    from bot.app import counted, notice_rendering
    from scheduler import Scheduler

    scheduler = Scheduler(app.db, app.clock, notice_rendering(app), counted(senders),
                          config=config, sweeps=app.sweeps, components=app.components)
    stack = contextlib.AsyncExitStack()
    try:
        if once:
            report = await scheduler.tick(max_batches=1_000_000)
            click.echo(f"swept {report.swept}, queued {report.rendered.queued}, "
                       f"deferred {report.rendered.deferred}, sent {report.sent}, "
                       f"retrying {report.retried}, failed {report.failed}")
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await scheduler.start()
        if ops_port:
            from bot.observability import HealthCheck, register_outbox_metrics, start_ops_server

            register_outbox_metrics(app.db, app.clock)
            ops = await start_ops_server(HealthCheck(app.db, components=app.components),
                                         "0.0.0.0", ops_port)
            stack.push_async_callback(ops.cleanup)
        click.echo(f"scheduler {scheduler.worker} running (platforms: "
                   f"{', '.join(sorted(senders))}); Ctrl-C to stop", err=True)
        await stop.wait()
    finally:
        await stack.aclose()
        if not once:
            await scheduler.stop()
        for sender in senders.values():
            close = getattr(sender, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()


def register(main: click.Group) -> None:
    """Add `sfa scheduler`."""

    @main.command("scheduler")
    @click.option("--once", is_flag=True,
                  help="One pass: due sweeps, due notices, send what is ready; then exit.")
    @click.option("--sink", default=None, metavar="URL",
                  help="Deliver to a Bot-API-shaped HTTP endpoint instead of the doors "
                       "(testing, load tests).")
    @click.option("--platform", "platforms", multiple=True, default=("telegram",),
                  show_default=True, help="Platforms the --sink stands in for.")
    @click.option("--lease", default=120, show_default=True, type=click.IntRange(2),
                  help="Seconds a claim is held before another process may take it.")
    @click.option("--rate", default=None, type=click.FloatRange(0.1),
                  help="Messages/s overall per platform (default: the platform's limit).")
    @click.option("--per-chat", default=None, type=click.FloatRange(0.01),
                  help="Messages/s per chat (default: the platform's limit).")
    @click.option("--ops-port", "ops_port", default=None, type=click.IntRange(1, 65535),
                  help="Also serve /healthz and /metrics on this port.")
    def scheduler_command(once: bool, sink: str | None, platforms: tuple[str, ...],
                          lease: int, rate: float | None, per_chat: float | None,
                          ops_port: int | None = None) -> None:
        """Run the scheduler alone: sweeps, reminders and the outbox (several may run
        against one PostgreSQL database)."""
        from datetime import timedelta

        from bot.cli import fail, load_app
        from scheduler import SchedulerConfig
        from scheduler.pacing import DEFAULT_LIMITS, PlatformLimits

        app = load_app()
        senders = _senders(app, sink, platforms)
        if not senders:
            fail("nothing to send with: configure TELEGRAM_BOT_TOKEN / SLACK_BOT_TOKEN, or "
                 "give --sink URL")
        limits = dict(DEFAULT_LIMITS)
        if rate is not None or per_chat is not None:
            for name in senders:
                base = limits.get(name, PlatformLimits())
                limits[name] = PlatformLimits(
                    overall=1 / rate if rate else base.overall,
                    per_chat=1 / per_chat if per_chat else base.per_chat,
                    per_group=max(1 / per_chat if per_chat else 0, base.per_group))
        config = SchedulerConfig(notice_lease=timedelta(seconds=lease),
                                 outbox_lease=timedelta(seconds=lease), limits=limits)
        asyncio.run(_run(app, senders, config, once, ops_port))
