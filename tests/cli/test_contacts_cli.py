"""`sfa import contacts|companies`, `sfa export contacts` and the contacts chat scenario,
through the real CLI (click's CliRunner) on a temporary SQLite file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "WARNING"}
    code, out, err = run(env, "seed", "--companies", "30", "--contacts", "60")
    assert code == 0, out + err
    return env


def run(env: dict[str, str], *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, input=input)
    return result.exit_code, result.stdout, result.stderr


COMPANIES = """name;industry;segment;employees;territory;owner;phone;email;city;external_id
PT Kopi Nusantara Jaya;Hospitality;smb;35;Jakarta;budi;021-555-0101;info@kopinj.co.id;Jakarta;X-1
CV Baru Sekali;Retail;smb;lots;Jakarta;budi;;;Jakarta;X-2
Toko Tanpa Wilayah;Retail;smb;10;Atlantis;budi;;;;X-3
"""

CONTACTS = """name,company,department,job_title,phone,mobile,email,decision_maker,external_id
Wulan Sari,Kopi Nusantara Jaya,Purchasing,Buyer,021 555 0102,0812-1111-2222,wulan@kopinj.co.id,yes,
Andre Taufik,Kopi Nusantara Jaya,Finance,CFO,,+62 813 3333 4444,,no,
,Kopi Nusantara Jaya,IT,Admin,,,,no,
Dina Putri,No Such Company,IT,Admin,,,,,
Eko Prasetyo,Sinar Jaya Abadi,IT,Helpdesk,,,not-an-email,,
Fajar Nugroho,Sinar Jaya Abadi,IT,Helpdesk,12,,,,
Gita Lestari,Sinar Jaya Abadi,IT,Helpdesk,,,,maybe,
"""


def test_import_report_and_idempotency(env: dict[str, str], tmp_path: Path) -> None:
    companies = tmp_path / "companies.csv"
    companies.write_text(COMPANIES, encoding="utf-8")
    code, out, _ = run(env, "import", "companies", str(companies))
    assert code == 0, out
    assert "3 rows, imported 1: 1 created, 0 updated, 0 unchanged; 2 with errors" in out
    assert "line 3: employees must be a whole number, not \"lots\"" in out
    assert "line 4: no territory named \"Atlantis\"" in out

    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    code, out, _ = run(env, "import", "contacts", str(contacts))
    assert code == 0, out
    assert "7 rows, imported 2: 2 created" in out and "5 with errors" in out
    assert "line 4: the column name is empty" in out
    assert "line 5: no company \"No Such Company\"" in out
    assert "line 6: \"not-an-email\" is not an e-mail address" in out
    assert "line 7: phone \"12\" is not a phone number" in out
    assert "line 8: decision_maker must be yes or no, not \"maybe\"" in out

    # The same files again: nothing new.
    code, out, _ = run(env, "import", "companies", str(companies))
    assert "imported 1: 0 created, 0 updated, 1 unchanged" in out
    code, out, _ = run(env, "import", "contacts", str(contacts))
    assert "imported 2: 0 created, 0 updated, 2 unchanged" in out

    # Matched by e-mail (no external id), then by phone in another format: updated in place.
    changed = tmp_path / "changed.csv"
    changed.write_text(
        "name,company,job_title,email,mobile\n"
        "Wulan Sari,Kopi Nusantara Jaya,Head Buyer,wulan@kopinj.co.id,\n"
        "Andre Taufik,Kopi Nusantara Jaya,Finance Director,,6281333334444\n",
        encoding="utf-8")
    code, out, _ = run(env, "import", "contacts", str(changed))
    assert "imported 2: 0 created, 2 updated, 0 unchanged; 0 with errors" in out

    code, out, _ = run(env, "export", "contacts")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 62
    wulan = next(r for r in rows if r["name"] == "Wulan Sari")
    assert wulan["job_title"] == "Head Buyer" and wulan["mobile"] == "+6281211112222"
    assert wulan["company"] == "Kopi Nusantara Jaya" and wulan["decision_maker"] == "yes"

    # The export re-imports without changing anything.
    exported = tmp_path / "export.csv"
    exported.write_text(out, encoding="utf-8")
    code, out, _ = run(env, "import", "contacts", str(exported))
    assert "62 rows, imported 62: 0 created, 0 updated, 62 unchanged; 0 with errors" in out


def test_import_bad_files(env: dict[str, str], tmp_path: Path) -> None:
    code, _, err = run(env, "import", "contacts", str(tmp_path / "missing.csv"))
    assert code == 2 and "no file" in err
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    code, _, err = run(env, "import", "contacts", str(empty))
    assert code == 2 and "is empty" in err
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("fullname,firm\nA,B\n", encoding="utf-8")
    code, _, err = run(env, "import", "contacts", str(wrong))
    assert code == 2 and "missing column name" in err
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00bad")
    code, _, err = run(env, "import", "companies", str(binary))
    assert code == 2 and "not UTF-8" in err
    dry = tmp_path / "dry.csv"
    dry.write_text("name,company\nZed Zulu,Sinar Jaya Abadi\n", encoding="utf-8")
    code, out, _ = run(env, "import", "contacts", str(dry), "--dry-run")
    assert "would import 1: 1 created" in out
    code, out, _ = run(env, "export", "contacts")
    assert "Zed Zulu" not in out


def test_contacts_scenario(env: dict[str, str]) -> None:
    code, out, err = run(env, "chat", "--as", "budi", "--now", "2026-03-02T02:00:00+00:00",
                         "--script", str(SCENARIOS / "contacts_visit.txt"))
    assert code == 0, err
    assert "PT Sinar Jaya Abadi is handled by" in out
    assert "How did the visit with Hendro Wibisono (PT Sinar Jaya Abadi) go?" in out
    assert "Saved: visit with Hendro Wibisono (PT Sinar Jaya Abadi)." in out
    assert "Next step on Tue 3 Mar 2026 09:00" in out
    assert "Checked in at your visit to PT Sinar Jaya Abadi" in out
    assert "You last contacted PT Sinar Jaya Abadi on Mon 2 Mar 2026 (visit)." in out
    assert "Your next follow-up with Hendro Wibisono: Tue 3 Mar 2026 09:00." in out
    # asked in Indonesian: answered in Indonesian
    assert "Terakhir Anda menghubungi Hendro Wibisono pada Sen 2 Mar 2026 (kunjungan)" in out


def test_contacts_merge_from_the_shell(env: dict[str, str]) -> None:
    code, out, err = run(env, "contacts", "merge", "Hendro Wibisono", "Ratna Kusumawati",
                         "--by", "budi", "--yes")
    assert code == 2 and "Only managers and admins can merge duplicates." in err
    code, out, err = run(env, "contacts", "merge", "Hendro Wibisono", "Nobody Here", "--yes")
    assert code == 2 and "No contact \"Nobody Here\" that you can see." in err
    code, out, err = run(env, "contacts", "merge", "Hendro Wibisono", "Ratna Kusumawati",
                         input="n\n")
    assert code != 0  # declined at the prompt: nothing merged
    code, out, err = run(env, "contacts", "merge", "Hendro Wibisono", "Ratna Kusumawati",
                         "--by", "maya", "--yes")
    assert code == 0, out + err
    assert "merged contact Ratna Kusumawati" in out and "into Hendro Wibisono" in out
    assert "by maya" in out
    code, out, err = run(env, "contacts", "merge", "Hendro Wibisono", "Ratna Kusumawati",
                         "--yes")
    assert code == 2 and "No contact \"Ratna Kusumawati\"" in err
    code, out, err = run(env, "companies", "merge", "Sinar Jaya Abadi", "Sinar Jaya Abadi",
                         "--yes")
    assert code == 2 and "That is the same record twice" in err


def test_users_invite_prints_the_deep_link_and_writes_its_qr(env: dict[str, str],
                                                             tmp_path: Path) -> None:
    import sqlite3

    qr = tmp_path / "invite.png"
    code, out, err = run(env, "users", "invite", "budi", "--qr", str(qr))
    assert code == 2 and "no Telegram bot known yet" in err and not qr.exists()
    code, out, err = run(env, "users", "invite", "budi")
    assert code == 0 and len(out.split()) == 1  # the code alone
    db = env["SFA_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:  # what the Telegram door keeps from getMe
        conn.execute("insert into bot_profiles (platform, username, updated_at) values "
                     "('telegram', 'sfa_demo_bot', '2026-03-02 02:00:00')")
    code, out, err = run(env, "users", "invite", "budi", "--qr", str(qr))
    assert code == 0, err
    invite, link = out.split()
    assert link == f"https://t.me/sfa_demo_bot?start={invite}"
    assert qr.read_bytes().startswith(b"\x89PNG") and "QR code of the link written" in err
