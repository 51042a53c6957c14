"""/invite prints the Telegram deep link (the bot's username kept from getMe) and, on a
press, its QR code image; without a known bot it prints the code alone."""

from __future__ import annotations

from sqlalchemy import select

from core.db import Database
from core.invites import deep_link, qr_png, remember_username
from core.models import InviteCode
from tests.support.chat import CollectingChat, texts


async def test_invite_link_and_qr(chat: CollectingChat, database: Database) -> None:
    admin = chat.as_user("admin")
    r = await admin.say("/invite andi")
    assert "Invite code for Andi Pratama:" in texts(r) and "t.me" not in texts(r)
    assert not admin.buttons or "QR code" not in [b.label for b in admin.buttons]
    with database.session() as s:
        remember_username(s, "sfa_demo_bot", chat.engine.clock.now())
        remember_username(s, "bad name!", chat.engine.clock.now())  # ignored
    r = await admin.say("/invite andi")
    with database.session() as s:
        code = s.scalars(select(InviteCode).order_by(InviteCode.created_at.desc(),
                                                     InviteCode.code)).first()
        newest = [c.code for c in s.scalars(select(InviteCode)) if c.code in texts(r)]
    assert len(newest) == 1 and code is not None
    link = f"https://t.me/sfa_demo_bot?start={newest[0]}"
    assert f"On Telegram one tap does it: {link}" in texts(r)
    r = await admin.press("QR code")
    image = r[-1].attachment
    assert image is not None and image.mime == "image/png" and image.data.startswith(b"\x89PNG")
    assert image.data == qr_png(link) and link in r[-1].text
    with database.session() as s:
        s.get(InviteCode, newest[0]).used_at = chat.engine.clock.now()
    r = await admin.press("QR code")
    assert "That invite is used or expired" in texts(r)
    r = await chat.as_user("maya").say("/invite andi")
    assert "Your role cannot use that" in texts(r)


def test_deep_link_shape() -> None:
    assert deep_link("sfa_bot", "ABCD2345") == "https://t.me/sfa_bot?start=ABCD2345"
