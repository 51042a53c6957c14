"""/org: an admin sets the company details from the chat (every door runs the same flow);
bad values are answered with what to type instead; reps cannot use it."""

from __future__ import annotations

import io

from PIL import Image

from bot.app import App
from core import organisation
from tests.support.chat import CollectingChat, texts


async def test_an_admin_sets_the_company_details_in_chat(app: App,
                                                         chat: CollectingChat) -> None:
    admin = chat.as_user("admin")
    out = texts(await admin.say("/org"))
    assert "Company name: (not set)" in out and "Documents say DRAFT until you set" in out
    await admin.press("Company name")
    out = texts(await admin.say("PT Maju Teknik Nusantara"))
    assert "Saved: Company name." in out and "Company name: PT Maju Teknik Nusantara" in out
    await admin.press("Address")
    await admin.say("Jl. Gatot Subroto Kav. 12\nJakarta 12930")
    await admin.press("E-mail")
    out = texts(await admin.say("sales at majuteknik"))
    assert "is not an e-mail address" in out  # the step stays: type it again
    out = texts(await admin.say("sales@majuteknik.co.id"))
    assert "Documents carry these details." in out
    await admin.press("Payment terms")
    out = texts(await admin.press("Indonesian"))
    assert "Type the new Payment terms." in out
    out = texts(await admin.say("Pembayaran 14 hari setelah faktur."))
    assert "Indonesian: Pembayaran 14 hari setelah faktur." in out
    await admin.press("Logo")
    out = texts(await admin.upload("logo.svg", b"<svg/>", "image/svg+xml"))
    assert "not a PNG or JPEG" in out
    logo = io.BytesIO()
    Image.new("RGB", (300, 90), (0, 80, 160)).save(logo, format="PNG")
    out = texts(await admin.upload("logo.png", logo.getvalue(), "image/png"))
    assert "The logo is saved" in out and "Logo: set" in out
    await admin.press("Quote validity (days)")
    await admin.press("Clear")
    out = texts(await admin.press("Done"))
    assert "Saved." in out
    with app.db.session() as s:
        seller = organisation.seller(s)
    assert seller.name == "PT Maju Teknik Nusantara" and not seller.is_draft
    assert seller.address == "Jl. Gatot Subroto Kav. 12\nJakarta 12930"
    assert seller.payment_terms == {"id": "Pembayaran 14 hari setelah faktur."}
    assert seller.logo_mime == "image/png" and seller.quote_validity_days == 30


async def test_reps_cannot_change_the_company_details(app: App, chat: CollectingChat) -> None:
    budi = chat.as_user("budi")
    out = texts(await budi.say("/org"))
    assert "Company name" not in out
    with app.db.session() as s:
        assert organisation.profile(s) is None


async def test_calendar_files_name_the_company_as_organiser(app: App, chat: CollectingChat,
                                                           clock) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from core.followups import add_reminder
    from core.models import User

    with app.db.session() as s:
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        budi.email = None  # the rep has no address: the company's is used
        fu = add_reminder(s, budi, due_at=clock.now() + timedelta(days=1), note="call Hendro",
                          now=clock.now())
        organisation.update_profile(s, None, {"name": "PT Maju Teknik Nusantara",
                                              "email": "sales@majuteknik.co.id"},
                                    now=clock.now())
        fid = fu.id
    user = chat.as_user("budi")
    replies = await user.send(user.incoming(button=f"a|agenda.ics|{fid}"))
    ics = next(r.attachment for r in replies if r.attachment is not None).data.decode()
    unfolded = ics.replace("\r\n ", "")
    assert 'ORGANIZER;CN="Budi Santoso (PT Maju Teknik Nusantara)":mailto:sales@majuteknik.co.id' \
        in unfolded, unfolded
