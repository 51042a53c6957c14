"""The questions and tasks the other issues added, asked in plain words (English and
Indonesian) instead of their slash commands: each reaches its flow."""

from __future__ import annotations

import pytest

from tests.support.chat import CollectingChat, texts


@pytest.mark.parametrize(("login", "message", "expect"), [
    ("budi", "add Hadi Effendi, purchasing at Sinar Jaya Abadi, 0812 3456 789",
     "Hadi Effendi"),
    ("budi", "tambah perusahaan baru Kopi Kenangan", "Kopi Kenangan ada di kota mana?"),
    ("budi", "plan my day", "🗺 Your day"),
    ("budi", "rencanakan hari saya", "🗺 Hari Anda"),
    ("budi", "customers near me", "Share your location"),
    ("maya", "optimise my team", "Proposal for Java West"),
    ("maya", "how is my team doing", "Coverage of Java West"),
    ("maya", "contacts in Jakarta", "📍 Jakarta"),
    ("maya", "kontak di wilayah Bandung", "📍 Bandung"),
    ("maya", "customers in manufacturing in Java West", "Manufacturing in Java West"),
    ("budi", "configure a solution for Sinar Jaya Abadi",
     "What should the solution be for Sinar Jaya Abadi?"),
    ("maya", "what is waiting for my approval", "Nothing waits for your decision."),
    ("admin", "show our company details", "Company details on every quote"),
    ("budi", "change Hendro Wibisono's phone", "What do you want to change?"),
    ("maya", "merge Hendro Wibisono", "into which record?"),
    ("budi", "peluang baru buat Sinar Jaya Abadi, CCTV gudang 150 juta", "siapa kontaknya?"),
    ("budi", "new deal for Sinar Jaya Abadi, warehouse CCTV", "who is the contact?"),
    ("maya", "gimana performa tim saya bulan ini?", "👥 Cakupan Java West"),
    ("maya", "how is my team performing this month?", "👥 Coverage of Java West"),
    ("maya", "siapa sales yang paling banyak kunjungan minggu ini?",
     "Tingkat aktivitas per rep, minggu ini"),
    ("maya", "which rep made the most visits this week?", "Activity levels by rep, this week"),
])
async def test_asked_in_plain_words(chat: CollectingChat, login: str, message: str,
                                    expect: str) -> None:
    out = texts(await chat.as_user(login).say(message))
    assert expect in out, out[:300]


async def test_a_question_after_a_report_is_not_answered_done(chat: CollectingChat) -> None:
    """A report on screen waits for its buttons; a message that is neither a report nor
    anything understood gets what was not understood, never "Done" to a question."""
    maya = chat.as_user("maya")
    assert "Won sales by rep" in texts(await maya.say("won by rep this quarter"))
    out = texts(await maya.say("could you frobnicate the quux for me"))
    assert 'did not understand "frobnicate quux"' in out and "Done" not in out
    assert "👥 Coverage of Java West" in texts(
        await maya.say("how is my team performing this month?"))
