"""Step 2, clean: normalised text without control characters; too long a message or too
big a file is answered here."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

from bot.conversations.messages import Incoming, Reply
from bot.i18n import Translator
from core.settings import Settings

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\ufeff]")


def clean_text(text: str) -> str:
    """Normalise user text: NFC, no control or bidi-override characters, trimmed."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()


def clean(inc: Incoming, settings: Settings, t: Translator) -> Incoming | list[Reply]:
    """The cleaned update, or the replies refusing it."""
    if inc.text is not None:
        text = clean_text(inc.text)
        if len(text) > settings.max_message_chars:
            return [Reply(t(
                "That message is too long ({count} characters). Please keep it under "
                "{limit} characters.", count=len(text), limit=settings.max_message_chars))]
        if text != inc.text:
            inc = replace(inc, text=text)
    if inc.file is not None and inc.file.size > settings.max_upload_bytes:
        return [Reply(t(
            "That file is too big ({size} MB). The limit is {limit} MB.",
            size=round(inc.file.size / 1_048_576, 1),
            limit=round(settings.max_upload_bytes / 1_048_576, 1)))]
    if not (inc.text or inc.button or inc.location or inc.file):
        return [Reply(t("I did not get any text. Send /help to see what I can do."))]
    return inc
