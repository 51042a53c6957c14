"""`sfa` commands of the pipeline area: `sfa territory ...` (teams, territories, reps,
allocation settings, CSV) and `sfa import leads`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from sqlalchemy import func, select

from bot.i18n import Translator
from core.errors import DomainError


def _admin(session):
    from core.models import Role, User

    admin = session.scalar(select(User).where(User.role == Role.ADMIN.value, User.active)
                           .order_by(User.id).limit(1))
    if admin is None:
        from bot.cli import fail

        fail("no active admin user: create one with `sfa users add`")
    return admin


def _words(exc: DomainError) -> str:
    return Translator("en").error(exc.code, exc.params)


def _run(fn) -> None:
    from bot.cli import fail, load_app

    app = load_app()
    try:
        with app.db.session() as session:
            click.echo(fn(session, _admin(session), app.clock.now()))
    except DomainError as exc:
        fail(_words(exc))


def _read_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    from bot.cli import read_import_file

    return read_import_file(path).rows


def register(main: click.Group) -> None:
    """Add `sfa territory ...` and `sfa import leads`."""
    from bot.cli import import_group

    @main.group()
    def territory() -> None:
        """Teams, territories, reps and lead allocation settings."""

    @territory.command("list")
    def territory_list() -> None:
        """Every territory with its team, manager and reps."""
        from core.models import Team, Territory, User

        def show(session, admin, now) -> str:
            lines = []
            for row in session.scalars(select(Territory).order_by(Territory.name)):
                team = session.get(Team, row.team_id) if row.team_id else None
                boss = session.get(User, team.manager_id) if team and team.manager_id else None
                reps = ", ".join(sorted(u.login for u in row.reps)) or "-"
                lines.append(f"{row.name}\tregion={row.region}\tindustry={row.industry or '-'}"
                             f"\tteam={team.name if team else '-'}"
                             f"\tmanager={boss.login if boss else '-'}\treps={reps}")
            return "\n".join(lines) or "no territories"

        _run(show)

    @territory.command("add")
    @click.argument("name")
    @click.option("--region", required=True)
    @click.option("--industry", default=None)
    @click.option("--team", default=None)
    def territory_add(name: str, region: str, industry: str | None, team: str | None) -> None:
        """Create or update a territory."""
        from core.territory import upsert_territory

        def do(s, a, now) -> str:
            row = upsert_territory(s, a, name, region=region, industry=industry, team=team)
            return f"territory {row.name} saved"

        _run(do)

    @territory.command("rep")
    @click.argument("territory_name")
    @click.argument("login")
    @click.option("--remove", is_flag=True)
    def territory_rep(territory_name: str, login: str, remove: bool) -> None:
        """Add (or --remove) a rep to a territory."""
        from core.territory import assign_rep

        def do(s, a, now) -> str:
            assign_rep(s, a, territory_name, login, remove=remove)
            return f"{login} {'removed from' if remove else 'added to'} {territory_name}"

        _run(do)

    @territory.command("team")
    @click.argument("name")
    @click.option("--manager", default=None, help="Manager login.")
    @click.option("--channel", default=None, help="PLATFORM:CHAT_ID of the team channel.")
    @click.option("--threshold", default=None, help="Contract approval threshold.")
    def territory_team(name: str, manager: str | None, channel: str | None,
                       threshold: str | None) -> None:
        """Create or update a team."""
        from bot.cli import fail
        from core.territory import upsert_team

        chan = None
        if channel:
            platform, _, chat_id = channel.partition(":")
            if not platform or not chat_id:
                fail("--channel takes PLATFORM:CHAT_ID, e.g. telegram:-1001234")
            chan = (platform, chat_id)
        amount = None
        if threshold is not None:
            try:
                amount = Decimal(threshold)
            except InvalidOperation:
                fail(f"--threshold must be a number, not {threshold!r}")
        def do(s, a, now) -> str:
            team = upsert_team(s, a, name, manager=manager, channel=chan, threshold=amount)
            return f"team {team.name} saved"

        _run(do)

    @territory.command("set")
    @click.argument("key")
    @click.argument("value", type=int)
    def territory_set(key: str, value: int) -> None:
        """Set claim_minutes, contact_by_days or lead_cap."""
        from core.territory import set_setting

        def do(s, a, now) -> str:
            set_setting(s, a, key, value, now)
            return f"{key} = {value}"

        _run(do)

    @territory.command("import")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    def territory_import(file: Path) -> None:
        """Territories from a CSV: name, region, industry, team, reps (logins split by |)."""
        from core.territory import assign_rep, upsert_territory

        rows = _read_csv(file)

        def do(s, a, now) -> str:
            from core.imports import row_error

            done, errors = 0, []
            for line, row in rows:
                unreadable = row_error(row)
                try:
                    if unreadable is not None:
                        raise DomainError(unreadable.code, **unreadable.params)
                    with s.begin_nested():
                        t = upsert_territory(s, a, row.get("name", ""),
                                             region=row.get("region", ""),
                                             industry=row.get("industry") or None,
                                             team=row.get("team") or None)
                        for login in filter(None, (row.get("reps") or "").split("|")):
                            assign_rep(s, a, t.name, login.strip())
                    done += 1
                except DomainError as exc:
                    errors.append(f"line {line}: {_words(exc)}")
            return "\n".join([f"{done} territories saved, {len(errors)} errors", *errors])

        _run(do)

    @import_group.command("leads")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--as", "login", default=None, help="Created by (default: the admin).")
    @click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
    def import_leads(file: Path, login: str | None, dry_run: bool) -> None:
        """New leads from a CSV (company, contact, need, source, amount): each is matched to
        a territory and announced to its team, like /newlead. A lead already there (same
        company, contact, need and source) is not created again: a second run of the same
        file creates nothing."""
        import bot.cli.contacts  # noqa: F401  (the words of the import.* codes)
        from bot.cli import fail, read_import_file, run_import
        from core.imports import import_leads as run
        from core.models import User

        rows = read_import_file(file, ("company",)).rows

        def importer(session, rows, now, progress=None):
            user = _admin(session)
            if login:
                user = session.scalar(select(User).where(func.lower(User.login) ==
                                                         login.lower()))
                if user is None:
                    fail(f"no user {login!r}")
            return run(session, rows, now, user=user, progress=progress)

        run_import(importer, rows, label="leads", path=file, dry_run=dry_run)
