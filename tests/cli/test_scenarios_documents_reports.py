"""Script scenarios through the real CLI on the seeded demo: documents and reports."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from bot.cli import main

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.fixture
def demo(tmp_path: Path) -> dict[str, str]:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "ERROR"}
    result = CliRunner().invoke(main, ["seed"], env=env)
    assert result.exit_code == 0, result.output
    return env


def play(env: dict[str, str], login: str, script: str) -> str:
    result = CliRunner().invoke(main, ["chat", "--as", login, "--script",
                                       str(SCENARIOS / script)], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_documents_scenario(demo: dict[str, str]) -> None:
    out = play(demo, "budi", "documents_rep.txt")
    pdf_path = Path(demo["SFA_DATA_DIR"]) / "downloads" / \
        "Standard-proposal---Lestari-Bintang.pdf"
    assert f"saved to {pdf_path}" in out
    text = PdfReader(pdf_path).pages[0].extract_text()
    assert "Proposal for Lestari Bintang" in text and "Total including VAT: IDR" in text
    first, second = out.split("budi: what should I send?")[1:3]
    assert "Brochure for Refrigerator 400 L\n     Samudra Abadi" in first
    assert "brochure:" not in first + second  # the material in words, not its key
    assert re.search(r"Noted: .+ brochure sent on", first + second)
    assert "Brochure for Refrigerator 400 L\n     Samudra Abadi" not in second
    assert "Your week" in out or "Nothing planned" in out


def test_reports_scenario(demo: dict[str, str]) -> None:
    out = play(demo, "maya", "reports_manager.txt")
    assert "Won sales by rep, this year" in out
    assert "report-won.png" in out and "report-won-this_year.csv" in out
    data = (Path(demo["SFA_DATA_DIR"]) / "downloads" / "report-won-this_year.csv").read_text()
    rows = list(csv.reader(io.StringIO(data)))
    assert rows[0] == ["Name", "Amount", "Count"] and len(rows) > 1
    assert "Tingkat aktivitas per tim, bulan ini" in out  # asked in Indonesian
