"""One date understanding for every date a user types, in English and Indonesian.

`parse_when(text, language, now, tz)` reads a phrase that is only a date or a date-time
(the answer to "When?", a {date} slot); `find_when(...)` finds one inside free text
("remind me lusa jam 10 to call Hendro"). Both read the same grammar:

- days: today / hari ini, tomorrow / besok, the day after tomorrow / lusa, yesterday /
  kemarin, tonight / nanti malam, "in 2 weeks" / "2 minggu lagi" / "dalam 3 hari" /
  "seminggu lagi", next week / minggu depan (its Monday), next month / bulan depan (its
  1st), end of the month / akhir bulan, the weekend / akhir pekan;
- weekdays: "friday" / "jumat" (the coming one, never today), "this friday" / "jumat ini"
  (today when it is Friday), "next friday" / "jumat depan" / "friday next week" (the
  Friday of next week, weeks starting on Monday);
- dates: 2026-12-15, 15/12, 15/12/2026, 15-12-26, 15.12.2026, "15 Des", "15 December
  2026", "Dec 15th", "tanggal 15" (day first; without a year the next such day);
- times: 14:00, 14.00, "jam 14.00", "pukul 9", "at 10", 2pm, "10 o'clock", "jam 3 sore",
  "tomorrow morning" / "besok pagi", noon; "in 2 hours" / "30 menit lagi" (from now);
  a zone word (WIB, WITA, WIT) reads the time in that zone.

What the grammar does not know is tried with dateparser (whole phrases only). The grammar's
words and pieces are bot/conversations/date_grammar.py; here: reading a phrase with them,
resolving the reading to a date or a moment, and finding a date inside a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.conversations.date_grammar import (
    MONTHS,
    PIECES,
    WEEKDAY,
    ZONES,
    DateContext,
    Groups,
    Reading,
    alt,
    filler,
)

__all__ = ["find_when", "moment", "parse_when"]

def _normalise(text: str) -> str:
    text = text.lower().replace("’", "'").replace("jum'at", "jumat")
    text = re.sub(r"[,;]", " ", text)
    return " ".join(text.split()).strip(" .!?")


def _read(text: str, c: DateContext) -> Reading | None:
    """Cover the whole text with pieces (longest first at each place); None if some of it
    is not a date word."""
    reading = Reading()
    at = 0
    while at < len(text):
        if text[at] == " ":
            at += 1
            continue
        matches = [(m, apply) for pattern, apply in PIECES
                   if (m := pattern.match(text, at)) and m.end() > at]
        matches.sort(key=lambda item: -item[0].end())  # stable: earlier pieces win ties
        for m, apply in matches:
            trial = replace(reading, pieces=list(reading.pieces))
            if apply(Groups(m), trial, c):
                if apply is not filler:
                    trial.pieces.append(m.group(0))
                reading, at = trial, m.end()
                break
        else:
            return None
    return reading if reading.pieces else None


def _resolve(r: Reading, c: DateContext, tz: ZoneInfo) -> datetime | date | None:
    """The date or UTC date-time a reading means; None when its pieces disagree."""
    if r.moment is not None:
        if r.days or r.hour is not None or r.weekday is not None or r.next_week:
            return None
        return r.moment.astimezone(UTC)
    day = r.day
    if r.weekday is not None:
        if r.days > 1:
            return None
        if r.next_week or r.weekday_mode == "next":
            monday = c.today + timedelta(days=7 - c.today.weekday())
            day = monday + timedelta(days=r.weekday)
        elif r.weekday_mode == "this":
            day = c.today + timedelta(days=(r.weekday - c.today.weekday()) % 7)
        else:
            day = c.today + timedelta(days=(r.weekday - c.today.weekday()) % 7 or 7)
    elif r.next_week:
        if r.days:
            return None
        day = c.today + timedelta(days=7 - c.today.weekday())
    elif r.days > 1:
        return None
    hour, minute = r.hour, r.minute
    if hour is None and r.part_hour is not None:
        hour, minute = r.part_hour, 0
    elif hour is not None and r.part_hour is not None and not r.half and r.part_hour >= 13 \
            and hour < 12:
        hour += 12  # "tomorrow evening at 7", "besok sore jam 4": the part of day places it
    if hour is None:
        return day
    zone = ZoneInfo(ZONES[r.zone]) if r.zone else tz
    clock = time(hour, minute)
    if day is None:  # a time alone: the next time the clock shows it
        local_now = c.now.astimezone(zone)
        day = local_now.date()
        if datetime.combine(day, clock, tzinfo=zone) <= c.now:
            day += timedelta(days=1)
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _context(now: datetime, tz: ZoneInfo) -> DateContext:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local_now = now.astimezone(tz)
    return DateContext(today=local_now.date(), local_now=local_now, now=now, zone=tz)


_HAS_CLOCK = re.compile(r"\d[:.]\d{2}\b|\d\s*(?:am|pm)\b|\b(?:jam|pukul|noon|o'?clock)\b")


def _dateparser(text: str, language: str | None, c: DateContext,
                tz: ZoneInfo) -> datetime | date | None:
    """dateparser's reading of a whole phrase the grammar does not know (both languages,
    the user's first), forwards; only phrases with a month or weekday name or a digit."""
    if not re.search(rf"\b(?:{alt(MONTHS)}|{WEEKDAY})\b", text) or len(text) > 40:
        return None  # dateparser reads "5" or "room 12" as dates: a month or day name is needed
    import dateparser

    languages = ["id", "en"] if language == "id" else ["en", "id"]
    settings = {"RELATIVE_BASE": c.local_now.replace(tzinfo=None), "DATE_ORDER": "DMY",
                "PREFER_DATES_FROM": "future", "RETURN_AS_TIMEZONE_AWARE": False,
                "PREFER_DAY_OF_MONTH": "first"}
    for lang in languages:
        try:
            found = dateparser.parse(text, languages=[lang], settings=settings)  # type: ignore[arg-type]
        except (ValueError, OverflowError, TypeError):
            found = None
        if found is not None:
            if _HAS_CLOCK.search(text):
                return found.replace(tzinfo=tz).astimezone(UTC)
            return found.date()
    return None


