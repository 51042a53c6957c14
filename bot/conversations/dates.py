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

What the grammar does not know is tried with dateparser (whole phrases only).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["find_when", "moment", "parse_when"]

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7,
    "delapan": 8, "sembilan": 9, "sepuluh": 10, "sebelas": 11, "dua belas": 12,
}
_MONTHS = {
    **dict.fromkeys(("january", "jan", "januari"), 1),
    **dict.fromkeys(("february", "feb", "februari", "pebruari", "peb"), 2),
    **dict.fromkeys(("march", "mar", "maret"), 3),
    **dict.fromkeys(("april", "apr"), 4),
    **dict.fromkeys(("may", "mei"), 5),
    **dict.fromkeys(("june", "jun", "juni"), 6),
    **dict.fromkeys(("july", "jul", "juli"), 7),
    **dict.fromkeys(("august", "aug", "agustus", "agu", "agt", "ags", "agst"), 8),
    **dict.fromkeys(("september", "sep", "sept"), 9),
    **dict.fromkeys(("october", "oct", "oktober", "okt"), 10),
    **dict.fromkeys(("november", "nov", "nop", "nopember"), 11),
    **dict.fromkeys(("december", "dec", "desember", "des"), 12),
}
_WEEKDAYS = {
    **dict.fromkeys(("monday", "senin"), 0), **dict.fromkeys(("tuesday", "selasa"), 1),
    **dict.fromkeys(("wednesday", "rabu"), 2), **dict.fromkeys(("thursday", "kamis"), 3),
    **dict.fromkeys(("friday", "jumat"), 4), **dict.fromkeys(("saturday", "sabtu"), 5),
    **dict.fromkeys(("sunday", "ahad"), 6),
}
# Short forms that are ordinary words too ("sat", "sun", "minggu" = week): whole answers
# only, never picked out of a sentence.
_WEEKDAYS_SHORT = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3,
                   "fri": 4, "jum": 4, "sat": 5, "sun": 6, "minggu": 6}
_PARTS = {"morning": 9, "pagi": 9, "noon": 12, "midday": 12, "tengah hari": 12,
          "afternoon": 14, "siang": 13, "sore": 15, "evening": 19, "malam": 19}
_ZONES = {"wib": "Asia/Jakarta", "wita": "Asia/Makassar", "wit": "Asia/Jayapura"}
_UNITS = {"day": "d", "days": "d", "hari": "d", "week": "w", "weeks": "w", "minggu": "w",
          "pekan": "w", "fortnight": "f", "month": "m", "months": "m", "bulan": "m",
          "year": "y", "years": "y", "tahun": "y",
          "minute": "min", "minutes": "min", "min": "min", "mins": "min", "menit": "min",
          "hour": "h", "hours": "h", "hr": "h", "hrs": "h", "jam": "h"}


def _alt(words: Iterable[object]) -> str:
    return "|".join(sorted((re.escape(str(w)) for w in words), key=len, reverse=True))


_NUM = rf"(?:\d{{1,3}}|{_alt(_NUMBERS)})"
_MONTH = rf"(?:{_alt(_MONTHS)})\.?"
_WEEKDAY = rf"(?:{_alt(_WEEKDAYS)})"
_WEEKDAY_ANY = rf"(?:{_alt([*_WEEKDAYS, *_WEEKDAYS_SHORT])})"
_ORD = r"(?:st|nd|rd|th)?"
_ZONE = rf"(?:\s*(?P<zone>{_alt(_ZONES)}))?"
_HALF = r"(?:pagi|siang|sore|malam|am|pm|a\.m\.|p\.m\.)"


@dataclass
class _Reading:
    """What the pieces of one phrase said."""

    day: date | None = None
    days: int = 0  # how many pieces named a day
    weekday: int | None = None
    weekday_mode: str = ""  # "" coming (not today) | "this" | "next" (next week's)
    next_week: bool = False
    hour: int | None = None
    minute: int = 0
    half: str = ""  # am/pm/pagi/siang/sore/malam written with the hour
    part_hour: int | None = None  # "morning", "sore": a time of day without a clock time
    moment: datetime | None = None  # "in 2 hours": an absolute instant
    zone: str | None = None
    weak_only: bool = True  # only pieces too common in sentences to count alone
    pieces: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Ctx:
    today: date
    local_now: datetime
    now: datetime
    zone: ZoneInfo


