"""CSV files: read safely, imported row by row with a report and idempotency, written safely.

Used by every area's importer (core.imports has the companies / contacts / leads ones):
    csv_file = read_csv_bytes(data)                     # decoded, split, bad rows named
    report = import_rows(session, csv_file.rows, parse_row, upsert)
`parse_row(row) -> T` checks one row and raises DomainError(code, **params) to refuse it;
`upsert(session, T) -> "created" | "updated" | "unchanged"` writes it. Each row runs in its
own savepoint: a refused row leaves nothing behind and the others go on. Running the same
file twice creates nothing new (the upsert matches existing records).

Reading never loses the file for one bad row: the encoding is detected (UTF-8, else
charset-normalizer's guess, a Windows-1252 export from Excel included); a row that cannot be
read (an unclosed quote, a cell longer than MAX_CELL_CHARS, NUL or other control characters,
bytes that are not text in the file's encoding) comes out as a row carrying its error
(`row_error(row)`), so it is named in the report with its line while every good row is
imported. A cell that a spreadsheet would run is written with a leading ' (`spreadsheet_safe`,
the OWASP way) and read back without it (`restore_cell`).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import DomainError

T = TypeVar("T")
Row = Mapping[str, str]

MAX_CELL_CHARS = 65_536  # a longer cell is refused with its row (the importers cap lower)
MAX_RECORD_LINES = 200  # a quoted cell spanning more physical lines is an unclosed quote
ROW_ERROR = "__error__"  # key of a row that could not be read: {"__error__": json}
# C0 controls but tab/newline/CR, DEL, C1 controls, bidi overrides and isolates: never stored
# (ESC[2J in a name would clear the screen of whoever lists it in a terminal).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_BAD_BYTES = re.compile("[\udc80-\udcff]")  # undecodable bytes kept by surrogateescape
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)")
if csv.field_size_limit() < 16 * MAX_CELL_CHARS:
    # Cells above the limit are reported by read_csv itself, row by row; the csv module's
    # own limit (128 KiB) would raise and lose the rest of the file instead.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class RowError:
    line: int
    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportReport:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class CsvFile:
    """A CSV file read for import: its columns (lower case), its rows with their first
    physical line (the header is line 1; bad rows carry their error) and its encoding."""

    header: list[str]
    rows: list[tuple[int, dict[str, str]]]
    encoding: str = "utf-8"
    is_text: bool = True  # False: binary data (a spreadsheet file, an image), not a CSV

# -- cells a spreadsheet would run -------------------------------------------------------------
def spreadsheet_safe(value: str) -> str:
    """The cell as written to a CSV: a value starting with = + - @ tab or CR (one that a
    spreadsheet would run as a formula) gets a leading ' (OWASP); plain numbers stay."""
    core = value.lstrip("'")
    if core.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(core):
        return "'" + value
    return value


def restore_cell(value: str) -> str:
    """The value `spreadsheet_safe` wrote, as it was (re-import of an export)."""
    if value.startswith("'") and value.lstrip("'").startswith(_FORMULA_START):
        return value[1:]
    return value


def safe_row(values: Iterable[Any]) -> list[str]:
    """A CSV row of any values, every cell made safe to open in a spreadsheet."""
    return [spreadsheet_safe("" if v is None else str(v)) for v in values]

