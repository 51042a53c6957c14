"""`sfa chat --script` on the seeded demo: a manager's coverage view with its chart, "optimise
my team" applied move by move and all at once (both reps told through the outbox), and the
contacts and customers of an area with counts and a CSV; a rep sees only their own."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import main
from core.db import Database
from core.models import Company, Contact, Territory
from core.models.coverage import OwnershipMove
from tests.core.test_coverage import _overload

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
NOW = "2026-03-02T02:00:00+00:00"


def test_coverage_optimise_and_area_lists_through_the_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    env = {"SFA_DATABASE_URL": url, "SFA_DATA_DIR": str(tmp_path / "data"),
           "SFA_LOG_LEVEL": "CRITICAL"}
    runner = CliRunner()
    seeded = runner.invoke(main, ["seed", "--companies", "30", "--contacts", "60"], env=env)
    assert seeded.exit_code == 0, seeded.output
    db = Database(url)
    with db.session() as s:  # sari has 4 accounts nobody called, each with 2 open deals
        _overload(s, "sari", "Jakarta", accounts=4, deals_each=2,
                  now=datetime.fromisoformat(NOW).astimezone(UTC))
        jakarta = s.scalars(select(Territory).where(Territory.name == "Jakarta")).one()
        in_jakarta = s.scalar(select(func.count()).select_from(Contact).join(Company).where(
            Company.territory_id == jakarta.id))
    run = runner.invoke(main, ["chat", "--as", "maya", "--script",
                               str(SCENARIOS / "coverage_manager.txt"), "--now", NOW], env=env)
    assert run.exit_code == 0, run.output
    out = run.stdout
    downloads = Path(env["SFA_DATA_DIR"]) / "downloads"
    # the coverage view: a table per rep, the territories, the chart image
    view = out.split("maya: /team")[1].split("maya: [Optimise my team]")[0]
    table = view.splitlines()
    assert "Weighted (M)" in table[3] and "Visits" in table[3]
    assert table[5].split()[:3] == ["Sari", "Purnamasari", "12"]  # the most loaded first
    assert "Open deals per rep: most 12, least 3." in view
    assert "Jakarta (every industry):" in view and "never visited · 2 reps" in view
    assert (downloads / "coverage.png").read_bytes().startswith(b"\x89PNG")
    # the proposal: moves with reasons and the spread before and after
    proposal = out.split("maya: [Optimise my team]")[1].split("maya: [Apply 1]")[0]
    assert "Load spread (open deals per rep, most / least): now 12 / 3, after 8 / 4." \
        in proposal
    assert "1. Idle sari 0 (never contacted, 2 open deals) from Sari Purnamasari (12 open) " \
           "to Budi Santoso (3 open), Jakarta" in proposal
    applied = out.split("maya: [Apply 1]")[1].split("maya: /optimise")[0]
    assert "✅ Idle sari 0 and 2 open deals now belong to Budi Santoso; Sari Purnamasari and " \
           "Budi Santoso are told." in applied
    # both reps are told (sari reads Indonesian), through the outbox
    assert "bot → sari: Maya Wijaya memindahkan Idle sari 0 (dengan 2 peluang terbuka) ke " \
           "Budi Santoso" in applied
    assert "bot → budi: 📥 Maya Wijaya gave you Idle sari 0 (with 2 open deals) from Sari " \
           "Purnamasari" in applied
    rest = out.split("maya: [Apply all]")[1].split("maya: /contacts")[0]
    assert "now 10 / 3, after 8 / 4." in out.split("maya: /optimise")[1]
    assert "✅ Idle sari 1 and 2 open deals now belong to Budi Santoso" in rest
    assert "Open deals per rep now: most 8, least 4." in rest
    with db.session() as s:
        moves = list(s.scalars(select(OwnershipMove).order_by(OwnershipMove.id)))
        assert [m.kind for m in moves] == ["account", "account", "lead"]
        assert all(m.by_user_id == moves[0].by_user_id for m in moves)
    # the contacts of a region: counts, a preview, the CSV with every row
    contacts = out.split("maya: /contacts Jakarta")[1].split("maya: /customers")[0]
    assert "📍 Jakarta (that you can see): 9 customers · 15 contacts" in contacts
    assert "(no industry) 4 · Manufacturing 2" in contacts
    assert "… and 3 more in the CSV." in contacts
    rows = list(csv.reader(io.StringIO((downloads / "contacts-jakarta.csv").read_text(
        encoding="utf-8-sig"))))
    assert rows[0][:3] == ["Name", "Company", "Department"]
    assert len(rows) - 1 == 15 >= in_jakarta
    customers = out.split("maya: /customers manufacturing in Java West")[1].split("maya:")[0]
    assert "📍 Manufacturing in Java West (that you can see):" in customers
    assert (downloads / "customers-manufacturing-in-java-west.csv").is_file()
    assert "I know no region, territory, team or industry like" in out.split(
        "maya: /customers in Atlantis")[1]
    # a rep: only their own territories; no coverage view
    rep = out.split("budi: /contacts Jakarta")[1]
    assert "📍 Jakarta (that you can see): 9 customers · 15 contacts" in rep  # his territory
    assert "Your role cannot use that" in out.split("budi: /coverage")[1]
    db.dispose()
    # territories' industries from the command line, a CSV and the chat (admin)
    set_ok = runner.invoke(main, ["territory", "set", "Bandung", "--industries",
                                  "Retail, education,Retail"], env=env)
    assert set_ok.exit_code == 0 and "Bandung: industry=education,Retail" in set_ok.output
    clash = runner.invoke(main, ["territory", "set", "Surabaya", "--industries",
                                 "Logistics"], env=env)
    assert clash.exit_code != 0 and "Surabaya Industrial already covers" in clash.output
    norm = runner.invoke(main, ["territory", "set", "visit_norm", "10"], env=env)
    assert norm.exit_code == 0 and "visit_norm = 10" in norm.output
    bad = runner.invoke(main, ["territory", "set", "visit_norm", "ten"], env=env)
    assert bad.exit_code != 0 and "visit_norm takes a whole number" in bad.output
    unknown = runner.invoke(main, ["territory", "set", "Nowhere", "5"], env=env)
    assert unknown.exit_code != 0 and "unknown setting 'Nowhere'" in unknown.output
    csv_file = tmp_path / "territories.csv"
    csv_file.write_text("name,region,industries,team,reps\n"
                        "Jakarta Hotels,Jakarta,Hospitality|Education,Java West,budi\n"
                        "Broken,,Retail,,\n", encoding="utf-8")
    imported = runner.invoke(main, ["territory", "import", str(csv_file)], env=env)
    assert "1 territories saved, 1 errors" in imported.output
    listed = runner.invoke(main, ["territory", "list"], env=env).output
    assert "Bandung\tregion=Bandung\tindustry=education,Retail\tteam=Java West" in listed
    assert "Jakarta Hotels\tregion=Jakarta\tindustry=Education,Hospitality" in listed
    assert "Surabaya Industrial\tregion=Surabaya\tindustry=Logistics,Manufacturing" in listed
    chat = runner.invoke(main, ["chat", "--as", "admin", "--script", "-"], env=env,
                         input="/territory industries Medan | Retail, Logistics\n"
                               "/territory industries Medan | " + "x" * 90 + "\n"
                               "/territory list\n")
    assert "Medan now covers: Logistics, Retail." in chat.output
    assert "Medan: Medan · Logistics, Retail · reps kevin, rahmat" in chat.output
    assert chat.output.count("Medan now covers") == 1  # the long one is refused
