"""One date understanding (bot.conversations.dates): a table of the ways people type a date
in English and Indonesian, read from Monday 2 March 2026 09:00 in Jakarta."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.conversations.dates import find_when, moment, parse_when

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 2 March 2026, 09:00 in Jakarta
JAKARTA = "Asia/Jakarta"


def shown(value: datetime | date | None, tz: str = JAKARTA) -> str | None:
    """'Tue 03 Mar 2026' for a date, 'Tue 03 Mar 2026 14:00' (local) for a date-time."""
    if value is None:
        return None
    if isinstance(value, datetime):
        assert value.tzinfo is not None and value.utcoffset() == UTC.utcoffset(None)
        return value.astimezone(ZoneInfo(tz)).strftime("%a %d %b %Y %H:%M")
    return value.strftime("%a %d %b %Y")


TABLE = [
    # days by name
    ("today", "en", "Mon 02 Mar 2026"),
    ("hari ini", "id", "Mon 02 Mar 2026"),
    ("tomorrow", "en", "Tue 03 Mar 2026"),
    ("besok", "id", "Tue 03 Mar 2026"),
    ("Besok.", "id", "Tue 03 Mar 2026"),
    ("the day after tomorrow", "en", "Wed 04 Mar 2026"),
    ("lusa", "id", "Wed 04 Mar 2026"),
    ("yesterday", "en", "Sun 01 Mar 2026"),
    ("kemarin", "id", "Sun 01 Mar 2026"),
    # days with a time
    ("besok jam 14.00", "id", "Tue 03 Mar 2026 14:00"),
    ("besok pukul 9", "id", "Tue 03 Mar 2026 09:00"),
    ("lusa jam 10", "id", "Wed 04 Mar 2026 10:00"),
    ("tomorrow 9:30", "en", "Tue 03 Mar 2026 09:30"),
    ("tomorrow at 10", "en", "Tue 03 Mar 2026 10:00"),
    ("at 10 tomorrow", "en", "Tue 03 Mar 2026 10:00"),
    ("tomorrow 2pm", "en", "Tue 03 Mar 2026 14:00"),
    ("tomorrow morning", "en", "Tue 03 Mar 2026 09:00"),
    ("tomorrow evening at 7", "en", "Tue 03 Mar 2026 19:00"),
    ("besok pagi", "id", "Tue 03 Mar 2026 09:00"),
    ("besok sore", "id", "Tue 03 Mar 2026 15:00"),
    ("besok jam 3 sore", "id", "Tue 03 Mar 2026 15:00"),
    ("besok jam 7 malam", "id", "Tue 03 Mar 2026 19:00"),
    ("tonight", "en", "Mon 02 Mar 2026 19:00"),
    ("nanti malam", "id", "Mon 02 Mar 2026 19:00"),
    ("this afternoon", "en", "Mon 02 Mar 2026 14:00"),
    ("sore ini", "id", "Mon 02 Mar 2026 15:00"),
    # a time alone: today, or tomorrow once it has passed
    ("14:00", "en", "Mon 02 Mar 2026 14:00"),
    ("14.30", "id", "Mon 02 Mar 2026 14:30"),
    ("jam 3 sore", "id", "Mon 02 Mar 2026 15:00"),
    ("8:00", "en", "Tue 03 Mar 2026 08:00"),
    ("noon", "en", "Mon 02 Mar 2026 12:00"),
    ("10 o'clock", "en", "Mon 02 Mar 2026 10:00"),
    ("14:00 WIB", "id", "Mon 02 Mar 2026 14:00"),
    ("11:00 WITA", "id", "Mon 02 Mar 2026 10:00"),
    # weekdays
    ("friday", "en", "Fri 06 Mar 2026"),
    ("Friday 14:00", "en", "Fri 06 Mar 2026 14:00"),
    ("on friday", "en", "Fri 06 Mar 2026"),
    ("jumat", "id", "Fri 06 Mar 2026"),
    ("Jum'at jam 10", "id", "Fri 06 Mar 2026 10:00"),
    ("hari jumat jam 10", "id", "Fri 06 Mar 2026 10:00"),
    ("monday", "en", "Mon 09 Mar 2026"),
    ("this friday", "en", "Fri 06 Mar 2026"),
    ("rabu ini", "id", "Wed 04 Mar 2026"),
    ("next friday 10:00", "en", "Fri 13 Mar 2026 10:00"),
    ("next friday", "en", "Fri 13 Mar 2026"),
    ("friday next week", "en", "Fri 13 Mar 2026"),
    ("next week friday", "en", "Fri 13 Mar 2026"),
    ("jumat depan", "id", "Fri 13 Mar 2026"),
    ("jumat minggu depan jam 9", "id", "Fri 13 Mar 2026 09:00"),
    ("senin depan", "id", "Mon 09 Mar 2026"),
    ("next monday 9am", "en", "Mon 09 Mar 2026 09:00"),
    ("fri", "en", "Fri 06 Mar 2026"),
    ("hari minggu", "id", "Sun 08 Mar 2026"),
    # spans from today
    ("in 3 days", "en", "Thu 05 Mar 2026"),
    ("3 hari lagi", "id", "Thu 05 Mar 2026"),
    ("dalam 3 hari", "id", "Thu 05 Mar 2026"),
    ("in 2 weeks", "en", "Mon 16 Mar 2026"),
    ("in two weeks", "en", "Mon 16 Mar 2026"),
    ("2 minggu lagi", "id", "Mon 16 Mar 2026"),
    ("dua minggu lagi", "id", "Mon 16 Mar 2026"),
    ("seminggu lagi", "id", "Mon 09 Mar 2026"),
    ("in a week", "en", "Mon 09 Mar 2026"),
    ("sebulan lagi", "id", "Thu 02 Apr 2026"),
    ("in 2 hours", "en", "Mon 02 Mar 2026 11:00"),
    ("2 jam lagi", "id", "Mon 02 Mar 2026 11:00"),
    ("in 30 minutes", "en", "Mon 02 Mar 2026 09:30"),
    ("30 menit lagi", "id", "Mon 02 Mar 2026 09:30"),
    ("setengah jam lagi", "id", "Mon 02 Mar 2026 09:30"),
    # periods: their first day (a week starts on Monday), their end
    ("next week", "en", "Mon 09 Mar 2026"),
    ("minggu depan", "id", "Mon 09 Mar 2026"),
    ("pekan depan", "id", "Mon 09 Mar 2026"),
    ("next month", "en", "Wed 01 Apr 2026"),
    ("bulan depan", "id", "Wed 01 Apr 2026"),
    ("end of the month", "en", "Tue 31 Mar 2026"),
    ("akhir bulan", "id", "Tue 31 Mar 2026"),
    ("the weekend", "en", "Sat 07 Mar 2026"),
    ("akhir pekan", "id", "Sat 07 Mar 2026"),
    # calendar dates (day first; without a year, the next such day)
    ("15 Des", "id", "Tue 15 Dec 2026"),
    ("15 des 2026", "id", "Tue 15 Dec 2026"),
    ("15 Desember", "id", "Tue 15 Dec 2026"),
    ("tanggal 15 desember", "id", "Tue 15 Dec 2026"),
    ("15 Des jam 10", "id", "Tue 15 Dec 2026 10:00"),
    ("tgl 15", "id", "Sun 15 Mar 2026"),
    ("15 December", "en", "Tue 15 Dec 2026"),
    ("Dec 15th", "en", "Tue 15 Dec 2026"),
    ("December 15, 2026", "en", "Tue 15 Dec 2026"),
    ("15th of December", "en", "Tue 15 Dec 2026"),
    ("the 15th", "en", "Sun 15 Mar 2026"),
    ("1 Mar", "en", "Mon 01 Mar 2027"),
    ("2 Mei", "id", "Sat 02 May 2026"),
    ("2026-12-15", "en", "Tue 15 Dec 2026"),
    ("2026-12-15 09:30", "en", "Tue 15 Dec 2026 09:30"),
    ("15/12", "id", "Tue 15 Dec 2026"),
    ("15/12/2026", "id", "Tue 15 Dec 2026"),
    ("15-12-26", "id", "Tue 15 Dec 2026"),
    ("15.12.2026", "id", "Tue 15 Dec 2026"),
    ("10/3 14:00", "en", "Tue 10 Mar 2026 14:00"),
    ("1/3", "en", "Mon 01 Mar 2027"),
    ("3rd of April", "en", "Fri 03 Apr 2026"),
    ("March 2027", "en", "Mon 01 Mar 2027"),
    # not (only) a date
    ("31/2", "en", None),
    ("25:00", "en", None),
    ("besok jam 25", "id", None),
    ("ok", "en", None),
    ("5", "en", None),
    ("10", "id", None),
    ("room 5", "en", None),
    ("Hendro", "id", None),
    ("2 server x1", "en", None),
    ("tomorrow 9:30 call", "en", None),
    ("tomorrow friday", "en", None),
    ("in 2 hours tomorrow", "en", None),
    ("", "en", None),
]


@pytest.mark.parametrize(("text", "language", "expected"), TABLE)
def test_a_typed_date_is_read_the_same_everywhere(text: str, language: str,
                                                  expected: str | None) -> None:
    assert shown(parse_when(text, language, NOW, JAKARTA)) == expected


def test_the_table_is_long_and_bilingual() -> None:
    readable = [row for row in TABLE if row[2] is not None]
    assert len(readable) >= 60
    assert sum(1 for row in readable if row[1] == "id") >= 30
    assert sum(1 for row in readable if row[1] == "en") >= 30


def test_weekdays_from_a_friday() -> None:
    friday = datetime(2026, 3, 6, 2, 0, tzinfo=UTC)  # Friday 09:00
    assert shown(parse_when("friday", "en", friday, JAKARTA)) == "Fri 13 Mar 2026"
    assert shown(parse_when("this friday", "en", friday, JAKARTA)) == "Fri 06 Mar 2026"
    assert shown(parse_when("jumat ini", "id", friday, JAKARTA)) == "Fri 06 Mar 2026"
    assert shown(parse_when("next monday", "en", friday, JAKARTA)) == "Mon 09 Mar 2026"
    assert shown(parse_when("senin", "id", friday, JAKARTA)) == "Mon 09 Mar 2026"
    assert shown(parse_when("next friday", "en", friday, JAKARTA)) == "Fri 13 Mar 2026"


def test_read_in_the_users_zone() -> None:
    late = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)  # Mon 23:30 in Jakarta, Tue 00:30 Makassar
    assert shown(parse_when("besok", "id", late, JAKARTA)) == "Tue 03 Mar 2026"
    assert shown(parse_when("besok", "id", late, "Asia/Makassar")) == "Wed 04 Mar 2026"
    when = parse_when("tomorrow 10:00", "en", NOW, "Asia/Makassar")
    assert isinstance(when, datetime) and when == datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    assert moment(date(2026, 3, 3), JAKARTA, time(9, 0)) == datetime(2026, 3, 3, 2, 0,
                                                                       tzinfo=UTC)


FOUND = [
    ("tomorrow at 10 to call Hendro", "Tue 03 Mar 2026 10:00", "call Hendro"),
    ("call Hendro on Friday", "Fri 06 Mar 2026", "call Hendro"),
    ("in 2 hours call back", "Mon 02 Mar 2026 11:00", "call back"),
    ("besok pukul 9 kunjungi Samudra", "Tue 03 Mar 2026 09:00", "kunjungi Samudra"),
    ("lusa jam 10 telepon Hendro", "Wed 04 Mar 2026 10:00", "telepon Hendro"),
    ("jumat telepon Hendro jam 10", "Fri 06 Mar 2026 10:00", "telepon Hendro"),
    ("send the price list next friday 14:00", "Fri 13 Mar 2026 14:00", "send the price list"),
    ("kirim 10 laptop minggu depan", "Mon 09 Mar 2026", "kirim 10 laptop"),
    ("follow up on the quote in 2 weeks", "Mon 16 Mar 2026", "follow up on the quote"),
    ("15 Des kirim penawaran", "Tue 15 Dec 2026", "kirim penawaran"),
    ("yesterday to file the report", "Sun 01 Mar 2026", "file the report"),
    # words that are dates only as a whole answer
    ("call Hendro", None, "call Hendro"),
    ("call bank 1 at 16", None, "call bank 1 at 16"),
    ("selamat pagi kirim brosur", None, "selamat pagi kirim brosur"),
    ("I sat with him", None, "I sat with him"),
    ("seminggu sekali cek stok", None, "seminggu sekali cek stok"),
    ("order 2 weeks of stock", None, "order 2 weeks of stock"),
]


@pytest.mark.parametrize(("text", "expected", "rest"), FOUND)
def test_a_date_inside_a_sentence(text: str, expected: str | None, rest: str) -> None:
    value, left = find_when(text, "en", NOW, JAKARTA)
    assert (shown(value), left) == (expected, rest)
