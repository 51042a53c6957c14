"""A quote is sent, accepted or revised later, from /quotes and /quote Q-... (not only from
the message right after its PDF)."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from core.models.quotes import Quote, SalesOrder
from tests.conversations.test_quote_flow import labels, start_sinar
from tests.support.chat import CollectingChat, texts


async def _quote(chat: CollectingChat, app: App) -> str:
    budi = chat.as_user("budi")
    await start_sinar(budi)
    await budi.say("3 laptop pro")
    await budi.press("Create PDF quote")
    await budi.say("/whoami")  # something else in between: the PDF message is long gone
    with app.db.session() as s:
        return s.scalars(select(Quote.number).order_by(Quote.id.desc())).first()


async def test_from_quotes_send_then_accept(chat: CollectingChat, app: App) -> None:
    number = await _quote(chat, app)
    budi = chat.users["console:budi"]
    r = await budi.say("/quotes")
    assert "Quotes (the ones waiting for your decision first):" in texts(r)
    r = await budi.press(number)
    assert f"{number} v1" in texts(r) and "Laptop Pro 14 × 3" in texts(r)
    assert labels(budi) == ["📄 PDF to send", "Accept (order)", "Revise"]
    r = await budi.press("📄 PDF to send")
    assert r[-1].attachment is not None and r[-1].attachment.data.startswith(b"%PDF")
    assert r[-1].attachment.filename == f"{number}-v1.pdf"
    r = await budi.say(f"/quote {number}")
    r = await budi.press("Accept (order)")
    assert "Order SO-2026-" in texts(r)
    with app.db.session() as s:
        quote = s.scalars(select(Quote).where(Quote.number == number)).one()
        assert quote.status == "accepted"
        assert s.scalar(select(SalesOrder.id).where(SalesOrder.quote_id == quote.id))
    r = await budi.say(f"/quote {number}")
    assert labels(budi) == ["PDF"]  # accepted: nothing else applies
    r = await budi.press("PDF")
    assert r[-1].attachment is not None


async def test_revised_later_from_quote_number(chat: CollectingChat, app: App) -> None:
    number = await _quote(chat, app)
    budi = chat.users["console:budi"]
    await budi.say(f"/quote {number.lower()}")
    r = await budi.press("Revise")
    assert "the next version will be v2" in texts(r)
    await budi.say("remove laptop pro")
    await budi.say("1 server x1, 1 rack kit")
    r = await budi.press("Create PDF quote")
    assert "v2" in r[-1].text and r[-1].attachment is not None
    r = await budi.say("/quote Q-2099-999")
    assert "No quote Q-2099-999 that you can see." in texts(r)
    andi = chat.as_user("kevin")  # Medan: not his customer
    r = await andi.say(f"/quote {number}")
    assert f"No quote {number} that you can see." in texts(r)
