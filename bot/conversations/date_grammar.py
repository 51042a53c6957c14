"""The date grammar of bot.conversations.dates: the words (numbers, months, weekdays, parts
of the day, zones, units, in English and Indonesian) and the pieces, each a regular
expression with the function that reads its part of a phrase into a reading."""


import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7,
    "delapan": 8, "sembilan": 9, "sepuluh": 10, "sebelas": 11, "dua belas": 12,
}
MONTHS = {
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
ZONES = {"wib": "Asia/Jakarta", "wita": "Asia/Makassar", "wit": "Asia/Jayapura"}
_UNITS = {"day": "d", "days": "d", "hari": "d", "week": "w", "weeks": "w", "minggu": "w",
          "pekan": "w", "fortnight": "f", "month": "m", "months": "m", "bulan": "m",
          "year": "y", "years": "y", "tahun": "y",
          "minute": "min", "minutes": "min", "min": "min", "mins": "min", "menit": "min",
          "hour": "h", "hours": "h", "hr": "h", "hrs": "h", "jam": "h"}


def alt(words: Iterable[object]) -> str:
    return "|".join(sorted((re.escape(str(w)) for w in words), key=len, reverse=True))


_NUM = rf"(?:\d{{1,3}}|{alt(_NUMBERS)})"
_MONTH = rf"(?:{alt(MONTHS)})\.?"
WEEKDAY = rf"(?:{alt(_WEEKDAYS)})"
_WEEKDAY_ANY = rf"(?:{alt([*_WEEKDAYS, *_WEEKDAYS_SHORT])})"
_ORD = r"(?:st|nd|rd|th)?"
_ZONE = rf"(?:\s*(?P<zone>{alt(ZONES)}))?"
_HALF = r"(?:pagi|siang|sore|malam|am|pm|a\.m\.|p\.m\.)"


@dataclass
class Reading:
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
class DateContext:
    today: date
    local_now: datetime
    now: datetime
    zone: ZoneInfo


class Groups:
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


_Apply = Callable[[Groups, Reading, DateContext], bool]


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


def _set_day(reading: Reading, day: date, strong: bool = True) -> bool:
    reading.day = day
    reading.days += 1
    reading.weak_only = reading.weak_only and not strong
    return True


def _set_time(reading: Reading, hour: int, minute: int, half: str = "", strong: bool = True,
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
def _today(m: Groups, r: Reading, c: DateContext) -> bool:
    return _set_day(r, c.today)


def _tomorrow(m: Groups, r: Reading, c: DateContext) -> bool:
    return _set_day(r, c.today + timedelta(days=1))


def _after_tomorrow(m: Groups, r: Reading, c: DateContext) -> bool:
    return _set_day(r, c.today + timedelta(days=2))


def _yesterday(m: Groups, r: Reading, c: DateContext) -> bool:
    return _set_day(r, c.today - timedelta(days=1))


def _today_part(m: Groups, r: Reading, c: DateContext) -> bool:
    r.part_hour = _PARTS[m["part"]]
    return _set_day(r, c.today)


def _tonight(m: Groups, r: Reading, c: DateContext) -> bool:
    r.part_hour = _PARTS["evening"]
    return _set_day(r, c.today)


def _in_days(m: Groups, r: Reading, c: DateContext) -> bool:
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


def _in_half_hour(m: Groups, r: Reading, c: DateContext) -> bool:
    if r.moment is not None:
        return False
    r.moment = c.now + timedelta(minutes=30)
    r.weak_only = False
    return True


def _next_week(m: Groups, r: Reading, c: DateContext) -> bool:
    r.next_week = True
    r.weak_only = False
    return True


def _next_month(m: Groups, r: Reading, c: DateContext) -> bool:
    return _set_day(r, _add_months(c.today.replace(day=1), 1))


def _next_year(m: Groups, r: Reading, c: DateContext) -> bool:
    return _set_day(r, date(c.today.year + 1, 1, 1))


def _end_of_month(m: Groups, r: Reading, c: DateContext) -> bool:
    first = c.today.replace(day=1)
    months = 2 if m["next"] else 1
    return _set_day(r, _add_months(first, months) - timedelta(days=1))


def _end_of_week(m: Groups, r: Reading, c: DateContext) -> bool:
    friday = c.today + timedelta(days=(4 - c.today.weekday()) % 7)
    return _set_day(r, friday + timedelta(weeks=1 if m["next"] else 0))


def _weekend(m: Groups, r: Reading, c: DateContext) -> bool:
    saturday = c.today + timedelta(days=(5 - c.today.weekday()) % 7)
    return _set_day(r, saturday + timedelta(weeks=1 if m["next"] else 0))


def _weekday(m: Groups, r: Reading, c: DateContext) -> bool:
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


def _forward(c: DateContext, month: int, day: int) -> date | None:
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


def _iso(m: Groups, r: Reading, c: DateContext) -> bool:
    found = _valid_date(int(m["y"]), int(m["mo"]), int(m["d"]))
    return found is not None and _set_day(r, found)


def _numeric(m: Groups, r: Reading, c: DateContext) -> bool:
    year = _year(m["y"])
    if m["sep"] == "." and year is None:
        return False  # "14.30" is a time of day
    if m["sep2"] and m["sep2"] != m["sep"]:
        return False
    day, month = int(m["d"]), int(m["mo"])
    found = _valid_date(year, month, day) if year else _forward(c, month, day)
    return found is not None and _set_day(r, found)


def _day_month(m: Groups, r: Reading, c: DateContext) -> bool:
    month = MONTHS[m["mon"].rstrip(".")]
    year = _year(m["y"])
    day = int(m["d"])
    found = _valid_date(year, month, day) if year else _forward(c, month, day)
    return found is not None and _set_day(r, found)


def _day_of_month(m: Groups, r: Reading, c: DateContext) -> bool:
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


def _clock(m: Groups, r: Reading, c: DateContext) -> bool:
    return _set_time(r, int(m["h"]), int(m["mi"]), m["half"] or "", zone=m["zone"])


def _hour_half(m: Groups, r: Reading, c: DateContext) -> bool:
    return _set_time(r, int(m["h"]), 0, m["half"], zone=m["zone"])


def _marked_hour(m: Groups, r: Reading, c: DateContext) -> bool:
    return _set_time(r, int(m["h"]), 0, m["half"] or "", zone=m["zone"])


def _bare_hour(m: Groups, r: Reading, c: DateContext) -> bool:
    return _set_time(r, int(m["h"]), 0, strong=False)


def _part(m: Groups, r: Reading, c: DateContext) -> bool:
    if r.part_hour is not None:
        return False
    r.part_hour = _PARTS[m["part"]]
    if m["part"] == "noon" or m["part"] == "tengah hari":
        r.weak_only = False
    return True


def filler(m: Groups, r: Reading, c: DateContext) -> bool:
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
     rf"(?P<n>{_NUM}) (?P<unit>{alt(_UNITS)}))(?P<post> (?:lagi|from now|kemudian|later))?",
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
    (r"on|at|pada|hari|the|of|by|before|sebelum|for|untuk|nanti|,", filler),
)
PIECES = [(re.compile(rx + r"(?![\w:])"), fn) for rx, fn in _PIECE_TABLE]

