"""Step 2, clean: control characters out, size limits, empty messages."""

from __future__ import annotations

from bot.conversations.messages import Incoming, IncomingFile
from bot.conversations.pipeline.clean import clean, clean_text
from bot.i18n import Translator
from core.settings import Settings

T = Translator("en", "Asia/Jakarta")


def test_clean_text_removes_controls_and_bidi_overrides() -> None:
    assert clean_text("  he\x00llo\u202e wor\u200bld \n") == "hello world"
    assert clean_text("e\u0301") == "\u00e9"  # NFC


def test_cleaned_update_goes_on(settings: Settings) -> None:
    out = clean(Incoming("console", "1", "1", text=" hi\x07 "), settings, T)
    assert isinstance(out, Incoming) and out.text == "hi"
    same = Incoming("console", "1", "1", text="hi")
    assert clean(same, settings, T) is same  # nothing to clean: the same update


def test_too_long_too_big_and_empty_are_answered(settings: Settings) -> None:
    long = clean(Incoming("console", "1", "1", text="x" * (settings.max_message_chars + 1)),
                 settings, T)
    assert isinstance(long, list) and "too long" in long[0].text
    big = IncomingFile(name="a.bin", mime="application/octet-stream",
                       size=settings.max_upload_bytes + 1, data=b"")
    refused = clean(Incoming("console", "1", "1", file=big), settings, T)
    assert isinstance(refused, list) and "too big" in refused[0].text
    empty = clean(Incoming("console", "1", "1", text="\u200b "), settings, T)
    assert isinstance(empty, list) and "did not get any text" in empty[0].text
