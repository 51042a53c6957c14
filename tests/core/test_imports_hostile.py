"""Hostile and careless CSV files: every good row is imported, every bad one is named with its
line and reason, nothing runs where an export is opened, and imports never duplicate.

The core tests run on SQLite and on PostgreSQL (SFA_TEST_DATABASE_URL: a NUL byte there was
a DataError that lost the whole file); the CLI tests run the real `sfa` on a SQLite file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import main
from core.clock import ManualClock
from core.csv_files import read_csv, read_csv_bytes, restore_cell, spreadsheet_safe, write_csv
from core.db import Database
from core.demo import DemoWorld
from core.imports import (
    CONTACT_COLUMNS,
    export_contacts,
    import_companies,
    import_contacts,
    import_leads,
)
from core.models import Company, Contact, Deal, User

FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "@SUM(A1:A9)", "=HYPERLINK(\"http://x\",\"y\")",
            "-2+3+cmd|' /C calc'!A0", "\t=1+1", "'=already quoted"]


def _errors(report) -> dict[int, str]:
    return {e.line: e.code for e in report.errors}


# -- reading -------------------------------------------------------------------------------
def test_hostile_contacts_file_keeps_every_good_row(database: Database, world: DemoWorld,
                                                    clock: ManualClock) -> None:
    lines = [
        "name,company,job_title",
        "Good One,Sinar Jaya Abadi,Buyer",                    # 2
        "Long Field,Sinar Jaya Abadi," + "x" * 200_000,       # 3: _csv.Error before
        "Nul \x00 Byte,Sinar Jaya Abadi,Buyer",               # 4: DataError on PostgreSQL
        "\x1b[2JClear Screen,Sinar Jaya Abadi,Buyer",         # 5: ANSI escape
        "Good Two,Sinar Jaya Abadi,\"Head of\nPurchasing\"",  # 6-7: a legit multi-line cell
        "Bidi \u202eEvil,Sinar Jaya Abadi,Buyer",             # 8
        'Broken,"Sinar Jaya Abadi,Buyer',                     # 9: a quote never closed
        "Good Three,Sinar Jaya Abadi,Buyer",                  # 10: must not be swallowed
        "Good Four,Sinar Jaya Abadi,Buyer",                   # 11
    ]
    data = ("\n".join(lines) + "\n").encode() + b"Bad \xff\xfe Bytes,Sinar Jaya Abadi,X\n" \
        + b"Good Five,Sinar Jaya Abadi,Buyer\n"      # 12: not UTF-8, 13: good
    rows = read_csv_bytes(data).rows
    with database.session() as s:
        report = import_contacts(s, rows, clock.now())
    assert _errors(report) == {3: "import.cell_too_long", 4: "import.control_chars",
                               5: "import.control_chars", 8: "import.control_chars",
                               9: "import.unclosed_quote", 12: "import.bad_encoding"}
    assert report.created == 5
    with database.session() as s:
        names = set(s.scalars(select(Contact.name).where(Contact.name.like("Good %"))))
        assert names == {"Good One", "Good Two", "Good Three", "Good Four", "Good Five"}
        assert s.scalar(select(Contact.job_title).where(Contact.name == "Good Two")) == \
            "Head of\nPurchasing"
        stored = " ".join(s.scalars(select(Contact.name)))
        assert "\x1b" not in stored and "\x00" not in stored and "\u202e" not in stored


def test_unclosed_quote_at_the_end_and_in_the_last_column() -> None:
    _, rows = read_csv('name,company\nA,X\nB,"never closed\nC,X\nD,X\n')
    assert [(line, "__error__" in row) for line, row in rows] == [
        (2, False), (3, True), (4, False), (5, False)]
    _, rows = read_csv('name,company\n"A,X\nB,X\n')
    assert [(line, "__error__" in row) for line, row in rows] == [(2, True), (3, False)]


def test_windows_1252_file_from_excel(database: Database, world: DemoWorld,
                                      clock: ManualClock) -> None:
    text = ("name;company;job_title\r\nJosé Müller;Sinar Jaya Abadi;Directeur Général\r\n"
            "René “Rene” Ñoño;Sinar Jaya Abadi;Budget € 5.000\r\n")
    csv_file = read_csv_bytes(text.encode("cp1252"))
    assert csv_file.encoding == "cp1252"
    with database.session() as s:
        report = import_contacts(s, csv_file.rows, clock.now())
    assert (report.created, report.errors) == (2, [])
    with database.session() as s:
        titles = dict(s.execute(select(Contact.name, Contact.job_title).where(
            Contact.name.in_(["José Müller", "René “Rene” Ñoño"]))).all())
    assert titles == {"José Müller": "Directeur Général", "René “Rene” Ñoño": "Budget € 5.000"}


def test_bad_numbers_are_named(database: Database, world: DemoWorld, clock: ManualClock
                               ) -> None:
    _, rows = read_csv("name,employees\nAlpha Satu,12\nBeta Dua,²\nGamma Tiga,1e999\n"
                       "Delta Empat,NaN\n")
    with database.session() as s:
        report = import_companies(s, rows, clock.now())
    assert report.created == 1
    assert _errors(report) == {3: "import.bad_number", 4: "import.bad_number",
                               5: "import.bad_number"}


# -- leads -----------------------------------------------------------------------------------
def test_leads_are_idempotent_and_bad_amounts_named(database: Database, world: DemoWorld,
                                                    clock: ManualClock) -> None:
    text = ("company,contact,need,source,amount\n"
            "Sinar Jaya Abadi,Joko Susilo,Laptops,event,150000000\n"
            "Sinar Jaya Abadi,,Servers,web,\n"
            "Sinar Jaya Abadi,,Printers,web,NaN\n"
            "Sinar Jaya Abadi,,Routers,web,Infinity\n"
            "Sinar Jaya Abadi,,Desks,web,1e999\n"
            "Sinar Jaya Abadi,,Chairs,web,-5\n"
            "Sinar Jaya Abadi,Nobody Here,Chairs,web,5\n")
    _, rows = read_csv(text)
    with database.session() as s:
        admin = s.scalar(select(User).where(User.login == "admin"))
        before = s.scalar(select(func.count(Deal.id)))
        first = import_leads(s, rows, clock.now(), user=admin)
    assert first.created == 2
    assert _errors(first) == {4: "import.bad_amount", 5: "import.bad_amount",
                              6: "import.bad_amount", 7: "import.bad_amount",
                              8: "import.unknown_contact"}
    with database.session() as s:
        admin = s.scalar(select(User).where(User.login == "admin"))
        second = import_leads(s, rows, clock.now(), user=admin)
        assert s.scalar(select(func.count(Deal.id))) == before + 2
    assert (second.created, second.unchanged) == (0, 2)
    # The same lead typed differently (case, spaces) is the same lead.
    _, again = read_csv("company,contact,need,source\nsinar jaya abadi,joko susilo,"
                        " laptops ,EVENT\n")
    with database.session() as s:
        admin = s.scalar(select(User).where(User.login == "admin"))
        assert import_leads(s, again, clock.now(), user=admin).unchanged == 1


# -- exports ---------------------------------------------------------------------------------
def test_spreadsheet_safe_round_trip() -> None:
    for value in [*FORMULAS, "-12.5", "+62 812 555", "plain", "'quoted", "", "=", "''=x"]:
        written = spreadsheet_safe(value)
        assert restore_cell(written) == value
        if value.lstrip("'").startswith(("=", "+", "@", "\t")) or value == "-2+3+cmd|' /C " \
                "calc'!A0":
            assert written.startswith("'"), value
    assert spreadsheet_safe("-12.5") == "-12.5"  # a plain number stays a number


def test_export_neutralises_formulas_and_round_trip_changes_nothing(
        database: Database, world: DemoWorld, clock: ManualClock) -> None:
    rows = "name,company,job_title,department\n" + "".join(
        f"Formula {i},Sinar Jaya Abadi,{_cell(f)},Sales\n" for i, f in enumerate(FORMULAS))
    # Four contacts with no external id, e-mail or phone (the round trip duplicated them).
    rows += "".join(f"Keyless {i},Sinar Jaya Abadi,,\n" for i in range(4))
    _, parsed = read_csv(rows)
    with database.session() as s:
        report = import_contacts(s, parsed, clock.now())
    assert report.errors == [] and report.created == len(FORMULAS) + 4
    with database.session() as s:
        stored = dict(s.execute(select(Contact.name, Contact.job_title)
                                .where(Contact.name.like("Formula %"))).all())
    assert sorted(stored.values()) == sorted(restore_cell(f).strip() for f in FORMULAS)

    out = io.StringIO()
    with database.session() as s:
        count = write_csv(out, CONTACT_COLUMNS, export_contacts(s))
        total = s.scalar(select(func.count(Contact.id)))
    assert count == total
    cells = [cell for row in csv.reader(io.StringIO(out.getvalue())) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
    assert not [c for c in cells if c[:1] == "-" and not c[1:].replace(".", "").isdigit()]
    _, back = read_csv(out.getvalue())
    with database.session() as s:
        again = import_contacts(s, back, clock.now())
        assert s.scalar(select(func.count(Contact.id))) == total
    assert (again.created, again.updated, again.errors) == (0, 0, [])
    assert again.unchanged == total


def _cell(value: str) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([value])
    return out.getvalue().rstrip("\r\n")


def test_same_name_with_another_email_is_another_person(database: Database, world: DemoWorld,
                                                        clock: ManualClock) -> None:
    _, rows = read_csv("name,company,email\nAgus Salim,Sinar Jaya Abadi,agus1@x.id\n"
                       "Agus Salim,Sinar Jaya Abadi,agus2@x.id\n"
                       "Agus Salim,Sinar Jaya Abadi,\n")
    with database.session() as s:
        report = import_contacts(s, rows, clock.now())
    assert (report.created, report.unchanged) == (2, 1)


# -- the real command line -----------------------------------------------------------------
@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "CRITICAL"}
    assert CliRunner().invoke(main, ["seed", "--companies", "20", "--contacts", "40",
                                     "--base-only"], env=env).exit_code == 0
    return env


def test_cli_hostile_leads_and_export(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    leads = tmp_path / "leads.csv"
    leads.write_bytes(("company;contact;need;source;amount\n"
                       "Sinar Jaya Abadi;;Kühlschränke für Büro;Messe München;1000\n"
                       "Sinar Jaya Abadi;;Crédit;web;NaN\n").encode("latin-1"))
    first = runner.invoke(main, ["import", "leads", str(leads)], env=env)
    assert first.exit_code == 0, first.output
    assert "3 rows" not in first.output and "2 rows, imported 1: 1 created" in first.output
    assert 'line 3: amount must be an amount of zero or more, not "NaN"' in first.output
    assert "Traceback" not in first.output
    second = runner.invoke(main, ["import", "leads", str(leads)], env=env)
    assert "imported 1: 0 created, 0 updated, 1 unchanged" in second.output

    contacts = tmp_path / "contacts.csv"
    contacts.write_text("name,company\n\"=cmd|' /C calc'!A0\",Sinar Jaya Abadi\n"
                        "Big," + "y" * 200_000 + "\nEsc \x1b[2J,Sinar Jaya Abadi\n"
                        "Fine Person,Sinar Jaya Abadi\n", encoding="utf-8")
    done = runner.invoke(main, ["import", "contacts", str(contacts)], env=env)
    assert "4 rows, imported 2: 2 created" in done.output, done.output
    assert "line 3: #2 is 200000 characters long; the limit is 65536" in done.output \
        or "line 3: company is 200000 characters long" in done.output
    assert "line 4: name has control characters" in done.output
    assert "\x1b" not in done.output
    exported = runner.invoke(main, ["export", "contacts"], env=env)
    assert "\n,'=cmd|' /C calc'!A0,Sinar Jaya Abadi," in exported.output.replace('"', "")
    out = tmp_path / "export.csv"
    out.write_text(exported.output, encoding="utf-8")
    again = runner.invoke(main, ["import", "contacts", str(out)], env=env)
    assert "0 created, 0 updated" in again.output and "0 with errors" in again.output


def test_cli_refuses_binary_and_oversized_files(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    xlsx = tmp_path / "contacts.csv"
    xlsx.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4)
    result = runner.invoke(main, ["import", "contacts", str(xlsx)], env=env)
    assert result.exit_code == 2 and "is not a CSV text file" in result.output
    big = tmp_path / "big.csv"
    big.write_text("name,company\n" + "A,B\n" * 300, encoding="utf-8")
    result = runner.invoke(main, ["import", "contacts", str(big)],
                           env={**env, "SFA_MAX_IMPORT_BYTES": "1000"})
    assert result.exit_code == 2 and "the import limit is" in result.output
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("company,skill,priority,description\nSinar Jaya Abadi,repair,P2,Jam\n"
                    "Sinar Jaya Abadi,repair,P9,Bad \x00\n", encoding="utf-8")
    first = runner.invoke(main, ["import", "jobs", str(jobs), "--no-dispatch"], env=env)
    assert "imported 1 jobs" in first.output and "line 3: " in first.output
    second = runner.invoke(main, ["import", "jobs", str(jobs), "--no-dispatch"], env=env)
    assert "imported 0 jobs, skipped 1 already imported" in second.output


async def test_terminal_door_prints_no_control_characters(app, database: Database,
                                                         clock: ManualClock) -> None:
    """A name stored before the import refused escapes (or written by other means) still
    never reaches the terminal raw."""
    from bot.handlers.console import ConsoleDoor

    with database.session() as s:
        company = s.scalar(select(Company).where(Company.name == "Sinar Jaya Abadi"))
        s.add(Contact(name="Evil\x1b[2J\x1b]0;pwned\x07 Person", company_id=company.id,
                      created_at=clock.now(), updated_at=clock.now()))
    out = io.StringIO()
    door = ConsoleDoor(app.engine, "budi", out=out)
    await door.send("/find Evil Person")
    printed = out.getvalue()
    assert "Evil[2J]0;pwned Person" in printed  # the name was printed, its controls not
    assert "\x1b" not in printed and "\x07" not in printed


def test_report_csv_neutralises_names() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from bot.conversations.reports import render_csv
    from bot.i18n import Translator
    from core.report_spec import ReportRow, ReportSpec, ReportTable

    table = ReportTable(
        spec=ReportSpec("won", group_by="customer"), columns=("count", "amount"),
        rows=[ReportRow(1, "=HYPERLINK(\"http://x\",\"open\")", {"count": 2,
                                                                "amount": Decimal("-5.5")}),
              ReportRow(2, "@SUM(A1)", {"count": 1, "amount": None})],
        start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 4, 1, tzinfo=UTC))
    rows = list(csv.reader(io.StringIO(render_csv(Translator("en"), table).decode())))
    assert rows[1][0] == "'=HYPERLINK(\"http://x\",\"open\")" and rows[1][2] == "-5.5"
    assert rows[2][0] == "'@SUM(A1)"


def test_a_chunk_that_fails_is_done_again_row_by_row(database: Database, world: DemoWorld,
                                                      clock: ManualClock) -> None:
    """A large file goes in chunks of one flush each; a chunk with a row the database (or
    the upsert) refuses is rolled back and done row by row: same report, no duplicate."""
    from core.csv_files import import_chunked
    from core.errors import DomainError as Refused
    from core.imports import ContactImporter

    class Picky(ContactImporter):
        def upsert(self, session, values):  # type: ignore[no-untyped-def]
            if values["name"] == "Boom Row":
                raise Refused("import.conflict")
            return super().upsert(session, values)

    text = "name,company,email\n" + "".join(
        f"Chunk Person {i},Sinar Jaya Abadi,chunk{i}@x.id\n" for i in range(25)) \
        + "Boom Row,Sinar Jaya Abadi,boom@x.id\n" + "Chunk Person 3,Sinar Jaya Abadi,\n"
    _, rows = read_csv(text)
    with database.session() as s:
        report = import_chunked(s, rows, Picky(s, clock.now()), chunk=10)
    assert (report.total, report.created, report.unchanged) == (27, 25, 1)
    assert [(e.line, e.code) for e in report.errors] == [(27, "import.conflict")]
    with database.session() as s:
        again = import_chunked(s, rows, Picky(s, clock.now()), chunk=10)
        assert s.scalar(select(func.count(Contact.id)).where(
            Contact.name.like("Chunk Person %"))) == 25
    assert (again.created, again.updated, again.unchanged) == (0, 0, 26)
