"""/org on Telegram through the real PTB stack and the fake Bot API: an admin sets the
company's name and sends its logo as a photo; the next quote PDF a rep gets in Telegram
carries the company's name instead of the DRAFT line."""

from __future__ import annotations

import io

from PIL import Image
from pypdf import PdfReader

from bot.app import App
from bot.handlers.telegram import TelegramDoor
from core import organisation
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.telegram_fixtures import door_fixture, fake_fixture, link  # noqa: F401
from tests.handlers.test_telegram_scenarios import TgUser

AYU = FakeTelegram.user(7100, "Ayu")
BUDI = FakeTelegram.user(7101, "Budi")


async def test_an_admin_sets_the_company_and_its_logo_in_telegram(
        app: App, fake: FakeTelegram, door: TelegramDoor) -> None:
    link(app, "admin", AYU)
    link(app, "budi", BUDI)
    admin, budi = TgUser(fake, AYU), TgUser(fake, BUDI)
    out = await admin.say("/org")
    assert "Documents say DRAFT until you set" in out
    await admin.press("Company name")
    await admin.say("PT Maju Teknik Nusantara")
    await admin.press("Address")
    await admin.say("Jl. Gatot Subroto Kav. 12, Jakarta")
    await admin.press("Phone")
    out = await admin.say("+62 21 555 0123")
    assert "Documents carry these details." in out
    await admin.press("Logo")
    logo = io.BytesIO()
    Image.new("RGB", (320, 100), (0, 70, 150)).save(logo, format="JPEG")
    before = len(fake.sent_to(admin.chat))
    fake.send_photo(AYU, logo.getvalue())
    out = "\n".join(m.get("text") or "" for m in await admin.settle(before))
    assert "The logo is saved" in out
    with app.db.session() as s:
        assert organisation.seller(s).logo_mime == "image/jpeg"

    out = await budi.say("/quote Sinar Jaya")
    if "No deal" in out or "deal" in out:
        labels = [b["text"] for row in fake.last_with_buttons(budi.chat)["reply_markup"][
            "inline_keyboard"] for b in row]
        if "No deal" in labels:
            await budi.press("No deal")
    await budi.say("1 laptop pro")
    await budi.press("Create PDF quote")
    docs = [m for m in fake.sent_to(budi.chat) if "document" in m]
    pdf = fake.files[docs[-1]["document"]["file_id"]]
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "PT Maju Teknik Nusantara" in text and "DRAFT" not in text
