"""Every kind of entry the agenda can list reads as words in both languages, never as its
internal key ("Complaint:" in an Indonesian agenda, "Contact_by")."""

from __future__ import annotations

from bot.conversations.documents import KIND_LABELS, kind_label
from bot.i18n import Translator
from core.pipeline import NEXT_STEPS

# The kinds core writes on a follow-up or an agenda item: a deal's next steps, a visit's
# ("meeting" / "follow_up"), a complaint's, a reminder's, a lead's contact-by date, a job.
KINDS = {k for steps in NEXT_STEPS.values() for k in steps} | {
    "meeting", "follow_up", "visit", "complaint", "reminder", "contact_by", "job"}


def test_every_agenda_kind_has_words_in_both_languages() -> None:
    en, idn = Translator("en"), Translator("id")
    assert sorted(KINDS - set(KIND_LABELS)) == []
    for kind in sorted(KINDS - {"proposal"}):  # "Proposal" is the Indonesian word too
        assert kind_label(idn, kind) != kind_label(en, kind), kind  # translated
    assert kind_label(idn, "complaint") == "Tindak lanjut keluhan"