class _Groups:
    """A piece's match; alternative spellings' groups (part2, u1, n2, d2, h2) answer for
    their main name."""

    _ALIASES = {"part": "part2", "unit": "u1", "next": "n2", "d": "d2", "h": "h2"}

    def __init__(self, match: re.Match[str]) -> None:
        self.groups = match.groupdict()

    def __getitem__(self, name: str) -> str:
        value = self.groups.get(name)
        if value is None and name in self._ALIASES:
            value = self.groups.get(self._ALIASES[name])
        return value or ""


_Apply = Callable[[_Groups, _Reading, _Ctx], bool]


def _number(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else _NUMBERS[text]


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(month)


def _set_day(reading: _Reading, day: date, strong: bool = True) -> bool:
    reading.day = day
    reading.days += 1
    reading.weak_only = reading.weak_only and not strong
    return True


def _set_time(reading: _Reading, hour: int, minute: int, half: str = "", strong: bool = True,
              zone: str | None = None) -> bool:
    if reading.hour is not None:
        return False
    half = half.replace(".", "")
    if half in ("am", "pm"):
        if not 1 <= hour <= 12:
            return False
        hour = hour % 12 + (12 if half == "pm" else 0)
    elif (half in ("sore", "malam") and hour < 12) or (half == "siang" and hour <= 6):
        hour += 12
    if hour > 23 or minute > 59:
        return False
    reading.hour, reading.minute, reading.half = hour, minute, half
    reading.zone = zone or reading.zone
    reading.weak_only = reading.weak_only and not strong
    return True


# -- pieces: each reads one part of a phrase into the reading; False = not valid here --------
def _today(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    return _set_day(r, c.today)


def _tomorrow(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    return _set_day(r, c.today + timedelta(days=1))


def _after_tomorrow(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    return _set_day(r, c.today + timedelta(days=2))


def _yesterday(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    return _set_day(r, c.today - timedelta(days=1))


def _today_part(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    r.part_hour = _PARTS[m["part"]]
    return _set_day(r, c.today)


def _tonight(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    r.part_hour = _PARTS["evening"]
    return _set_day(r, c.today)


def _in_days(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    count = 1 if m["se"] else _number(m["n"] or "")
    unit = _UNITS[m["unit"] or ""]
    if count > 400:
        return False
    # "2 weeks" alone may be a duration in a sentence; "in 2 weeks", "2 minggu lagi" is a date.
    r.weak_only = r.weak_only and not (m["pre"] or m["post"])
    strong = not r.weak_only
    if unit == "d":
        return _set_day(r, c.today + timedelta(days=count), strong)
    if unit in ("w", "f"):
        return _set_day(r, c.today + timedelta(weeks=count * (2 if unit == "f" else 1)), strong)
    if unit == "m":
        return _set_day(r, _add_months(c.today, count), strong)
    if unit == "y":
        return _set_day(r, _add_months(c.today, 12 * count), strong)
    delta = timedelta(minutes=count) if unit == "min" else timedelta(hours=count)
    if r.moment is not None:
        return False
    r.moment = c.now + delta
    return True


def _in_half_hour(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    if r.moment is not None:
        return False
    r.moment = c.now + timedelta(minutes=30)
    r.weak_only = False
    return True


def _next_week(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    r.next_week = True
    r.weak_only = False
    return True


def _next_month(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    return _set_day(r, _add_months(c.today.replace(day=1), 1))


def _next_year(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    return _set_day(r, date(c.today.year + 1, 1, 1))


def _end_of_month(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    first = c.today.replace(day=1)
    months = 2 if m["next"] else 1
    return _set_day(r, _add_months(first, months) - timedelta(days=1))


def _end_of_week(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    friday = c.today + timedelta(days=(4 - c.today.weekday()) % 7)
    return _set_day(r, friday + timedelta(weeks=1 if m["next"] else 0))


def _weekend(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    saturday = c.today + timedelta(days=(5 - c.today.weekday()) % 7)
    return _set_day(r, saturday + timedelta(weeks=1 if m["next"] else 0))


def _weekday(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    name = m["wd"]
    short = name not in _WEEKDAYS
    if r.weekday is not None:
        return False
    r.weekday = _WEEKDAYS[name] if not short else _WEEKDAYS_SHORT[name]
    before, after = (m["before"] or "").strip(), (m["after"] or "").strip()
    if before in ("next",) or after in ("depan", "next week", "minggu depan", "pekan depan",
                                        "of next week"):
        r.weekday_mode = "next"
    elif before in ("this",) or after in ("ini", "this week", "minggu ini", "pekan ini"):
        r.weekday_mode = "this"
    r.days += 1
    r.weak_only = r.weak_only and short and not (before or after)
    return True


def _valid_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _forward(c: _Ctx, month: int, day: int) -> date | None:
    """The next `day`.`month` from today (today included)."""
    for year in (c.today.year, c.today.year + 1, c.today.year + 4):
        found = _valid_date(year, month, day)
        if found is not None and found >= c.today:
            return found
    return None


def _year(text: str | None) -> int | None:
    if not text:
        return None
    year = int(text)
    return year + 2000 if year < 100 else year


def _iso(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    found = _valid_date(int(m["y"]), int(m["mo"]), int(m["d"]))
    return found is not None and _set_day(r, found)


def _numeric(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    year = _year(m["y"])
    if m["sep"] == "." and year is None:
        return False  # "14.30" is a time of day
    if m["sep2"] and m["sep2"] != m["sep"]:
        return False
    day, month = int(m["d"]), int(m["mo"])
    found = _valid_date(year, month, day) if year else _forward(c, month, day)
    return found is not None and _set_day(r, found)


def _day_month(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    month = _MONTHS[m["mon"].rstrip(".")]
    year = _year(m["y"])
    day = int(m["d"])
    found = _valid_date(year, month, day) if year else _forward(c, month, day)
    return found is not None and _set_day(r, found)


def _day_of_month(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    day = int(m["d"])
    if not 1 <= day <= 31:
        return False
    first = c.today.replace(day=1)
    for months in range(0, 3):
        month_start = _add_months(first, months)
        found = _valid_date(month_start.year, month_start.month, day)
        if found is not None and found >= c.today:
            return _set_day(r, found, strong=bool(m["tgl"]))
    return False


def _clock(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    return _set_time(r, int(m["h"]), int(m["mi"]), m["half"] or "", zone=m["zone"])


def _hour_half(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    return _set_time(r, int(m["h"]), 0, m["half"], zone=m["zone"])


def _marked_hour(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    return _set_time(r, int(m["h"]), 0, m["half"] or "", zone=m["zone"])


def _bare_hour(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    return _set_time(r, int(m["h"]), 0, strong=False)


def _part(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    if r.part_hour is not None:
        return False
    r.part_hour = _PARTS[m["part"]]
    if m["part"] == "noon" or m["part"] == "tengah hari":
        r.weak_only = False
    return True


def _filler(m: _Groups, r: _Reading, c: _Ctx) -> bool:
    return True


_TGL = r"(?:(?:tanggal|tgl\.?) ?)?"
_END = r"(?:the )?end of (?:the |this )?(?P<next>next )?"
_PIECE_TABLE: tuple[tuple[str, _Apply], ...] = (
    (r"(?:the )?day after tomorrow|overmorrow|besok lusa|lusa", _after_tomorrow),
    (r"today|hari ini|tdy", _today),
    (r"tomorrow|tomorow|tmrw|tmr|besok|besuk|bsk|esok(?: hari)?", _tomorrow),
    (r"yesterday|kemarin|kemaren|kmrn", _yesterday),
    (r"tonight|nanti malam|malam ini", _tonight),
    (r"this (?P<part>morning|afternoon|evening)|(?P<part2>pagi|siang|sore) ini", _today_part),
    (rf"(?P<pre>in |dalam |within )?(?:(?P<se>se)(?P<u1>hari|minggu|bulan|tahun|jam)|"
     rf"(?P<n>{_NUM}) (?P<unit>{_alt(_UNITS)}))(?P<post> (?:lagi|from now|kemudian|later))?",
     _in_days),
    (r"(?:in |dalam )?(?:half an hour|setengah jam)(?: (?:lagi|from now))?", _in_half_hour),
    (r"next week|the week after|minggu depan|pekan depan|minggu berikutnya", _next_week),
    (r"next month|bulan depan|(?:early|beginning of|start of|awal) (?:next month|bulan depan)",
     _next_month),
    (r"next year|tahun depan", _next_year),
    (_END + r"month|akhir bulan(?: (?:ini|(?P<n2>depan)))?", _end_of_month),
    (_END + r"week|akhir minggu(?: (?:ini|(?P<n2>depan)))?", _end_of_week),
    (r"(?:the |this )?(?P<next>next )?weekend|akhir pekan(?: (?:ini|(?P<n2>depan)))?", _weekend),
    (rf"(?P<before>(?:next|this|coming) )?(?P<wd>{_WEEKDAY_ANY})\.?(?P<after> (?:of next week|"
     rf"next week|this week|minggu depan|pekan depan|minggu ini|pekan ini|depan|ini))?",
     _weekday),
    (_TGL + r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})", _iso),
    (_TGL + r"(?P<d>\d{1,2})(?P<sep>[/.-])(?P<mo>\d{1,2})(?:(?P<sep2>[/.-])(?P<y>\d{4}|\d{2}))?",
     _numeric),
    (rf"{_TGL}(?P<d>\d{{1,2}}){_ORD}(?: of)? (?P<mon>{_MONTH})(?:,? (?P<y>\d{{4}}))?",
     _day_month),
    (rf"(?P<mon>{_MONTH}) (?P<d>\d{{1,2}}){_ORD}(?:,? (?P<y>\d{{4}}))?", _day_month),
    (r"(?:(?P<tgl>tanggal|tgl\.?) ?(?P<d>\d{1,2})|(?:the )?(?P<d2>\d{1,2})(?:st|nd|rd|th))",
     _day_of_month),
    (rf"(?:at |@ ?|jam |pukul |pkl\.? ?)?(?P<h>\d{{1,2}})[:.](?P<mi>\d{{2}})"
     rf"(?: ?(?P<half>{_HALF}))?{_ZONE}", _clock),
    (rf"(?:at |@ ?|jam |pukul |pkl\.? ?)?(?P<h>\d{{1,2}}) ?(?P<half>am|pm|a\.m\.|p\.m\.)"
     rf"{_ZONE}", _hour_half),
    (rf"(?:(?:jam|pukul|pkl\.?) ?(?P<h>\d{{1,2}})(?: (?P<half>{_HALF}))?"
     rf"|(?P<h2>\d{{1,2}}) o'?clock){_ZONE}", _marked_hour),
    (r"(?:at|@) ?(?P<h>\d{1,2})", _bare_hour),
    (r"(?:in the |at )?(?P<part>morning|afternoon|evening|noon|midday|tengah hari|pagi|siang|"
     r"sore|malam)", _part),
    (r"on|at|pada|hari|the|of|by|before|sebelum|for|untuk|nanti|,", _filler),
)
_PIECES = [(re.compile(rx + r"(?![\w:])"), fn) for rx, fn in _PIECE_TABLE]


def _normalise(text: str) -> str:
    text = text.lower().replace("’", "'").replace("jum'at", "jumat")
    text = re.sub(r"[,;]", " ", text)
    return " ".join(text.split()).strip(" .!?")


def _read(text: str, c: _Ctx) -> _Reading | None:
    """Cover the whole text with pieces (longest first at each place); None if some of it
    is not a date word."""
    reading = _Reading()
    at = 0
    while at < len(text):
        if text[at] == " ":
            at += 1
            continue
        matches = [(m, apply) for pattern, apply in _PIECES
                   if (m := pattern.match(text, at)) and m.end() > at]
        matches.sort(key=lambda item: -item[0].end())  # stable: earlier pieces win ties
        for m, apply in matches:
            trial = replace(reading, pieces=list(reading.pieces))
            if apply(_Groups(m), trial, c):
                if apply is not _filler:
                    trial.pieces.append(m.group(0))
                reading, at = trial, m.end()
                break
        else:
            return None
    return reading if reading.pieces else None


def _resolve(r: _Reading, c: _Ctx, tz: ZoneInfo) -> datetime | date | None:
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
    zone = ZoneInfo(_ZONES[r.zone]) if r.zone else tz
    clock = time(hour, minute)
    if day is None:  # a time alone: the next time the clock shows it
        local_now = c.now.astimezone(zone)
        day = local_now.date()
        if datetime.combine(day, clock, tzinfo=zone) <= c.now:
            day += timedelta(days=1)
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _context(now: datetime, tz: ZoneInfo) -> _Ctx:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local_now = now.astimezone(tz)
    return _Ctx(today=local_now.date(), local_now=local_now, now=now, zone=tz)


_HAS_CLOCK = re.compile(r"\d[:.]\d{2}\b|\d\s*(?:am|pm)\b|\b(?:jam|pukul|noon|o'?clock)\b")


def _dateparser(text: str, language: str | None, c: _Ctx,
                tz: ZoneInfo) -> datetime | date | None:
    """dateparser's reading of a whole phrase the grammar does not know (both languages,
    the user's first), forwards; only phrases with a month or weekday name or a digit."""
    if not re.search(rf"\b(?:{_alt(_MONTHS)}|{_WEEKDAY})\b", text) or len(text) > 40:
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
    reading: _Reading


def _candidates(words: list[str], c: _Ctx) -> list[_Found]:
    found: list[_Found] = []
    for start in range(len(words)):
        longest = _normalise(" ".join(words[start:start + _MAX_WORDS]))
        if not any(pattern.match(longest) for pattern, _apply in _PIECES):
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
