"""`sfa chat --script` scenario through the real CLI: search, open, check out, a second user
is refused, check in, history shows both versions; plus `sfa kb add` and `sfa index rebuild`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "knowledge_checkout.txt"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.db'}",
            "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "WARNING"}


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_checkout_scenario_through_the_cli(env: dict[str, str]) -> None:
    code, out, err = run(env, "seed", "--companies", "10", "--contacts", "10")
    assert code == 0, out + err
    code, out, err = run(env, "chat", "--as", "budi", "--script", str(SCENARIO),
                         "--now", "2030-01-07T02:00:00+00:00")  # after the seed (real time)
    assert code == 0, out + err
    # search and open
    assert "documents found for \"discount approval\"" in out
    assert "1. Sales policy book — Policy book" in out
    assert "📎 sales-policy-book.md" in out
    # budi checks out; andi is refused (sees who holds it) and asks to be told
    assert "You have checked out Sales policy book until Mon 7 Jan 2030 17:00" in out
    assert "Checked out by Budi Santoso since Mon 7 Jan 2030 09:00." in out
    assert "[1] Tell me when free" in out
    assert "OK, I will tell you when Sales policy book is free." in out
    # check in a new text: version 2, found by its new words
    assert "Checked in Sales policy book as version 2." in out
    assert "1 document found for \"sales director\"" in out
    # history shows both versions, who and the note
    history = out[out.rindex("History of Sales policy book:"):]
    assert "v1 — Ayu Lestari, " in history and ": demo library" in history
    assert "checked out by Budi Santoso" in history
    assert "v2 — Budi Santoso, Mon 7 Jan 2030 09:00: Raised the manager limit to 15 percent" \
        in history
    assert "[1] Get v1  [2] Get v2" in history


def test_kb_add_reports_unreadable_files_and_index_rebuild(env: dict[str, str],
                                                          tmp_path: Path) -> None:
    assert run(env, "seed", "--companies", "5", "--contacts", "5", "--base-only")[0] == 0
    library = tmp_path / "library"
    library.mkdir()
    (library / "visit-checklist.md").write_text("# Visit checklist\n\nBring brochures.")
    (library / "scan.pdf").write_bytes(b"%PDF-1.4 broken")
    code, out, err = run(env, "kb", "add", str(library))
    assert code == 1
    assert "added 1, updated 0, unchanged 0, failed 1" in out
    assert "cannot read" in err and "scan.pdf: kb.unreadable" in err
    code, out, _ = run(env, "kb", "add", str(library / "visit-checklist.md"))
    assert code == 0 and "unchanged 1" in out
    code, out, err = run(env, "index", "rebuild")
    assert code == 0, err
    assert "indexed 1 document(s)" in out
    code, out, _ = run(env, "kb", "list")
    assert "Visit checklist" in out
    code, _, err = run(env, "kb", "add", str(tmp_path / "nothing-here"))
    assert code == 2
