"""Knowledge in chat: search, open, more results, check out / in, history, uploads, waits."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from core import document_checkout as checkout
from core import knowledge as kb
from core.clock import ManualClock
from core.models import NoticeRow, User
from core.models.knowledge import Document, DocumentVersion
from tests.support.chat import CollectingChat, texts


def _doc(app: App, title: str) -> Document:
    with app.db.session() as session:
        return session.scalars(select(Document).where(Document.title == title)).one()


async def test_search_open_and_filters(chat: CollectingChat) -> None:
    budi = chat.as_user("budi")
    replies = await budi.say("/kb discount approval")
    out = texts(replies)
    assert "Sales policy book" in out
    assert "*approval*" in out or "*discount*" in out.lower()
    assert "Q3 pricing" not in out  # a draft of maya: not for budi
    await budi.press("Open 1")
    card = budi.transcript[-1]
    assert card.attachment is not None and card.attachment.filename.endswith(".md")
    assert "version 1" in card.text
    assert [b.label for b in budi.buttons][:2] == ["Check out", "History"]

    out = texts(await budi.say("search type:expense travel"))
    assert "Travel and expense form" in out and "Sales policy book" not in out


async def test_plain_words_intent_and_indonesian(chat: CollectingChat) -> None:
    hendra = chat.as_user("hendra")  # an Indonesian-speaking manager
    out = texts(await hendra.say("cari dokumen persetujuan diskon"))
    assert "Buku kebijakan penjualan" in out
    assert "ditemukan" in out


async def test_more_results_and_suggestion(chat: CollectingChat) -> None:
    budi = chat.as_user("budi")
    out = texts(await budi.say("/kb price"))
    assert "More results" in [b.label for b in budi.buttons] or "1." in out
    out = texts(await budi.say("/kb 2026"))
    assert "documents found" in out
    if any(b.label == "More results" for b in budi.buttons):
        out2 = texts(await budi.press("More results"))
        assert "6." in out2
    out = texts(await budi.say("/kb aprovall"))
    assert "Did you mean \"approval\"?" in out
    out = texts(await budi.press("Search \"approval\""))
    assert "Sales policy book" in out


async def test_check_out_refused_to_second_user_then_check_in(
    chat: CollectingChat, app: App, clock: ManualClock
) -> None:
    budi, andi = chat.as_user("budi"), chat.as_user("andi")
    doc = _doc(app, "Price rules 2026")
    await budi.say(f"/kb #{doc.id}")
    out = texts(await budi.press("Check out"))
    assert "You have checked out Price rules 2026" in out

    await andi.say(f"/kb #{doc.id}")
    assert "Checked out by Budi" in andi.transcript[-1].text
    out = texts(await andi.press("Tell me when free"))
    assert "I will tell you" in out

    clock.advance(minutes=20)
    await budi.press("Check in")
    out = texts(await budi.say("Added the Q2 volume tiers"))
    assert "What changed" not in out and "send the new file" in out
    out = texts(await budi.say("# Price rules 2026\n\nVolume tiers: 10, 50 and 200 units."))
    assert "as version 2" in out

    with app.db.session() as session:
        versions = session.scalars(select(DocumentVersion.version).where(
            DocumentVersion.document_id == doc.id)).all()
        assert sorted(versions) == [1, 2]
        notice = session.scalars(select(NoticeRow).where(NoticeRow.kind == "kb.free")).one()
        andi_id = session.scalar(select(User.id).where(User.login == "andi"))
        assert notice.recipient_user_id == andi_id
        render = app.registry.notices["kb.free"]
        andi_user = session.get(User, andi_id)
        from bot.i18n import Translator
        reply = render(session, notice, andi_user, Translator("en"))
        assert reply is not None and "free now" in reply.text

    # The new text is searchable at once, the old words of version 1 are gone.
    out = texts(await andi.say("/kb tiers 200 units"))
    assert "Price rules 2026" in out
    out = texts(await budi.say(f"/kb #{doc.id}"))
    await budi.press("History")
    history = budi.transcript[-1].text
    assert "v1 — Ayu Lestari" in history and "v2 — Budi Santoso" in history
    assert "Added the Q2 volume tiers" in history
    await budi.press("Get v1")
    old = budi.transcript[-1]
    assert old.attachment is not None and b"tier 2 price" in old.attachment.data


async def test_upload_new_document_and_check_in_by_file(
    chat: CollectingChat, app: App
) -> None:
    budi = chat.as_user("budi")
    out = texts(await budi.upload("visit-checklist.md",
                                  b"# Visit checklist\n\nBring the brochure and a demo unit."))
    assert "What kind of document" in out
    out = texts(await budi.press("Other"))
    assert "as a draft" in out  # reps add drafts; a manager publishes
    doc = _doc(app, "Visit checklist")
    assert doc.status == "draft" and doc.source == "upload"
    # budi finds his own draft; andi does not.
    assert "Visit checklist" in texts(await budi.say("/kb brochure demo unit"))
    andi = chat.as_user("andi")
    assert "Nothing found" in texts(await andi.say("/kb brochure"))
    assert "some of them" in texts(await andi.say("/kb brochure demo unit"))
    maya = chat.as_user("maya")
    await maya.say(f"/kb #{doc.id}")
    out = texts(await maya.say(f"/kb #{doc.id}"))
    assert "Ayu" not in out
    out = texts(await maya.press("Publish"))
    assert "published" in out
    assert "Visit checklist" in texts(await andi.say("/kb brochure demo unit"))

    # Check out, then just send the new file: it becomes the next version.
    await budi.say(f"/kb #{doc.id}")
    await budi.press("Check out")
    out = texts(await budi.upload("visit-checklist.md",
                                  b"# Visit checklist\n\nBring the brochure, a demo unit and "
                                  b"price cards."))
    assert "new version of a document you have checked out" in out
    await budi.press("New version of Visit checklist")
    out = texts(await budi.say("Price cards added"))
    assert "as version 2" in out
    assert "Visit checklist" in texts(await andi.say("/kb price cards"))


async def test_unreadable_upload_is_refused_and_nothing_kept(
    chat: CollectingChat, app: App
) -> None:
    budi = chat.as_user("budi")
    out = texts(await budi.upload("scan.pdf", b"%PDF-1.4 this is not really a pdf"))
    assert "could not read any text from scan.pdf" in out
    out = texts(await budi.upload("photo.jpg", b"\xff\xd8\xff\xe0 jpeg"))
    assert "cannot read photo.jpg" in out
    with app.db.session() as session:
        from core.models.knowledge import PendingUpload
        assert session.scalars(select(PendingUpload)).all() == []


async def test_admin_breaks_lock_and_bad_inputs(
    chat: CollectingChat, app: App, clock: ManualClock
) -> None:
    budi, admin = chat.as_user("budi"), chat.as_user("admin")
    doc = _doc(app, "Office phone list")
    await budi.say(f"/kb #{doc.id}")
    await budi.press("Check out")
    await admin.say(f"/kb #{doc.id}")
    assert "Break lock" in [b.label for b in admin.buttons]
    out = texts(await admin.press("Break lock"))
    assert "held by Budi Santoso" in out
    # budi's old Check in button: refused with a clear reason.
    out = texts(await budi.press("Check in"))
    assert "have not checked out Office phone list" in out
    with app.db.session() as session:
        assert session.scalar(select(NoticeRow.kind).where(
            NoticeRow.kind == "kb.lock_broken")) == "kb.lock_broken"
        entries = kb.history(session, session.get(User, doc.owner_id), doc.id)
        assert [e.kind for e in entries if e.kind == "break"] == ["break"]
    assert "No such document" in texts(await budi.say("/kb #999999"))
    assert "Unknown document type" in texts(await budi.say("/kb type:banana price"))
    out = texts(await budi.say("/kb"))
    assert "What should I look for" in out
    out = texts(await budi.say("discount"))
    assert "Sales policy book" in out


async def test_lock_expiry_sweep_notifies(chat: CollectingChat, app: App,
                                          clock: ManualClock) -> None:
    budi = chat.as_user("budi")
    doc = _doc(app, "Sales report 2025")
    await budi.say(f"/kb #{doc.id}")
    await budi.press("Check out")
    clock.advance(kb.DEFAULT_LOCK_TTL + timedelta(minutes=1))
    with app.db.session() as session:
        assert checkout.expire_locks(session, clock.now()) == 1
    with app.db.session() as session:
        row = session.get(Document, doc.id)
        assert row is not None and row.locked_by_id is None
        assert session.scalar(select(NoticeRow.kind).where(
            NoticeRow.kind == "kb.lock_expired")) == "kb.lock_expired"
    out = texts(await budi.press("Check in"))
    assert "check-out expired" in out
