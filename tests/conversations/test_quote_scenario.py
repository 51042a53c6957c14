"""`sfa chat --script`: the rep builds a quote with a rule fix and a cross-sell and asks for
an over-limit discount; the manager approves in a second script; the PDF arrives."""

from __future__ import annotations

import io
from pathlib import Path

from click.testing import CliRunner
from pypdf import PdfReader

from bot.cli import main

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def test_quote_scenario_through_the_cli(tmp_path: Path) -> None:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "CRITICAL"}
    runner = CliRunner()
    seeded = runner.invoke(main, ["seed", "--companies", "30", "--contacts", "60"], env=env)
    assert seeded.exit_code == 0, seeded.output
    rep = runner.invoke(main, ["chat", "--as", "budi", "--script",
                               str(SCENARIOS / "quote_rep.txt")], env=env)
    assert rep.exit_code == 0, rep.output
    out = rep.stdout
    assert "Server X1 requires Rack kit: add it?" in out
    assert "3. Rack kit × 2" in out and "4. UPS 1 kVA × 1" in out
    assert "12% is above your limit of 10%" in out
    assert "The 12% discount is waiting for Maya Wijaya's approval" in out
    number = out.split("bot: Quote ")[-1].split(" ")[0]
    assert number.startswith("Q-")

    manager = runner.invoke(main, ["chat", "--as", "maya", "--script",
                                   str(SCENARIOS / "quote_manager.txt")], env=env)
    assert manager.exit_code == 0, manager.output
    out = manager.stdout
    assert f"To decide: {number} Sinar Jaya Abadi 12%" in out
    assert "Discount asked: 12% (Competitor offered 14% off)" in out
    assert f"Approved the 12% discount on {number}" in out
    assert f"bot → budi: The 12% discount on {number} v1 was approved" in out
    pdf = tmp_path / "data" / "downloads" / f"{number}-v1.pdf"
    assert f"📎 {number}-v1.pdf" in out and pdf.is_file()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    assert "Server X1" in text and "UPS 1 kVA" in text and "Rack kit" in text
    assert "Includes a quote discount of 12%" in text
    total = out.split("Here is the quote: ")[1].split(".\n")[0]
    assert f"Total {total}" in text
