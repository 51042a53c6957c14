"""The company's identity on every document, end to end through the command line: a quote, a
proposal and a contract summary made in the terminal chat carry a visible DRAFT line and no
one else's name until `sfa org set`; after it they carry the company's details, and a
Vietnamese customer and a Polish contact print intact (Unicode font)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from sqlalchemy import select

from bot.cli import main
from core.db import Database
from core.models import Company, Contact, Deal, User
from core.models.quotes import Quote

VIETNAMESE = "Công ty TNHH Nguyễn Thị Minh Khai"
POLISH = "Grzegorz Brzęczyszczykiewicz"
DRAFT = "DRAFT — set your company details with sfa org set"
DETAILS = ("PT Maju Teknik Nusantara", "Jl. Gatot Subroto Kav. 12, Jakarta 12930",
           "+62 21 555 0123", "sales@majuteknik.co.id", "01.234.567.8-901.000")


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout + result.stderr


def pdf_text(path: Path) -> str:
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'docs.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "WARNING"}
    code, out = run(env, "seed", "--companies", "20", "--contacts", "40")
    assert code == 0, out
    db = Database(env["SFA_DATABASE_URL"])
    with db.session() as s:  # the demo deal with a quote gets a Vietnamese customer
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        quote = s.scalars(select(Quote).join(Deal, Deal.id == Quote.deal_id)
                          .where(Deal.owner_id == budi.id).limit(1)).one()
        deal = s.get(Deal, quote.deal_id)
        assert deal is not None and deal.contact_id is not None
        s.get(Company, deal.company_id).name = VIETNAMESE  # type: ignore[union-attr]
        s.get(Contact, deal.contact_id).name = POLISH  # type: ignore[union-attr]
        deal.title = "Serwery dla Łodzi"
    db.dispose()
    return env


def make_documents(env: dict[str, str], tmp_path: Path, round_: str) -> dict[str, str]:
    """A quote, a proposal and a contract summary made by Budi in the terminal chat."""
    db = Database(env["SFA_DATABASE_URL"])
    with db.session() as s:
        deal_id = s.scalar(select(Deal.id).where(Deal.title == "Serwery dla Łodzi"))
    db.dispose()
    script = tmp_path / f"docs-{round_}.txt"
    script.write_text("\n".join((
        "/cancel", "/quote Nguyen Thi Minh Khai", f"[#{deal_id} Serwery dla Łodzi]",
        "1 laptop air",
        "[Create PDF quote]",
        "/cancel", "proposal for Nguyen Thi Minh Khai", f"[{VIETNAMESE[:22]}: Serwery]",
        "[Standard proposal]",
        "/cancel", "proposal for Nguyen Thi Minh Khai", f"[{VIETNAMESE[:22]}: Serwery]",
        "[Contract summary]")) + "\n",
        encoding="utf-8")
    downloads = Path(env["SFA_DATA_DIR"]) / "downloads"
    before = {p: p.stat().st_mtime_ns for p in downloads.glob("*.pdf")} \
        if downloads.exists() else {}
    code, out = run(env, "chat", "--as", "budi", "--script", str(script))
    assert code == 0, out
    made = [p for p in downloads.glob("*.pdf") if before.get(p) != p.stat().st_mtime_ns]
    names = {("quote" if p.name.startswith("Q-") else "contract" if "Contract" in p.name
              else "proposal"): p for p in made}
    assert set(names) == {"quote", "proposal", "contract"}, out
    return {kind: pdf_text(path) for kind, path in names.items()}


def test_documents_say_draft_until_the_company_is_set_then_carry_it(
        env: dict[str, str], tmp_path: Path) -> None:
    docs = make_documents(env, tmp_path, "draft")
    for kind, text in docs.items():
        assert DRAFT in text, (kind, text[:400])
        assert "Solusi Niaga" not in text and "solusiniaga" not in text, kind
        assert VIETNAMESE in text, (kind, text[:400])
    assert POLISH in docs["proposal"]  # "For the attention of ..."
    assert "Serwery dla Łodzi" in docs["quote"]

    code, out = run(env, "org", "set", "--name", DETAILS[0],
                    "--legal-name", "PT Maju Teknik Nusantara Tbk", "--address", DETAILS[1],
                    "--phone", DETAILS[2], "--email", DETAILS[3], "--tax-number", DETAILS[4],
                    "--bank", "BCA 123-456-7890 a/n PT Maju Teknik Nusantara",
                    "--payment-terms", "Payment 14 days after invoice.")
    assert code == 0 and "no DRAFT line" in out, out

    docs = make_documents(env, tmp_path, "set")
    for kind, text in docs.items():
        assert DRAFT not in text, kind
        for detail in DETAILS:
            assert detail in text, (kind, detail, text[:500])
        assert VIETNAMESE in text, kind
        assert text.index(DETAILS[0]) < text.index(VIETNAMESE), kind  # the letterhead first
    assert POLISH in docs["proposal"]
    assert "Payment 14 days after invoice." in docs["quote"]
    assert "BCA 123-456-7890" in docs["quote"]


def test_sfa_org_refuses_bad_values_and_keeps_the_good_ones(env: dict[str, str],
                                                            tmp_path: Path) -> None:
    code, out = run(env, "org", "set", "--name", "PT Satu", "--email", "not-an-email")
    assert code == 2 and "not an e-mail address" in out
    code, out = run(env, "org", "show")
    assert code == 0 and "PT Satu" not in out  # one bad value changes nothing
    code, out = run(env, "org", "set")
    assert code == 2 and "nothing to set" in out
    code, out = run(env, "org", "set", "--quote-validity", "400")
    assert code == 2 and "from 1 to 365" in out
    code, out = run(env, "org", "set", "--lang", "id", "--payment-terms",
                    "Pembayaran 14 hari setelah faktur.")
    assert code == 0 and "id: Pembayaran 14 hari setelah faktur." in out
    bad = tmp_path / "logo.png"
    bad.write_bytes(b"<svg onload=alert(1)>")
    code, out = run(env, "org", "logo", str(bad))
    assert code == 2 and "not a PNG or JPEG" in out
    from PIL import Image

    good = tmp_path / "good.png"
    Image.new("RGB", (240, 80), (10, 60, 140)).save(good)
    code, out = run(env, "org", "logo", str(good))
    assert code == 0 and "logo saved" in out
    code, out = run(env, "org", "show")
    assert "image/png" in out
    code, out = run(env, "org", "logo", "--remove")
    assert code == 0 and "logo removed" in out
    code, out = run(env, "org", "logo", str(tmp_path / "missing.png"))
    assert code == 2 and "cannot read" in out
