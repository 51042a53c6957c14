"""The `sfa` command line: run the bot, chat in the terminal, manage data."""

from __future__ import annotations

import asyncio
import importlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bot.logs import configure_logging
from core.db import DatabaseUnavailable
from core.settings import Settings
from core.wiring import WiringError

DEMO_LOGIN = "budi"
# Area modules that add commands; each defines register(main).
CLI_MODULES: tuple[str, ...] = (
    "bot.cli.contacts",
    "bot.cli.customers",
    "bot.cli.pipeline",
    "bot.cli.quotes",
    "bot.cli.configurator",
    "bot.cli.knowledge",
    "bot.cli.scheduler",
    "bot.cli.fieldservice",
    "bot.cli.reports",
    "bot.cli.ops",
    "bot.cli.org",
)


def fail(message: str, code: int = 2) -> None:
    """Print one clear line to stderr and exit."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def load_app(*, seed_if_empty: bool = False, now: str | None = None, upgrade: bool = True):
    """Build the app or exit with one clear line (database URL masked)."""
    from bot.app import build_app
    from core.clock import ManualClock

    settings = Settings()  # read the environment now (not a cached copy)
    configure_logging(settings.log_level, settings.log_format, settings.secrets())
    clock = None
    if now:
        try:
            start = datetime.fromisoformat(now)
        except ValueError:
            fail(f"--now needs an ISO date-time, got {now!r}")
        clock = ManualClock(start if start.tzinfo else start.replace(tzinfo=UTC))
    try:
        return build_app(settings, clock=clock, seed_if_empty=seed_if_empty, upgrade=upgrade)
    except (DatabaseUnavailable, WiringError) as exc:
        fail(str(exc))


def english(app: Any) -> Any:
    """English for `sfa`'s lines (a bot.i18n.Translator): the error texts of the app's
    registry (every flow module's) and of import rows (bot.cli.import_errors)."""
    from bot.cli.import_errors import IMPORT_ERRORS
    from bot.i18n import Translator

    return Translator("en", errors=app.registry.errors.joined(IMPORT_ERRORS))


def read_import_file(path: Path, required: tuple[str, ...] = ()) -> Any:
    """Read a CSV file for `sfa import ...` (core.imports.CsvFile), or exit with one line:
    no such file, too big, empty, or a required column missing. Its encoding is detected;
    rows that cannot be read come with their error and are reported by line."""
    from core.csv_files import read_csv_bytes

    if not path.is_file():
        fail(f"no file {path}")
    limit = Settings().max_import_bytes
    size = path.stat().st_size
    if size > limit:
        fail(f"{path.name} is {size / 1_048_576:.1f} MB; the import limit is "
             f"{limit / 1_048_576:.1f} MB (SFA_MAX_IMPORT_BYTES): split the file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc.__class__.__name__}")
    csv_file = read_csv_bytes(data)
    if not csv_file.is_text:
        fail(f"{path} is not a CSV text file (not UTF-8 nor any other text encoding): save "
             "it as CSV UTF-8")
    if not csv_file.header:
        fail(f"{path} is empty")
    missing = [c for c in required if c not in csv_file.header]
    if missing:
        fail(f"{path.name}: missing column{'s' if len(missing) > 1 else ''} "
             f"{', '.join(missing)}")
    if csv_file.encoding not in ("utf-8", "ascii"):
        click.echo(f"{path.name}: read as {csv_file.encoding} text", err=True)
    return csv_file


def run_import(importer: Any, rows: list[tuple[int, dict[str, str]]], *, label: str, path: Path,
               dry_run: bool, progress_from: int = 500) -> None:
    """Run a core CSV import (a progress bar on long files), print its row report, and exit 1
    when every row failed; `--dry-run` rolls everything back."""
    app = load_app()
    with app.db.session() as session:
        if len(rows) >= progress_from:
            with click.progressbar(length=len(rows), label=f"importing {label}",
                                   file=sys.stderr) as bar:
                report = importer(session, rows, app.clock.now(), progress=bar.update)
        else:
            report = importer(session, rows, app.clock.now())
        if dry_run:
            session.rollback()
    t = english(app)
    verb = "would import" if dry_run else "imported"
    click.echo(f"{path.name}: {report.total} rows, {verb} {report.ok}: {report.created} "
               f"created, {report.updated} updated, {report.unchanged} unchanged; "
               f"{len(report.errors)} with errors")
    for error in report.errors:
        click.echo(f"  line {error.line}: {t.error(error.code, error.params)}")
    if report.errors and not report.ok:
        raise SystemExit(1)


class _Commands(click.Group):
    """The `sfa` group: a database that cannot be used, or a module named for wiring that
    does not load, stops any command with one line."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import DBAPIError

        from core.db import mask_url, reason_of

        try:
            return super().invoke(ctx)
        except (DatabaseUnavailable, WiringError) as exc:
            fail(str(exc))
        except DBAPIError as exc:  # the database went away, or has no schema yet
            if exc.__class__.__name__ not in ("OperationalError", "InterfaceError",
                                              "ProgrammingError"):
                raise
            url = Settings().database_url
            reason = reason_of(exc, url)
            hint = (" (run `sfa db upgrade`)" if "no such table" in reason
                    or "does not exist" in reason else "")
            fail(f"database {mask_url(url)}: {reason}{hint}")


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """SFA assistant: a chat-first sales force automation bot."""


@main.group("import")
def import_group() -> None:
    """Import CSV files (contacts, companies, leads, products, price lists, jobs)."""


@main.group("export")
def export_group() -> None:
    """Export data as CSV."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database."""
    load_app(upgrade=True)
    click.echo("database is up to date")


@db.command("current")
def db_current() -> None:
    """Show whether the database has every migration applied."""
    from core import migrate

    app = load_app(upgrade=False)
    heads = sorted(migrate.current_heads(app.db.engine))
    state = "up to date" if migrate.is_current(app.db.engine) else "needs `sfa db upgrade`"
    click.echo(f"{', '.join(heads) or '(empty)'}: {state}")


@main.command()
@click.option("--companies", default=120, show_default=True, type=click.IntRange(1))
@click.option("--contacts", default=360, show_default=True, type=click.IntRange(1))
@click.option("--seed", "seed_value", default=42, show_default=True, type=int)
@click.option("--base-only", is_flag=True, help="Only organisation, companies and contacts.")
def seed(companies: int, contacts: int, seed_value: int, base_only: bool) -> None:
    """Fill an empty database with deterministic, realistic demo data."""
    from core.demo import SeedOptions, database_is_empty, seed_demo

    app = load_app()
    with app.db.session() as session:
        if not database_is_empty(session):
            fail("the database already has users; seed only fills an empty database", 1)
        world = seed_demo(session, now=app.clock.now(), options=SeedOptions(
            companies=companies, contacts=contacts, seed=seed_value, areas=not base_only))
    click.echo(f"seeded {len(world.users)} users, {len(world.companies)} companies, "
               f"{len(world.contacts)} contacts")


def _chat(app, login: str, script: str | None) -> None:
    from bot.handlers.console import ConsoleDoor
    from core.errors import NotFound

    try:
        door = ConsoleDoor(app.engine, login)
    except NotFound:
        fail(f"no user with login {login!r} (see `sfa users list`)")
    for hook in app.tick_hooks:
        door.tick_hooks.append(hook(door))
    if script is None:
        asyncio.run(door.run_interactive())
        return
    if script == "-":
        lines = sys.stdin.read().splitlines()
    else:
        path = Path(script)
        if not path.is_file():
            fail(f"no script file {script}")
        lines = path.read_text(encoding="utf-8").splitlines()
    asyncio.run(door.run_script(lines))


@main.command()
@click.option("--as", "login", default=DEMO_LOGIN, show_default=True, help="User login.")
@click.option("--script", type=str, default=None, help="Play a script file (- for stdin).")
@click.option("--now", type=str, default=None, help="Start a manual clock at this ISO time.")
def chat(login: str, script: str | None, now: str | None) -> None:
    """Chat with the bot in the terminal as LOGIN."""
    app = load_app(now=now)
    _chat(app, login, script)


@main.command()
@click.option("--as", "login", default=DEMO_LOGIN, show_default=True)
def demo(login: str) -> None:
    """Seed when empty, then chat in the terminal as the demo rep."""
    app = load_app(seed_if_empty=True)
    _chat(app, login, None)


@main.group()
def users() -> None:
    """Manage users."""


@users.command("add")
@click.argument("login")
@click.option("--name", required=True)
@click.option("--role", required=True,
              type=click.Choice(["rep", "manager", "technician", "admin"]))
@click.option("--team", default=None, help="Team name.")
@click.option("--timezone", default=None, help="IANA zone, e.g. Asia/Jakarta.")
@click.option("--locale", default=None, type=click.Choice(["en", "id"]))
@click.option("--email", default=None)
def users_add(login: str, name: str, role: str, team: str | None, timezone: str | None,
              locale: str | None, email: str | None) -> None:
    """Add a user."""
    from sqlalchemy import select

    from core import users as user_service
    from core.errors import DomainError
    from core.models import Team

    app = load_app()
    settings: Settings = app.settings
    with app.db.session() as session:
        team_row = None
        if team:
            team_row = session.scalar(select(Team).where(Team.name == team))
            if team_row is None:
                fail(f"no team named {team!r}")
        try:
            user = user_service.add_user(
                session, login=login, name=name, role=role, team=team_row, now=app.clock.now(),
                timezone=timezone or settings.default_timezone,
                locale=locale or settings.default_locale, email=email)
        except DomainError as exc:
            fail(f"{exc.code}: {exc.params}")
        click.echo(f"added {user.login} ({user.role})")


@users.command("list")
def users_list() -> None:
    """List users."""
    from core import users as user_service

    app = load_app()
    with app.db.session() as session:
        for u in user_service.list_users(session):
            team = u.team.name if u.team else "-"
            status = "active" if u.active else "deactivated"
            click.echo(f"{u.login:<12} {u.role:<10} {team:<16} {u.timezone:<16} {status}  "
                       f"{u.name}")


@users.command("invite")
@click.argument("login")
@click.option("--qr", "qr", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the QR code image (PNG) of the Telegram link to this file.")
def users_invite(login: str, qr: Path | None) -> None:
    """Print a single-use invite code that links a chat account to LOGIN, and the Telegram
    deep link https://t.me/<bot>?start=CODE when the bot is known."""
    from datetime import timedelta

    from core import invites
    from core import users as user_service
    from core.errors import NotFound

    app = load_app()
    with app.db.session() as session:
        try:
            user = user_service.get_user_by_login(session, login)
        except NotFound:
            fail(f"no user with login {login!r}")
        invite = user_service.create_invite(
            session, user, now=app.clock.now(),
            ttl=timedelta(hours=app.settings.invite_ttl_hours))
        username = invites.cached_username(session) or _telegram_username(app)
        if username:
            invites.remember_username(session, username, app.clock.now())
        click.echo(f"{invite.code}")
        if username:
            link = invites.deep_link(username, invite.code)
            click.echo(link)
            if qr is not None:
                try:
                    qr.write_bytes(invites.qr_png(link))
                except OSError as exc:
                    fail(f"cannot write {qr}: {exc.strerror}")
                click.echo(f"(QR code of the link written to {qr})", err=True)
        elif qr is not None:
            fail("no Telegram bot known yet for a QR code: set TELEGRAM_BOT_TOKEN (or start "
                 "the bot once)")
        click.echo(f"(valid until {invite.expires_at:%Y-%m-%d %H:%M} UTC; the user sends "
                   f"/start {invite.code} to the bot)", err=True)


def _telegram_username(app: Any) -> str | None:
    """The bot's username from Telegram's getMe (None without a token or when unreachable)."""
    token = app.settings.telegram_bot_token
    if token is None:
        return None
    from telegram import Bot
    from telegram.error import TelegramError

    from bot.handlers.telegram import AiohttpRequest, api_urls, protect_logs

    protect_logs([token.get_secret_value()])
    base_url, base_file_url = api_urls(app.settings.telegram_api_url)

    async def ask() -> str | None:
        async with Bot(token.get_secret_value(), base_url=base_url,
                       base_file_url=base_file_url, request=AiohttpRequest()) as bot:
            return bot.username

    try:
        return asyncio.run(ask())
    except (TelegramError, OSError) as exc:
        click.echo(f"(Telegram's getMe failed: {exc.__class__.__name__}; the code alone "
                   f"works: /start CODE)", err=True)
        return None


@users.command("deactivate")
@click.argument("login")
def users_deactivate(login: str) -> None:
    """Deactivate LOGIN on every door; hand their open deals and follow-ups to the manager."""
    from bot.conversations.models import close_conversations
    from core import users as user_service
    from core.errors import NotFound

    app = load_app()
    with app.db.session() as session:
        try:
            user = user_service.get_user_by_login(session, login)
        except NotFound:
            fail(f"no user with login {login!r}")
        moved = user_service.deactivate_user(session, user, now=app.clock.now())
        close_conversations(session, user.id)
    click.echo(f"deactivated {login}: {moved['deals']} open deals and {moved['follow_ups']} "
               f"follow-ups handed to the manager's queue")


@users.command("reactivate")
@click.argument("login")
def users_reactivate(login: str) -> None:
    """Let LOGIN in again."""
    from core import users as user_service
    from core.errors import NotFound

    app = load_app()
    with app.db.session() as session:
        try:
            user_service.reactivate_user(session, user_service.get_user_by_login(session, login))
        except NotFound:
            fail(f"no user with login {login!r}")
    click.echo(f"reactivated {login}")


@main.command()
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path), required=False)
def backup(dest: Path | None) -> None:
    """Write a consistent backup of the database (SQLite: online copy; PostgreSQL: pg_dump)."""
    from core import backup as backups
    from core.errors import DomainError

    settings = Settings()
    url = settings.resolved_database_url()
    if dest is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        dest = settings.data_dir / "backups" / f"sfa-{stamp}.backup"
    try:
        backups.backup(url, dest)
    except DomainError as exc:
        fail(f"backup failed: {exc.code} {exc.params}")
    except Exception as exc:  # pg_dump failed
        fail(f"backup failed: {exc.__class__.__name__}")
    click.echo(str(dest))


