"""`sfa` commands of the pipeline area: `sfa territory ...` (teams, territories, reps,
allocation settings, CSV) and `sfa import leads`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from sqlalchemy import func, select

from core.errors import DomainError


def _admin(session):
    from core.models import Role, User

    admin = session.scalar(select(User).where(User.role == Role.ADMIN.value, User.active)
                           .order_by(User.id).limit(1))
    if admin is None:
        from bot.cli import fail

        fail("no active admin user: create one with `sfa users add`")
    return admin


def _run(fn, *, words: bool = False) -> None:
    """Echo fn(session, admin, now) (with words=True also the English words of errors, for
    reporting refused rows); a refusal is one line."""
    from bot.cli import english, fail, load_app

    app = load_app()
    t = english(app)
    try:
        with app.db.session() as session:
            args = (session, _admin(session), app.clock.now())
            click.echo(fn(*args, t) if words else fn(*args))
    except DomainError as exc:
        fail(t.error(exc.code, exc.params))


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
        from core.territory import industries_of

        def show(session, admin, now) -> str:
            lines = []
            rows = list(session.scalars(select(Territory).order_by(Territory.name)))
            covered = industries_of(session, [r.id for r in rows])
            for row in rows:
                team = session.get(Team, row.team_id) if row.team_id else None
                boss = session.get(User, team.manager_id) if team and team.manager_id else None
                reps = ", ".join(sorted(u.login for u in row.reps)) or "-"
                industries = ",".join(covered.get(row.id, [])) or "-"
                lines.append(f"{row.name}\tregion={row.region}\tindustry={industries}"
                             f"\tteam={team.name if team else '-'}"
                             f"\tmanager={boss.login if boss else '-'}\treps={reps}")
            return "\n".join(lines) or "no territories"

        _run(show)

    @territory.command("add")
    @click.argument("name")
    @click.option("--region", required=True)
    @click.option("--industry", "industry", multiple=True,
                  help="An industry it covers (repeat, or separate with commas); none: every "
                       "industry of the region that no other territory there covers.")
    @click.option("--team", default=None)
    def territory_add(name: str, region: str, industry: tuple[str, ...],
                      team: str | None) -> None:
        """Create or update a territory."""
        from core.territory import parse_industries, upsert_territory

        industries = parse_industries(",".join(industry)) if industry else None

        def do(s, a, now) -> str:
            row = upsert_territory(s, a, name, region=region, industries=industries, team=team)
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
    @click.argument("value", required=False)
    @click.option("--industries", default=None,
                  help="With a territory's name as KEY: the industries it covers, separated "
                       "by commas (\"\" = every industry of its region).")
    def territory_set(key: str, value: str | None, industries: str | None) -> None:
        """Set an allocation setting (claim_minutes, contact_by_days, lead_cap, visit_norm,
        deal_cap, account_cap) to VALUE, or a territory's --industries."""
        from bot.cli import fail
        from core.territory import (
            DEFAULTS,
            industries_of,
            parse_industries,
            set_industries,
            set_setting,
        )

        if industries is not None:
            def do_industries(s, a, now) -> str:
                row = set_industries(s, a, key, parse_industries(industries))
                names = ",".join(industries_of(s, [row.id]).get(row.id, [])) or "every industry"
                return f"{row.name}: industry={names}"

            _run(do_industries)
            return
        if key not in DEFAULTS:
            fail(f"unknown setting {key!r} (known: {', '.join(DEFAULTS)}); for a territory's "
                 "industries: sfa territory set NAME --industries \"A,B\"")
        text = (value or "").strip()
        if not text.isdigit():
            fail(f"{key} takes a whole number, e.g. sfa territory set {key} 10")
        number = int(text)

        def do(s, a, now) -> str:
            set_setting(s, a, key, number, now)
            return f"{key} = {number}"

        _run(do)

    @territory.command("import")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    def territory_import(file: Path) -> None:
        """Territories from a CSV: name, region, industries (split by , or |; or one
        industry), team, reps (logins split by |)."""
        from core.territory import assign_rep, parse_industries, upsert_territory

        rows = _read_csv(file)

        def do(s, a, now, words) -> str:
            from core.csv_files import row_error

            done, errors = 0, []
            for line, row in rows:
                unreadable = row_error(row)
                try:
                    if unreadable is not None:
                        raise DomainError(unreadable.code, **unreadable.params)
                    with s.begin_nested():
                        listed = row.get("industries") or row.get("industry") or ""
                        t = upsert_territory(s, a, row.get("name", ""),
                                             region=row.get("region", ""),
                                             industries=parse_industries(listed)
                                             if listed.strip() else None,
                                             team=row.get("team") or None)
                        for login in filter(None, (row.get("reps") or "").split("|")):
                            assign_rep(s, a, t.name, login.strip())
                    done += 1
                except DomainError as exc:
                    errors.append(f"line {line}: {words.error(exc.code, exc.params)}")
            return "\n".join([f"{done} territories saved, {len(errors)} errors", *errors])

        _run(do, words=True)

    @import_group.command("leads")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--as", "login", default=None, help="Created by (default: the admin).")
    @click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
    def import_leads(file: Path, login: str | None, dry_run: bool) -> None:
        """New leads from a CSV (company, contact, need, source, amount): each is matched to
        a territory and announced to its team, like /newlead. A lead already there (same
        company, contact, need and source) is not created again: a second run of the same
        file creates nothing."""
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
