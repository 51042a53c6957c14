"""Invite links: the Telegram deep link https://t.me/<bot>?start=CODE (one tap opens the bot
and sends /start CODE) and its QR code image. The bot's username comes from Telegram's getMe;
the door stores it when it starts, so the command line and every worker can build links."""

from __future__ import annotations

import io
import re
from datetime import datetime

import segno
from sqlalchemy.orm import Session

from core.models.customers import BotProfile

TELEGRAM = "telegram"
_USERNAME = re.compile(r"^[A-Za-z0-9_]{4,64}$")


def remember_username(session: Session, username: str, now: datetime,
                      platform: str = TELEGRAM) -> None:
    """Keep the bot's username (from getMe) for building deep links."""
    if not _USERNAME.match(username or ""):
        return
    row = session.get(BotProfile, platform)
    if row is None:
        session.add(BotProfile(platform=platform, username=username, updated_at=now))
    elif row.username != username:
        row.username, row.updated_at = username, now


def cached_username(session: Session, platform: str = TELEGRAM) -> str | None:
    row = session.get(BotProfile, platform)
    return row.username if row is not None else None


def deep_link(username: str, code: str) -> str:
    """https://t.me/<bot>?start=CODE: opening it starts the chat with /start CODE."""
    return f"https://t.me/{username}?start={code}"


def qr_png(text: str, scale: int = 8) -> bytes:
    """A QR code image (PNG) of `text`, medium error correction."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