@main.command()
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database.")
def restore(source: Path, yes: bool) -> None:
    """Replace the database's contents with a backup made by `sfa backup`."""
    from core import backup as backups
    from core.errors import DomainError

    settings = Settings()
    if not yes:
        click.confirm("This replaces everything in the current database. Go on?", abort=True)
    try:
        backups.restore(settings.resolved_database_url(), source)
    except DomainError as exc:
        fail(f"restore failed: {exc.code} {exc.params}")
    except Exception as exc:
        fail(f"restore failed: {exc.__class__.__name__}")
    click.echo(f"restored from {source}")


@main.command()
@click.option("--telegram-webhook", "telegram_webhook", metavar="URL", default=None,
              help="Telegram webhook mode: the public HTTPS URL Telegram posts updates to.")
@click.option("--port", default=8443, show_default=True, type=click.IntRange(1, 65535),
              help="Port the Telegram webhook server listens on.")
@click.option("--slack-http", "slack_http", is_flag=True,
              help="Slack HTTP mode (signed requests to /slack/events on --port).")
@click.option("--no-scheduler", "no_scheduler", is_flag=True,
              help="A pure chat worker: run no sweeps/outbox here (`sfa scheduler` does).")
@click.option("--ops-port", "ops_port", default=None, type=click.IntRange(1, 65535),
              help="Also serve /healthz and /metrics on this port.")
