"""A Telegram update as the engine's `Incoming` (None: nothing for the engine): button
presses, messages (in a group only when they mention the bot or answer it), live-location
moves, locations, shared contacts (as a vCard) and files (downloaded up to the size limit)."""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.conversations.messages import (
    FORM_MIME,
    Incoming,
    IncomingFile,
    Reply,
    live_location_update,
)
from bot.handlers.telegram_render import send_reply
from bot.i18n import N_, Translator

log = logging.getLogger("bot.handlers.telegram")

PLATFORM = "telegram"
DOWNLOAD_FAILED = N_("I could not fetch that file from Telegram. Please send it again.")


async def to_incoming(bot: Any, update: Update, max_upload_bytes: int) -> Incoming | None:
    """Translate an update into the engine's Incoming (None: nothing for the engine)."""
    query = update.callback_query
    if query is not None:
        chat = query.message.chat if query.message is not None else None
        return Incoming(
            platform=PLATFORM,
            chat_id=str(chat.id if chat is not None else query.from_user.id),
            user_id=str(query.from_user.id),
            update_id=str(update.update_id),
            button=query.data or "",
            chat_is_group=chat is not None and chat.type in (ChatType.GROUP,
                                                             ChatType.SUPERGROUP),
            display_name=query.from_user.full_name,
            language=language_of(query.from_user.language_code),
        )
    edited = update.edited_message
    if edited is not None:  # only a live location's moves are for the engine
        if (edited.location is None or edited.from_user is None
                or edited.chat.type != ChatType.PRIVATE):
            return None
        return live_location_update(
            platform=PLATFORM, chat_id=str(edited.chat.id),
            user_id=str(edited.from_user.id), update_id=str(update.update_id),
            lat=edited.location.latitude, lon=edited.location.longitude,
            language=language_of(edited.from_user.language_code))
    msg = update.message
    if msg is None or msg.from_user is None or msg.chat.type == ChatType.CHANNEL:
        return None
    if not well_formed(msg):
        return None  # a forged update: PTB reads a list as text, None as a chat id
    is_group = msg.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
    base: dict[str, Any] = {
        "platform": PLATFORM, "chat_id": str(msg.chat.id), "user_id": str(msg.from_user.id),
        "update_id": str(update.update_id), "chat_is_group": is_group,
        "display_name": msg.from_user.full_name,
        "language": language_of(msg.from_user.language_code),
        "received_at": msg.date,
    }
    if msg.text is not None:
        if for_another_bot(bot, msg.text):
            return None
        text, addressed = msg.text, False
        if is_group:
            text, addressed = mentions_the_bot(bot, msg)
        return Incoming(**base, text=text, addressed=addressed)
    if msg.location is not None:
        return Incoming(**base, location=(msg.location.latitude, msg.location.longitude))
    if msg.contact is not None:
        return Incoming(**base, file=contact_file(msg))
    if msg.document is not None or msg.photo:
        if is_group:
            return None  # files shared in a group are the group's business
        upload = await download(bot, msg, max_upload_bytes)
        if upload is None:
            await send_reply(bot, msg.chat.id, Reply(
                Translator(base["language"] or "en")(DOWNLOAD_FAILED)))
            return None
        return Incoming(**base, file=upload)
    if is_group:
        return None  # joins, pins, stickers in a group: not for us
    return Incoming(**base)  # a sticker, a voice note: the engine says what it takes


def well_formed(msg: Message) -> bool:
    """Ids that are numbers and a text that is text, as Telegram itself always sends."""
    return (isinstance(msg.chat.id, int) and msg.from_user is not None
            and isinstance(msg.from_user.id, int)
            and (msg.text is None or isinstance(msg.text, str)))


def mentions_the_bot(bot: Any, msg: Message) -> tuple[str, bool]:
    """A group message is for the bot when it mentions the bot (the mention is taken out)
    or replies to one of the bot's messages."""
    text = msg.text or ""
    username = (bot.username or "").lower()
    if username:
        mention = re.compile(rf"@{re.escape(username)}\b[,:]?\s*", re.IGNORECASE)
        if mention.search(text):
            return mention.sub("", text).strip(), True
    reply_to = msg.reply_to_message
    if reply_to is not None and reply_to.from_user is not None and (
            reply_to.from_user.id == bot.id):
        return text, True
    return text, False


def for_another_bot(bot: Any, text: str) -> bool:
    """`/help@OtherBot` in a group is for that bot, not for us."""
    if not text.startswith("/"):
        return False
    command = text.split(maxsplit=1)[0]
    if "@" not in command:
        return False
    mention = command.split("@", 1)[1].lower()
    return bool(bot.username) and mention != bot.username.lower()


async def download(bot: Any, msg: Message, max_upload_bytes: int) -> IncomingFile | None:
    """The uploaded file; above the size limit only its size (refused, not downloaded)."""
    if msg.document is not None:
        doc = msg.document
        file_id, size = doc.file_id, doc.file_size
        name = doc.file_name or "document"
        mime = doc.mime_type or "application/octet-stream"
    else:
        photo = msg.photo[-1]  # the largest size
        file_id, size = photo.file_id, photo.file_size
        name, mime = f"photo_{photo.file_unique_id}.jpg", "image/jpeg"
    if mime == FORM_MIME:  # only a door may build form submissions
        mime = "application/json"
    if size is not None and size > max_upload_bytes:
        return IncomingFile(name=name, mime=mime, size=size)
    try:
        remote = await bot.get_file(file_id)
        if remote.file_size is not None and remote.file_size > max_upload_bytes:
            return IncomingFile(name=name, mime=mime, size=remote.file_size)
        data = bytes(await remote.download_as_bytearray())
    except TelegramError as exc:
        log.warning("telegram file download failed: %s", exc.__class__.__name__)
        return None
    return IncomingFile(name=name, mime=mime, size=len(data), data=data)


def language_of(code: str | None) -> str | None:
    if not code or not isinstance(code, str):  # a malformed update may carry anything
        return None
    return code.split("-", 1)[0].lower()[:2] or None



def contact_file(msg: Message) -> IncomingFile:
    """A shared contact, as the vCard the engine's flows read (Telegram's own, or built)."""
    c = msg.contact
    assert c is not None
    if c.vcard:
        data = c.vcard.encode()
    else:
        name = " ".join(x for x in (c.first_name, c.last_name) if x)
        lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{name}",
                 f"N:{c.last_name or ''};{c.first_name};;;", f"TEL;TYPE=CELL:{c.phone_number}",
                 "END:VCARD"]
        data = ("\r\n".join(lines) + "\r\n").encode()
    return IncomingFile(name="contact.vcf", mime="text/vcard", size=len(data), data=data)
