"""A manager's team on Telegram, through the real PTB stack and the fake Bot API: the contacts
of an area as a CSV document, the coverage table beside its chart image, "optimise my team"
applied move by move and all at once (a stale "apply all" refused), both reps told through
the outbox."""

from __future__ import annotations

import copy
import csv
import io
from datetime import UTC

from sqlalchemy import func, select

from bot.app import App
from bot.handlers.telegram import TelegramDoor
from core.models import Company, Deal
from core.models.coverage import OwnershipMove
from tests.core.test_coverage import _overload
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.telegram_fixtures import door_fixture, fake_fixture, link  # noqa: F401
from tests.handlers.test_telegram_scenarios import TgUser
from tests.scheduler.support import clean_slate, make_scheduler

MAYA = FakeTelegram.user(7103, "Maya")
SARI = FakeTelegram.user(7102, "Sari", language_code="id")
BUDI = FakeTelegram.user(7101, "Budi")


async def test_contacts_of_an_area_as_a_csv(app: App, fake: FakeTelegram,
                                            door: TelegramDoor) -> None:
    link(app, "maya", MAYA)
    maya = TgUser(fake, MAYA)
    out = await maya.say("/contacts kontak di wilayah Bandung")
    assert "📍 Bandung (that you can see):" in out
    document = next(m for m in fake.sent_to(maya.chat) if "document" in m)
    assert document["document"]["file_name"] == "contacts-bandung.csv"
    rows = list(csv.reader(io.StringIO(
        fake.files[document["document"]["file_id"]].decode("utf-8-sig"))))
    count = int(out.split("customers · ")[1].split(" contacts")[0])
    assert rows[0][0] == "Name" and len(rows) - 1 == count > 0
    assert {row[7] for row in rows[1:]} == {"Bandung"}  # the city column
    out = await maya.say("/customers manufacturing in Java West")
    assert "📍 Manufacturing in Java West (that you can see):" in out
    docs = [m for m in fake.sent_to(maya.chat) if "document" in m]
    assert docs[-1]["document"]["file_name"] == "customers-manufacturing-in-java-west.csv"
    out = await maya.say("/contacts")
    assert "Say where (a region, territory or team)" in out


async def test_coverage_chart_and_optimise_my_team(app: App, fake: FakeTelegram,
                                                   door: TelegramDoor) -> None:
    for login, user in (("maya", MAYA), ("sari", SARI), ("budi", BUDI)):
        link(app, login, user)
    clean_slate(app)
    with app.db.session() as s:
        _overload(s, "sari", "Jakarta", accounts=3, deals_each=2,
                  now=app.clock.now().astimezone(UTC))
    maya = TgUser(fake, MAYA)
    await maya.say("/team")
    sent = fake.sent_to(maya.chat)
    table = next(m for m in sent if "text" in m and "Coverage of Java West" in m["text"])
    assert table["text"].startswith("<pre>") and "Sari Purnamasari" in table["text"]
    photo = next(m for m in sent if "photo" in m)
    assert fake.files[photo["photo"][0]["file_id"]].startswith(b"\x89PNG")
    out = await maya.press("⚖️ Optimise my team")
    assert "Load spread (open deals per rep, most / least): now 10 / 3, after" in out
    proposal = copy.deepcopy(fake.last_with_buttons(maya.chat))
    out = await maya.press("Apply 1")
    assert "now belong to Budi Santoso; Sari Purnamasari and Budi Santoso are told." in out
    # "Apply all" of the proposal shown before that move: nothing moves, a fresh proposal
    before = len(fake.sent_to(maya.chat))
    fake.press(MAYA, proposal, "Apply all")
    stale = "\n".join(m.get("text", "") for m in await maya.settle(before))
    assert "The team changed since that proposal: nothing was moved." in stale
    with app.db.session() as s:
        assert s.scalar(select(func.count()).select_from(OwnershipMove)) == 1
    out = await maya.press("Apply all")
    assert "Open deals per rep now: most" in out
    with app.db.session() as s:
        moves = list(s.scalars(select(OwnershipMove)))
        assert len(moves) >= 2 and {m.kind for m in moves} >= {"account"}
        moved = [s.get(Company, m.company_id) for m in moves if m.kind == "account"]
        assert all(c is not None and c.owner_id == m.to_user_id
                   for c, m in zip(moved, [m for m in moves if m.kind == "account"],
                                   strict=True))
        open_deals = s.scalar(select(func.count()).select_from(Deal).where(
            Deal.company_id.in_([c.id for c in moved if c is not None]),
            Deal.owner_id == moves[0].from_user_id))
        assert open_deals == 0
    # both reps are told, each in their language, through the outbox and the door
    scheduler = make_scheduler(app, {"telegram": door.sender})
    await scheduler.tick()
    sari_texts = "\n".join(fake.texts_to(SARI["id"]))
    budi_texts = "\n".join(fake.texts_to(BUDI["id"]))
    assert "Maya Wijaya memindahkan Idle sari" in sari_texts
    assert "📥 Maya Wijaya gave you Idle sari" in budi_texts