def run(telegram_webhook: str | None, port: int, slack_http: bool = False,
        no_scheduler: bool = False, ops_port: int | None = None) -> None:
    """Run the bot: Telegram and/or Slack when configured, else the terminal chat."""
    if slack_http and not (Settings().slack_bot_token and Settings().slack_signing_secret):
        fail("--slack-http needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
    if telegram_webhook:
        if not Settings().telegram_bot_token:
            fail("--telegram-webhook needs TELEGRAM_BOT_TOKEN")
        if not telegram_webhook.startswith(("https://", "http://")):
            fail(f"--telegram-webhook needs a URL, got {telegram_webhook!r}")
    from bot.app import RunOptions

    app = load_app(seed_if_empty=True)
    app.run = RunOptions(telegram_webhook=(telegram_webhook, port) if telegram_webhook else None,
                         slack_http_port=port if slack_http else None,
                         scheduler=not no_scheduler, ops_port=ops_port)
    runner = getattr(app, "run_doors", None)
    if runner is not None and runner():
        return
    click.echo("No TELEGRAM_BOT_TOKEN or SLACK_BOT_TOKEN configured: opening the terminal "
               f"chat as the demo rep ({DEMO_LOGIN}).", err=True)
    _chat(app, DEMO_LOGIN, None)


for _module in CLI_MODULES:
    importlib.import_module(_module).register(main)
