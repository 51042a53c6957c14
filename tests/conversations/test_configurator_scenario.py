"""`sfa chat --script` on the seeded demo: "configure a solution for Utama Indah" asks only
what matters, one question at a time with buttons, proposes a budget and a recommended bill
of materials with totals, makes the quote (a PDF) in one tap; configured again it reopens
with its answers and its quote becomes the next version; an answer nothing fits is never
offered."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from pypdf import PdfReader
from sqlalchemy import select

from bot.cli import main
from core.db import Database
from core.models import Company
from core.models.configurator import Configuration
from core.models.quotes import Quote

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def test_configure_a_solution_through_the_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    env = {"SFA_DATABASE_URL": url, "SFA_DATA_DIR": str(tmp_path / "data"),
           "SFA_LOG_LEVEL": "CRITICAL"}
    runner = CliRunner()
    seeded = runner.invoke(main, ["seed", "--contacts", "150"], env=env)
    assert seeded.exit_code == 0, seeded.output
    listed = runner.invoke(main, ["configurator", "list"], env=env)
    assert "server_room\tServer room\tquestions=users,sites,storage_tb,uptime,budget" \
        "\tproducts=3\tactive" in listed.output
    run = runner.invoke(main, ["chat", "--as", "budi", "--script",
                               str(SCENARIOS / "configurator_rep.txt")], env=env)
    assert run.exit_code == 0, run.output
    out = run.stdout
    steps = [step.split("\n", 1) for step in ("\n" + out).split("\nbudi: ")[1:]]

    def after(line: str, nth: int = 1) -> str:
        """What the bot answered to the nth time budi said `line`."""
        answers = [rest for said, rest in steps if said == line]
        return answers[nth - 1]

    said = {line: after(line) for line, _rest in steps}
    assert "[1] Hotel rooms  [2] Office connectivity  [3] Server room" in \
        after("/configure Utama Indah")
    assert "How many people will use the system?" in said["[Server room]"]
    # 25 users: the storage question (asked from 100 users) never comes
    assert "How many sites" in said["[Up to 25]"]
    assert "Does it have to run day and night?" in said["[2]"]
    assert "Which budget band?" in said["[Not sure]"]  # not sure = office hours
    proposal = said["[Standard]"]
    assert "Revision r1 · your answers:" in proposal
    assert "💰 Budget: IDR198,690,000" in proposal and "• Server X1 × 2" in proposal
    assert "⭐ Recommended: IDR320,790,000" in proposal and "• Server X2 × 2" in proposal
    assert "Rack kit: required by Server X1" in proposal
    quoted = said["[Quote the budget one]"]
    assert "Quote Q-2026-" in quoted and " v1 for Utama Indah: IDR198,690,000." in quoted
    pdf = Path(env["SFA_DATA_DIR"]) / "downloads" / quoted.split("saved to ")[0].split(
        "📎 ")[1].split(" (")[0]
    text = PdfReader(pdf).pages[0].extract_text()
    assert "Server X1" in text and "Rack kit" in text
    # reopened with its answers; changing one re-asks what now matters (storage)
    assert "Utama Indah has configuration r1 (Server room, 4 answers, quoted as Q-" in \
        after("/configure Utama Indah", 2)
    assert "• How many sites (offices, branches) need one? 2" in said["[Revise it]"]
    assert "How much data will it keep?" in said["[26-100]"]
    again = said["[Up to 8 TB]"]
    assert "Revision r2" in again and "Both alternatives are the same" in again
    assert " v2 for Utama Indah: IDR320,790,000." in said["[Make the quote]"]
    # another family: no reopening; "more than 60 staff" (nothing fits) is not offered
    telecom = said["/konfigurasi Utama Indah internet"]
    assert "How many staff are online at the same time?" in telecom
    assert "More than 60" not in telecom and "[3] 31-60" in telecom
    assert "Which budget band?" not in said["[1]"]  # one plan fits 31-60: band moot
    final = said["[Yes]"]
    assert "Business plan B 100 Mbps × 1" in final and "4G router × 1" in final
    db = Database(url)
    with db.session() as s:
        company = s.scalars(select(Company).where(Company.name == "Utama Indah")).one()
        rows = list(s.scalars(select(Configuration).where(
            Configuration.company_id == company.id).order_by(Configuration.id)))
        assert [(r.family, r.revision, r.chosen) for r in rows] == [
            ("server_room", 1, "budget"), ("server_room", 2, "budget"),
            ("office_connectivity", 3, None)]
        assert rows[0].quote_id == rows[1].quote_id is not None
        quote = s.get(Quote, rows[0].quote_id)
        assert quote is not None and quote.current_version == 2
    db.dispose()
    # families are data: loaded again from the same document, refused when malformed
    demo = Path(__file__).resolve().parents[2] / "core" / "demo" / "configurator.json"
    loaded = runner.invoke(main, ["configurator", "load", str(demo)], env=env)
    assert loaded.exit_code == 0 and "3 families and 9 products saved" in loaded.output
    broken = tmp_path / "broken.json"
    broken.write_text('{"families": [{"code": "x", "questions": []}]}', encoding="utf-8")
    refused = runner.invoke(main, ["configurator", "load", str(broken)], env=env)
    assert refused.exit_code != 0
    assert "error: That product family is not set up right: questions: 1 to 20." in \
        refused.output
    broken.write_text("{not json", encoding="utf-8")
    refused = runner.invoke(main, ["configurator", "load", str(broken)], env=env)
    assert refused.exit_code != 0 and "is not JSON" in refused.output
