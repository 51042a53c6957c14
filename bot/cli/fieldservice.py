"""`sfa` commands of the fieldservice area: `sfa import jobs`, `sfa technicians`."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import Any

import click


def _words(app: Any, code: str, params: dict[str, object]) -> str:
    from bot.cli import english

    return english(app).error(code, params)


def _minutes(text: str) -> int:
    hours, _, minutes = text.strip().partition(":")
    if not (hours.isdigit() and (minutes or "0").isdigit()):
        raise ValueError(text)
    value = int(hours) * 60 + int(minutes or 0)
    if not 0 <= value <= 24 * 60:
        raise ValueError(text)
    return value


def _keyed_jobs(csv_file: Any) -> tuple[str, dict[int, int], list[tuple[int, str, dict]]]:
    """The readable rows as CSV text for core.fieldservice.import_jobs, each with a key: its
    own external_id, else `row-` and a hash of its content (the natural key of a job row,
    so that importing the same file again creates nothing); the map from the text's line
    numbers to the file's; the rows that could not be read, with their errors."""
    from core.csv_files import row_error

    header = [h for h in csv_file.header if h]
    columns = header if "external_id" in header else [*header, "external_id"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    lines: dict[int, int] = {}
    unreadable: list[tuple[int, str, dict]] = []
    for line, row in csv_file.rows:
        error = row_error(row)
        if error is not None:
            unreadable.append((line, error.code, error.params))
            continue
        if row.get("__extra__"):
            unreadable.append((line, "import.extra_columns", {}))
            continue
        values = {c: row.get(c, "") for c in header}
        if not values.get("external_id"):
            content = "\x1f".join(" ".join(values[c].split()).casefold() for c in header
                                   if c != "external_id")
            values["external_id"] = "row-" + hashlib.sha256(content.encode()).hexdigest()[:40]
        writer.writerow([values.get(c, "") for c in columns])
        lines[len(lines) + 2] = line
    return out.getvalue(), lines, unreadable


def register(main: click.Group) -> None:
    """Add this area's commands to `sfa`."""
    from bot.cli import fail, import_group, load_app

    @import_group.command("jobs")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--as", "login", default=None, help="Record the jobs as created by LOGIN "
                  "(a manager or admin).")
    @click.option("--no-dispatch", is_flag=True, help="Create the jobs without offering them.")
    @click.option("--dry-run", is_flag=True, help="Check the file; write nothing.")
    def import_jobs(path: Path, login: str | None, no_dispatch: bool, dry_run: bool) -> None:
        """Import service jobs from a CSV file and dispatch them.

        Columns: company (name or external id), skill, priority (P1-P4), description;
        optional: equipment, address, lat, lon, window_start, window_end (ISO date-times
        with an offset), external_id (rows whose external_id exists are skipped).
        """
        from bot.cli import read_import_file
        from core import fieldservice
        from core.errors import DomainError
        from core.users import get_user_by_login

        csv_file = read_import_file(path)
        text, lines, unreadable = _keyed_jobs(csv_file)
        app = load_app()
        with app.db.sessionmaker() as session:
            by = None
            if login:
                try:
                    by = get_user_by_login(session, login)
                except DomainError:
                    fail(f"no user with login {login!r}")
            try:
                result = fieldservice.import_jobs(session, text, now=app.clock.now(), by=by,
                                                  dispatch_now=not no_dispatch)
            except DomainError as exc:
                fail(f"{path.name}: {_words(app, exc.code, exc.params)}")
            if dry_run:
                session.rollback()
            else:
                session.commit()
        errors = sorted([(lines[line], code, params) for line, code, params in result.errors]
                        + unreadable)
        for line, code, params in errors:
            click.echo(f"line {line}: {_words(app, code, params)}", err=True)
        verb = "would import" if dry_run else "imported"
        click.echo(f"{verb} {len(result.created)} jobs, skipped {result.skipped} already "
                   f"imported, {len(errors)} rows with errors")
        if errors and not result.created:
            raise SystemExit(1)

    @main.group("technicians")
    def technicians() -> None:
        """Technician profiles for dispatch: skills, working hours, load cap."""

    @technicians.command("list")
    def list_technicians() -> None:
        """Show every technician's dispatch profile."""
        from sqlalchemy import select

        from core.models import Role, User
        from core.models.fieldservice import TechnicianProfile, TechnicianSkill

        app = load_app()
        with app.db.session() as session:
            users = session.scalars(select(User).where(User.role == Role.TECHNICIAN.value)
                                    .order_by(User.login)).all()
            for user in users:
                profile = session.get(TechnicianProfile, user.id)
                skills = ",".join(session.scalars(select(TechnicianSkill.skill).where(
                    TechnicianSkill.user_id == user.id).order_by(TechnicianSkill.skill)))
                if profile is None:
                    click.echo(f"{user.login}: no profile (not dispatched)")
                    continue
                s, e = profile.shift_start_min, profile.shift_end_min
                click.echo(f"{user.login}: skills {skills or '-'}; {s // 60:02d}:{s % 60:02d}-"
                           f"{e // 60:02d}:{e % 60:02d} on days {profile.work_days} "
                           f"(0=Mon); load cap {profile.load_cap}")

    @technicians.command("set")
    @click.argument("login")
    @click.option("--skills", required=True, help="Comma-separated, e.g. repair,network.")
    @click.option("--shift", default="08:00-17:00", show_default=True)
    @click.option("--days", default="01234", show_default=True, help="Weekdays, 0 = Monday.")
    @click.option("--cap", default=4, show_default=True, type=click.IntRange(1, 50))
    def set_technician(login: str, skills: str, shift: str, days: str, cap: int) -> None:
        """Create or replace a technician's dispatch profile."""
        from core import technicians as technician_svc
        from core.errors import DomainError
        from core.users import get_user_by_login

        try:
            start_text, end_text = shift.split("-")
            window = (_minutes(start_text), _minutes(end_text))
        except ValueError:
            fail(f"--shift needs HH:MM-HH:MM, got {shift!r}")
        if not days or any(d not in "0123456" for d in days):
            fail(f"--days needs weekday digits 0-6 (0 = Monday), got {days!r}")
        app = load_app()
        with app.db.session() as session:
            try:
                user = get_user_by_login(session, login)
                technician_svc.set_profile(session, user, skills=skills.split(","),
                                           now=app.clock.now(), shift=window, work_days=days,
                                           load_cap=cap)
            except DomainError as exc:
                if exc.code == "user.not_found":
                    fail(f"no user with login {login!r}")
                fail(_words(app, exc.code, exc.params))
        click.echo(f"{login}: profile saved")