# -- decoding ----------------------------------------------------------------------------------
def decode_csv(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (with or without BOM) or UTF-16 by BOM; else the encoding
    charset-normalizer finds most likely, Windows-1252 when that reads as well (Excel's
    "CSV" on a Western Windows). Bytes that are not text in a mostly-UTF-8 file are kept
    as lone surrogates so that their rows are refused, not the whole file."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="surrogateescape"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    best = from_bytes(data).best()
    encoding = best.encoding if best is not None else "utf_8"
    if encoding in ("utf_8", "ascii") or _mostly_utf8(data):
        return data.decode("utf-8", errors="surrogateescape"), "utf-8"
    try:
        western = data.decode("cp1252")
    except UnicodeDecodeError:
        western = None
    if western is not None and (best is None or encoding == "cp1252"
                                or mess_ratio(western) <= best.chaos + 0.01):
        return western, "cp1252"
    assert best is not None
    return str(best), encoding


def _mostly_utf8(data: bytes) -> bool:
    """True when the file holds valid UTF-8 beyond ASCII and few damaged spots (a UTF-8 file
    with some broken rows); a file in a legacy encoding has (nearly) no valid sequences."""
    text = data.decode("utf-8", errors="surrogateescape")
    bad = len(re.findall("[\udc80-\udcff]+", text))
    good = sum(1 for ch in text if ch > "\x7f" and not "\udc80" <= ch <= "\udcff")
    return good > 0 and 8 * good >= bad

# -- reading -------------------------------------------------------------------------------
def row_error(row: Row) -> RowError | None:
    """The error of a row `read_csv` could not read (line filled in by the caller: 0)."""
    raw = row.get(ROW_ERROR)
    if not raw:
        return None
    data = json.loads(raw)
    return RowError(0, data["code"], data.get("params", {}))


def _bad(code: str, **params: Any) -> dict[str, str]:
    return {ROW_ERROR: json.dumps({"code": code, "params": params})}


def _physical_lines(text: str) -> list[str]:
    if "\n" not in text and "\r" in text:  # old Mac line ends
        text = text.replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line + "\n" for line in lines]


def read_csv_bytes(data: bytes) -> CsvFile:
    """Decode and read a CSV file for import (see `read_csv`)."""
    text, encoding = decode_csv(data)
    first = text[:4096].split("\n", 1)[0]
    head = data[:4096]
    nuls = head.count(b"\x00") > len(head) // 100 + 1  # a stray NUL is a row's problem
    if (nuls and encoding != "utf-16") or _BAD_BYTES.search(first) or \
            _CONTROL.search(first.replace("\r", "")) or (
                encoding == "utf-16" and not any(c in text[:4096] for c in ",;\t\n")):
        return CsvFile([], [], encoding, is_text=False)
    header, rows = read_csv(text)
    return CsvFile(header, rows, encoding)