def parse_when(text: str, language: str | None, now: datetime,
               tz: str) -> datetime | date | None:
    """Read a date or date-time a user typed as a whole answer, in English or Indonesian.

    Args:
        text: the phrase alone: "lusa", "besok jam 14.00", "15 Des", "next friday 10:00",
            "in 2 weeks", "minggu depan", "2026-12-15 09:30".
        language: "en" or "id", the user's language: a hint only (both are understood).
        now: the current moment, timezone-aware.
        tz: the user's IANA time zone, in which the phrase is read.

    Returns:
        A timezone-aware UTC datetime when the phrase names a time of day (or "in 2 hours");
        the local calendar date when it names only a day; None when the text is not a date
        (or not only a date). Open phrases are read forwards ("friday": the coming one, never
        today; "15 Des": the next 15 December; "14:00": today, or tomorrow once past), while
        an explicit past stays past ("yesterday", "2020-01-01"): the caller refuses it.
    """
    zone = ZoneInfo(tz)
    cleaned = _normalise(text or "")
    if not cleaned or len(cleaned) > 80:
        return None
    c = _context(now, zone)
    reading = _read(cleaned, c)
    if reading is not None:
        return _resolve(reading, c, zone)
    return _dateparser(cleaned, language, c, zone)


_WORD = re.compile(r"\S+")
_MAX_WORDS = 7
_EDGE_WORDS = re.compile(r"^(?:to|that|about|for|untuk|agar|supaya|bahwa|soal)\s+|"
                         r"\s+(?:at|on|by|pada|pukul|jam|hari)$", re.IGNORECASE)


@dataclass(frozen=True)
class _Found:
    start: int  # word index
    end: int
    reading: Reading


def _candidates(words: list[str], c: DateContext) -> list[_Found]:
    found: list[_Found] = []
    for start in range(len(words)):
        longest = _normalise(" ".join(words[start:start + _MAX_WORDS]))
        if not any(pattern.match(longest) for pattern, _apply in PIECES):
            continue  # no piece starts here, so no shorter phrase from here is a date either
        for end in range(min(len(words), start + _MAX_WORDS), start, -1):
            phrase = _normalise(" ".join(words[start:end]))
            if not phrase:
                continue
            reading = _read(phrase, c)
            if reading is None or reading.weak_only or _resolve(reading, c, c.zone) is None:
                continue
            found.append(_Found(start, end, reading))
            break
    return found


def find_when(text: str, language: str | None, now: datetime,
              tz: str) -> tuple[datetime | date | None, str]:
    """The first date or date-time inside free text, and the text without it.

    "tomorrow at 10 to call Hendro" -> (tomorrow 10:00 as UTC, "call Hendro"); "besok jam
    14.00 telepon Hendro" likewise; a day and a time apart ("jumat telepon Hendro jam 10")
    are joined. Words that are dates only in an answer ("sat", "minggu", "pagi", a bare
    "at 16") do not count on their own here. Returns (None, text) when there is none;
    the value is what `parse_when` would return for the phrase.
    """
    zone = ZoneInfo(tz)
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text or "")]
    words = [(text or "")[a:b] for a, b in spans]
    c = _context(now, zone)
    found = _candidates(words, c)
    if not found:
        return None, _trim(" ".join(words))
    best = max(found, key=lambda f: (f.end - f.start, -f.start))
    used = [best]
    reading = best.reading
    has_day = reading.days > 0 or reading.next_week or reading.moment is not None
    has_time = reading.hour is not None or reading.moment is not None
    others = [f for f in found if f.end <= best.start or f.start >= best.end]
    if has_day and not has_time:
        extra = next((f for f in others if f.reading.hour is not None and not f.reading.days
                      and f.reading.weekday is None and not f.reading.next_week), None)
    elif has_time and not has_day:
        extra = next((f for f in others if (f.reading.days or f.reading.next_week)
                      and f.reading.hour is None and f.reading.moment is None), None)
    else:
        extra = None
    if extra is not None:
        joined = [*words[best.start:best.end], "at", *words[extra.start:extra.end]]
        merged = _read(_normalise(" ".join(joined)), c)
        if merged is not None:
            reading = merged
            used.append(extra)
    value = _resolve(reading, c, zone)
    if value is None:
        return None, _trim(" ".join(words))
    drop = {i for f in used for i in range(f.start, f.end)}
    rest = " ".join(w for i, w in enumerate(words) if i not in drop)
    return value, _trim(rest)


def _trim(text: str) -> str:
    """Drop joining words left at the edges ("to call Hendro at" -> "call Hendro")."""
    while (stripped := _EDGE_WORDS.sub("", text).strip()) != text:
        text = stripped
    return text


def moment(value: datetime | date, tz: str, default: time) -> datetime:
    """A parsed value as a UTC instant: a date at `default` o'clock in the zone `tz`."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.combine(value, default, tzinfo=ZoneInfo(tz)).astimezone(UTC)
