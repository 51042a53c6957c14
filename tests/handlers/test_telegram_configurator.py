"""The guided configurator on Telegram, through the real PTB stack and the fake Bot API, in
Indonesian: the deal picked with a button, one question per message with buttons (an answer
typed works too, a stale button is refused), two alternatives with totals, the quote's PDF
as a document in one tap, the configuration kept on the deal and reopened with its
answers."""

from __future__ import annotations

import copy
import io

from pypdf import PdfReader
from sqlalchemy import select

from bot.app import App
from bot.handlers.telegram import TelegramDoor
from core.models import Deal
from core.models.configurator import Configuration
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.telegram_fixtures import door_fixture, fake_fixture, link  # noqa: F401
from tests.handlers.test_telegram_scenarios import TgUser

SARI = FakeTelegram.user(7202, "Sari", language_code="id")


async def test_configure_a_solution_on_telegram(app: App, fake: FakeTelegram,
                                                door: TelegramDoor) -> None:
    link(app, "sari", SARI)
    with app.db.session() as s:
        server = s.scalar(select(Deal.id).where(
            Deal.title.startswith("Hotel Cahaya Indah: Server")))
    sari = TgUser(fake, SARI)
    out = await sari.say("/konfigurasi Hotel Cahaya Indah")
    assert "Untuk peluang Hotel Cahaya Indah yang mana?" in out
    out = await sari.press(f"#{server} Hotel Cahaya Indah: Server")
    # "hotel" in the customer's name picked the hotel rooms family
    assert "🧩 Kamar hotel untuk Hotel Cahaya Indah" in out and "Berapa kamar?" in out
    rooms = copy.deepcopy(fake.last_with_buttons(sari.chat))
    out = await sari.say("25")  # typed instead of pressed
    assert "AC di setiap kamar?" in out
    before = len(fake.sent_to(sari.chat))
    fake.press(SARI, rooms, "50")  # the first question's button, pressed late
    stale = "\n".join(m.get("text", "") for m in await sari.settle(before))
    # refused (by the engine, or by the step: 50 is not an answer to this question); it
    # is not taken as the next answer (that would ask about the laundry)
    assert ("Tombol itu dari pesan sebelumnya" in stale
            or "Pilih salah satu jawaban dengan tombol" in stale)
    assert "Ada laundry sendiri?" not in stale
    await sari.press("Ya")
    out = await sari.press("Ya")  # laundry: yes
    assert "Revisi r1 · jawaban Anda:" in out
    assert "Refrigerator 400 L × 25" in out and "Air conditioner 1 PK × 25" in out
    assert "AC installation kit: wajib untuk Air conditioner 1 PK" in out
    assert "Washing machine 8 kg × 1" in out  # 25 rooms / 25 per machine
    out = await sari.press("📄 Buat penawarannya")
    document = next(m for m in reversed(fake.sent_to(sari.chat)) if "document" in m)
    assert document["document"]["file_name"].endswith("-v1.pdf")
    pdf = fake.files[document["document"]["file_id"]]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Air conditioner 1 PK" in text and "AC installation kit" in text
    assert "Konfigurasi r1 disimpan di peluang ini" in document["caption"]
    with app.db.session() as s:
        config = s.scalars(select(Configuration)).one()
        deal = s.get(Deal, config.deal_id)
        assert deal is not None and deal.facts["configuration_id"] == config.id
        assert deal.facts["quote_id"] == config.quote_id
        assert config.answers == {"rooms": 25, "climate": "yes", "laundry": "yes"}
    # configured again for the same deal: the answers come back for a revision
    await sari.say("/konfigurasi Hotel Cahaya Indah")
    out = await sari.press(f"#{server} Hotel Cahaya Indah: Server")
    assert "punya konfigurasi r1 (Kamar hotel, 3 jawaban, sudah jadi penawaran Q-" in out
    out = await sari.press("✏️ Revisi")
    assert "• Berapa kamar? 25" in out
    out = await sari.press("Berapa kamar?")
    out = await sari.press("50")
    assert "Revisi r2" in out and "Washing machine 8 kg × 2" in out