def read_csv(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Columns (lower case) and rows with their line numbers (the header is line 1).
    Accepts comma, semicolon or tab separators and a UTF-8 BOM. A row that cannot be read
    is kept with its error (`row_error`); reading goes on on the next line."""
    lines = _physical_lines(text.lstrip("\ufeff"))
    if not lines:
        return [], []
    first = lines[0]
    delimiter = max(",;\t", key=first.count)  # the header's separator (comma on a tie)
    try:
        header = [restore_cell(_CONTROL.sub("", h).strip()).lower()
                  for h in next(csv.reader([first], delimiter=delimiter, strict=True))]
    except (csv.Error, StopIteration):
        return [], []
    # One scan of the whole file: a clean file (the usual case) skips the per-cell checks.
    dirty = bool(_CONTROL.search(text) or _BAD_BYTES.search(text))
    rows: list[tuple[int, dict[str, str]]] = []
    pos = 1
    while pos < len(lines):
        reader = csv.reader(iter(lines[pos:]), delimiter=delimiter, strict=True)
        consumed = 0
        while True:
            start = pos + consumed  # index of the record's first physical line
            try:
                values = next(reader)
            except StopIteration:
                pos = len(lines)
                break
            except csv.Error:  # an unclosed or stray quote: name the line, go on after it
                rows.append((start + 1, _bad("import.unclosed_quote")))
                pos = start + 1
                break
            consumed = reader.line_num
            span = consumed - (start - pos)
            if span > 1 and (len(values) != len(header) or span > MAX_RECORD_LINES):
                # A quote that opened a cell swallowed the next lines: they are rows of
                # their own, read again from the line after the broken one.
                rows.append((start + 1, _bad("import.unclosed_quote")))
                pos = start + 1
                break
            row = _row(header, values, dirty)
            if row is not None:
                rows.append((start + 1, row))
    return header, rows


def _row(header: list[str], values: list[str], dirty: bool) -> dict[str, str] | None:
    if not any(v.strip() for v in values):
        return None
    for i, value in enumerate(values):
        column = header[i] if i < len(header) and header[i] else f"#{i + 1}"
        if len(value) > MAX_CELL_CHARS:
            return _bad("import.cell_too_long", column=column, length=len(value),
                        limit=MAX_CELL_CHARS)
        if dirty and _BAD_BYTES.search(value):
            return _bad("import.bad_encoding", column=column)
        if dirty and _CONTROL.search(value):
            return _bad("import.control_chars", column=column)
    row = {header[i]: restore_cell(values[i].strip())
           for i in range(min(len(header), len(values))) if header[i]}
    if len(values) > len(header):
        row["__extra__"] = "1"
    return row


def import_rows(session: Session, rows: Iterable[tuple[int, Row]],
                parse_row: Callable[[Row], T], upsert: Callable[[Session, T], str],
                progress: Callable[[int], None] | None = None) -> ImportReport:
    """Parse and upsert each row in its own savepoint; collect a report."""
    report = ImportReport()
    for line, row in rows:
        report.total += 1
        unreadable = row_error(row)
        if unreadable is not None:
            report.errors.append(RowError(line, unreadable.code, unreadable.params))
            if progress is not None:
                progress(1)
            continue
        try:
            with session.begin_nested():
                if row.get("__extra__"):
                    raise DomainError("import.extra_columns")
                outcome = upsert(session, parse_row(row))
                session.flush()
        except DomainError as exc:
            report.errors.append(RowError(line, exc.code, dict(exc.params)))
        except IntegrityError:
            report.errors.append(RowError(line, "import.conflict"))
        else:
            setattr(report, outcome, getattr(report, outcome) + 1)
        if progress is not None:
            progress(1)
    return report

CHUNK_ROWS = 500


def import_chunked(session: Session, rows: Iterable[tuple[int, Row]], importer: Any,
                   progress: Callable[[int], None] | None = None,
                   chunk: int = CHUNK_ROWS) -> ImportReport:
    """`import_rows` for a large file: the rows of a chunk are checked, their stored records
    loaded in one query, and written in one savepoint with one flush; a chunk that fails
    as a whole (a clash found by the database) is rolled back and done again row by row,
    each in its own savepoint, so the report and the result are the same as row by row.
    `importer` has parse, upsert, begin, undo, settle and prefetch (ContactImporter)."""
    report = ImportReport()
    batch: list[tuple[int, Row]] = []
    for item in rows:
        batch.append(item)
        if len(batch) >= chunk:
            _import_chunk(session, batch, importer, report, progress)
            batch = []
    if batch:
        _import_chunk(session, batch, importer, report, progress)
    report.errors.sort(key=lambda e: e.line)
    return report


def _import_chunk(session: Session, batch: list[tuple[int, Row]], importer: Any,
                  report: ImportReport, progress: Callable[[int], None] | None) -> None:
    good: list[tuple[int, Any]] = []
    for line, row in batch:
        report.total += 1
        unreadable = row_error(row)
        try:
            if unreadable is not None:
                raise DomainError(unreadable.code, **unreadable.params)
            if row.get("__extra__"):
                raise DomainError("import.extra_columns")
            good.append((line, importer.parse(row)))
        except DomainError as exc:
            report.errors.append(RowError(line, exc.code, dict(exc.params)))
    importer.prefetch(session, [values for _, values in good])
    outcomes: list[str] = []
    importer.begin()
    try:
        with session.begin_nested():
            outcomes = [importer.upsert(session, values) for _, values in good]
            session.flush()
    except (DomainError, IntegrityError):
        importer.undo()
        for line, values in good:  # again, row by row: the report names the bad ones
            importer.begin()
            try:
                with session.begin_nested():
                    outcome = importer.upsert(session, values)
                    session.flush()
            except DomainError as exc:
                importer.undo()
                report.errors.append(RowError(line, exc.code, dict(exc.params)))
            except IntegrityError:
                importer.undo()
                report.errors.append(RowError(line, "import.conflict"))
            else:
                importer.settle()
                setattr(report, outcome, getattr(report, outcome) + 1)
    else:
        importer.settle()
        for outcome in outcomes:
            setattr(report, outcome, getattr(report, outcome) + 1)
    if progress is not None:
        progress(len(batch))

# -- export ------------------------------------------------------------------------------------
def write_csv(handle: Any, columns: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows as CSV, every cell safe to open in a spreadsheet; returns the row count."""
    columns = list(columns)
    writer = csv.writer(handle)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(safe_row(row.get(c) for c in columns))
        count += 1
    return count
