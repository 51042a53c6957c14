"""Telegram's side of a `Reply`: text cut under Telegram's limits and escaped as HTML (user
text can never inject markup), inline keyboards of the engine's stamped payloads, photos,
documents and contacts (a one-card vCard is sent as a contact)."""

from __future__ import annotations

import html
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)
from telegram.constants import ParseMode

from bot.conversations.messages import Reply

MAX_TEXT = 4096  # Telegram's limit for one message
MAX_CAPTION = 1024


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut text into pieces under Telegram's limit, at line breaks where possible."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text:
        pieces.append(text)
    return pieces


def to_html(text: str, preformatted: bool = False) -> str:
    """Escape text for Telegram's HTML mode (user text can never inject markup)."""
    escaped = html.escape(text, quote=False)
    return f"<pre>{escaped}</pre>" if preformatted else escaped


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """Inline keyboard of the reply's stamped buttons (None without buttons)."""
    rows = [[InlineKeyboardButton(b.label[:64], callback_data=b.payload)
             for b in row if b.payload] for row in reply.buttons]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def _vcard_contact(data: bytes) -> dict[str, str] | None:
    """First name, last name and phone of a one-card vCard, for sendContact; None if unfit."""
    import vobject

    try:
        card = vobject.readOne(data.decode("utf-8", "replace"))
        phone = str(card.tel.value).strip()
        full = str(card.fn.value).strip()
    except Exception:
        return None
    if not phone or not full:
        return None
    first, _, last = full.partition(" ")
    return {"phone_number": phone, "first_name": first[:64], "last_name": last[:64]}


async def send_text(bot: Any, chat_id: str | int, html_text: str, markup: Any = None,
                    **common: Any) -> int:
    """sendMessage through the bot's request path (its rate limiter, Telegram's errors as
    PTB's exceptions) without turning the answer into a `Message`, which nothing reads
    (building one cost ~0.1 ms a reply); returns the sent message's id."""
    data: dict[str, Any] = {"chat_id": chat_id, "text": html_text,
                            "parse_mode": ParseMode.HTML, **common}
    if markup is not None:
        data["reply_markup"] = markup
    sent = await bot._post("sendMessage", data)  # PTB's own path of send_message
    return int(sent["message_id"])


async def send_reply(
    bot: Any, chat_id: str | int, reply: Reply, *, reply_to: int | None = None,
    remove_keyboard: bool = False,
) -> int | None:
    """Send one Reply to a chat; returns the id of the last message sent (None if nothing
    to send). A reply asking for a location (and without inline buttons) shows a one-tap
    "share location" keyboard; `remove_keyboard` takes such a keyboard away again."""
    markup: Any = keyboard(reply)
    if markup is None and reply.ask_location:
        markup = ReplyKeyboardMarkup(
            [[KeyboardButton(reply.ask_location[:64], request_location=True)]],
            one_time_keyboard=True, resize_keyboard=True)
    elif markup is None and remove_keyboard:
        markup = ReplyKeyboardRemove()
    attachment = reply.attachment
    common: dict[str, Any] = {}
    if reply_to is not None:
        common["reply_parameters"] = ReplyParameters(reply_to,
                                                     allow_sending_without_reply=True)
    if attachment is None:
        pieces = split_text(reply.text)
        if not pieces:
            if markup is None:
                return None
            pieces = ["…"]
        last: int | None = None
        for i, piece in enumerate(pieces):
            last = await send_text(bot, chat_id, to_html(piece, reply.preformatted),
                                   markup if i == len(pieces) - 1 else None, **common)
        return last
    caption = "\n\n".join(x for x in (reply.text, attachment.caption or "") if x)
    if len(caption) > MAX_CAPTION:
        for piece in split_text(reply.text):
            await send_text(bot, chat_id, to_html(piece, reply.preformatted), **common)
        caption = (attachment.caption or "")[:MAX_CAPTION]
        preformatted = False
    else:
        preformatted = reply.preformatted and not attachment.caption
    upload = InputFile(attachment.data, filename=attachment.filename)
    html_caption = to_html(caption, preformatted) if caption else None
    if attachment.mime in ("text/vcard", "text/x-vcard") and not caption:
        fields = _vcard_contact(attachment.data)
        if fields is not None:
            contact: Message = await bot.send_contact(
                chat_id, vcard=attachment.data.decode("utf-8", "replace")[:2048],
                reply_markup=markup, **fields, **common)
            return contact.message_id
    if attachment.is_image and attachment.mime in ("image/png", "image/jpeg", "image/webp"):
        photo: Message = await bot.send_photo(chat_id, upload, caption=html_caption,
                                              parse_mode=ParseMode.HTML, reply_markup=markup,
                                              **common)
        return photo.message_id
    document: Message = await bot.send_document(chat_id, upload, caption=html_caption,
                                                parse_mode=ParseMode.HTML, reply_markup=markup,
                                                **common)
    return document.message_id
