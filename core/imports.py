"""CSV imports with a row report and idempotency, plus the contacts/companies importers.

Generic part (reused by other areas):
    rows = read_csv(text)                               # [(line number, {column: value})]
    report = import_rows(session, rows, parse_row, upsert)
`parse_row(row) -> T` checks one row and raises DomainError(code, **params) to refuse it;
`upsert(session, T) -> "created" | "updated" | "unchanged"` writes it. Each row runs in its
own savepoint: a refused row leaves nothing behind and the others go on. Running the same
file twice creates nothing new (the upsert matches existing records).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.contact_index import normalise, phone_key
from core.errors import DomainError
from core.models import Company, Contact, Territory, User

T = TypeVar("T")
Row = Mapping[str, str]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TRUE_WORDS = {"1", "yes", "y", "true", "ya", "x"}
FALSE_WORDS = {"", "0", "no", "n", "false", "tidak"}


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


def read_csv(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Columns (lower case) and rows with their line numbers (the header is line 1).
    Accepts comma, semicolon or tab separators and a UTF-8 BOM."""
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)  # the header's separator (comma on a tie)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return [], []
    rows: list[tuple[int, dict[str, str]]] = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        row = {header[i]: values[i].strip() for i in range(min(len(header), len(values)))
               if header[i]}
        if len(values) > len(header):
            row["__extra__"] = "1"
        rows.append((line, row))
    return header, rows


def import_rows(session: Session, rows: Iterable[tuple[int, Row]],
                parse_row: Callable[[Row], T], upsert: Callable[[Session, T], str],
                progress: Callable[[int], None] | None = None) -> ImportReport:
    """Parse and upsert each row in its own savepoint; collect a report."""
    report = ImportReport()
    for line, row in rows:
        report.total += 1
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


# -- field helpers ---------------------------------------------------------------------------
def _text(row: Row, key: str, limit: int) -> str | None:
    value = (row.get(key) or "").strip()
    if len(value) > limit:
        raise DomainError("import.too_long", column=key, limit=limit)
    return value or None


def _email(row: Row, key: str = "email") -> str | None:
    value = _text(row, key, 200)
    if value and not _EMAIL.match(value):
        raise DomainError("import.bad_email", value=value[:60])
    return value.lower() if value else None


def _phone(row: Row, key: str) -> str | None:
    value = (row.get(key) or "").strip()
    if not value:
        return None
    try:
        number = phonenumbers.parse(value, "ID")
    except phonenumbers.NumberParseException:
        raise DomainError("import.bad_phone", column=key, value=value[:40]) from None
    if not phonenumbers.is_possible_number(number):
        raise DomainError("import.bad_phone", column=key, value=value[:40])
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _bool(row: Row, key: str) -> bool:
    value = (row.get(key) or "").strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise DomainError("import.bad_yes_no", column=key, value=value[:20])


def _filled(values: Mapping[str, Any]) -> dict[str, Any]:
    """An empty cell never clears what is stored (only values that are given update)."""
    return {k: v for k, v in values.items() if v is not None}


def _assign(record: Any, values: Mapping[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(record, key) != value:
            setattr(record, key, value)
            changed = True
    return changed


# -- companies ---------------------------------------------------------------------------------
COMPANY_COLUMNS = ("external_id", "name", "legal_form", "industry", "segment", "employees",
                   "territory", "owner", "phone", "email", "website", "city",
                   "head_office_address", "billing_address", "billing_office",
                   "delivery_address")
LEGAL_FORMS = {"pt": "PT", "cv": "CV", "tbk": "Tbk", "ltd": "Ltd", "inc": "Inc", "ud": "UD"}


class CompanyImporter:
    """Parse and upsert company rows (match on external id, then e-mail, phone, name)."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.now = now
        self.territories = {t.name.lower(): t.id for t in session.scalars(select(Territory))}
        self.users = {u.login.lower(): u.id for u in session.scalars(select(User))}
        self.by_ext: dict[str, int] = {}
        self.by_email: dict[str, int] = {}
        self.by_phone: dict[str, int] = {}
        self.by_name: dict[str, int] = {}
        for row in session.execute(select(Company.id, Company.external_id, Company.email,
                                          Company.phone, Company.name)):
            self._remember(row.id, row.external_id, row.email, row.phone, row.name)

    def _remember(self, cid: int, ext: str | None, email: str | None, phone: str | None,
                  name: str) -> None:
        if ext:
            self.by_ext[ext] = cid
        if email:
            self.by_email.setdefault(email.lower(), cid)
        key = phone_key(phone)
        if key:
            self.by_phone.setdefault(key, cid)
        self.by_name.setdefault(" ".join(normalise(name)), cid)

    def parse(self, row: Row) -> dict[str, Any]:
        name = _text(row, "name", 200)
        if not name:
            raise DomainError("import.missing", column="name")
        legal = _text(row, "legal_form", 16)
        derived = False
        if legal is None:  # "PT Sinar Jaya" -> legal form PT, name "Sinar Jaya"
            first, _, rest = name.partition(" ")
            if first.lower() in LEGAL_FORMS and rest:
                legal, name, derived = LEGAL_FORMS[first.lower()], rest.strip(), True
        employees_raw = (row.get("employees") or "").strip().replace(".", "").replace(",", "")
        employees = None
        if employees_raw:
            if not employees_raw.isdigit():
                raise DomainError("import.bad_number", column="employees",
                                  value=employees_raw[:20])
            employees = int(employees_raw)
        territory_id = None
        if territory := (row.get("territory") or "").strip():
            territory_id = self.territories.get(territory.lower())
            if territory_id is None:
                raise DomainError("import.unknown_territory", value=territory[:60])
        owner_id = None
        if owner := (row.get("owner") or "").strip():
            owner_id = self.users.get(owner.lower())
            if owner_id is None:
                raise DomainError("import.unknown_user", value=owner[:60])
        values = {
            "name": name, "legal_form": legal, "industry": _text(row, "industry", 80),
            "segment": _text(row, "segment", 40), "employees": employees,
            "territory_id": territory_id, "owner_id": owner_id,
            "phone": _phone(row, "phone"), "email": _email(row),
            "website": _text(row, "website", 200), "city": _text(row, "city", 80),
            "head_office_address": _text(row, "head_office_address", 2000),
            "billing_address": _text(row, "billing_address", 2000),
            "billing_office": _text(row, "billing_office", 200),
            "delivery_address": _text(row, "delivery_address", 2000),
            "external_id": _text(row, "external_id", 64),
        }
        # Columns absent from the file do not overwrite what is stored.
        return {k: v for k, v in values.items()
                if k == "name" or (k == "legal_form" and derived) or _column(k) in row}

    def upsert(self, session: Session, values: dict[str, Any]) -> str:
        cid = self._match(values)
        if cid is None:
            company = Company(**values, created_at=self.now, updated_at=self.now)
            session.add(company)
            session.flush()
            self._remember(company.id, company.external_id, company.email, company.phone,
                           company.name)
            return "created"
        found = session.get(Company, cid)
        assert found is not None
        company = found
        if not _assign(company, _filled(values)):
            return "unchanged"
        company.updated_at = self.now
        self._remember(company.id, company.external_id, company.email, company.phone,
                       company.name)
        return "updated"

    def _match(self, values: Mapping[str, Any]) -> int | None:
        if values.get("external_id") and values["external_id"] in self.by_ext:
            return self.by_ext[values["external_id"]]
        if values.get("email") and values["email"] in self.by_email:
            return self.by_email[values["email"]]
        key = phone_key(values.get("phone"))
        if key and key in self.by_phone:
            return self.by_phone[key]
        return self.by_name.get(" ".join(normalise(values["name"])))


def _column(attribute: str) -> str:
    return {"territory_id": "territory", "owner_id": "owner"}.get(attribute, attribute)


# -- contacts ----------------------------------------------------------------------------------
CONTACT_COLUMNS = ("external_id", "name", "company", "company_external_id", "department",
                   "job_title", "phone", "mobile", "email", "decision_maker", "owner")


class ContactImporter:
    """Parse and upsert contact rows (match on external id, then e-mail, then phone)."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.now = now
        self.users = {u.login.lower(): u.id for u in session.scalars(select(User))}
        self.companies_ext: dict[str, int] = {}
        self.companies_name: dict[str, int | None] = {}
        for row in session.execute(select(Company.id, Company.external_id, Company.name,
                                          Company.legal_form)):
            if row.external_id:
                self.companies_ext[row.external_id] = row.id
            for key in {" ".join(normalise(row.name)), row.name.lower()}:
                # Two companies with the same name: the row must use company_external_id.
                self.companies_name[key] = None if key in self.companies_name else row.id
        self.by_ext: dict[str, int] = {}
        self.by_email: dict[str, int] = {}
        self.by_phone: dict[str, int] = {}
        for crow in session.execute(select(Contact.id, Contact.external_id, Contact.email,
                                           Contact.phone, Contact.mobile)):
            self._remember(crow.id, crow.external_id, crow.email, crow.phone, crow.mobile)

    def _remember(self, cid: int, ext: str | None, email: str | None, phone: str | None,
                  mobile: str | None) -> None:
        if ext:
            self.by_ext[ext] = cid
        if email:
            self.by_email.setdefault(email.lower(), cid)
        for number in (mobile, phone):
            key = phone_key(number)
            if key:
                self.by_phone.setdefault(key, cid)

    def parse(self, row: Row) -> dict[str, Any]:
        name = _text(row, "name", 200)
        if not name:
            raise DomainError("import.missing", column="name")
        company_id = None
        if ext := (row.get("company_external_id") or "").strip():
            company_id = self.companies_ext.get(ext)
            if company_id is None:
                raise DomainError("import.unknown_company", value=ext[:60])
        elif company := (row.get("company") or "").strip():
            key = company.lower()
            if key not in self.companies_name:
                key = " ".join(normalise(company))
            if key not in self.companies_name:
                raise DomainError("import.unknown_company", value=company[:60])
            company_id = self.companies_name[key]
            if company_id is None:
                raise DomainError("import.ambiguous_company", value=company[:60])
        else:
            raise DomainError("import.missing", column="company")
        values: dict[str, Any] = {
            "name": name, "company_id": company_id,
            "department": _text(row, "department", 80), "job_title": _text(row, "job_title", 120),
            "phone": _phone(row, "phone"), "mobile": _phone(row, "mobile"),
            "email": _email(row), "external_id": _text(row, "external_id", 64),
        }
        if "decision_maker" in row:
            values["is_decision_maker"] = _bool(row, "decision_maker")
        if owner := (row.get("owner") or "").strip():
            values["owner_id"] = self.users.get(owner.lower())
            if values["owner_id"] is None:
                raise DomainError("import.unknown_user", value=owner[:60])
        return {k: v for k, v in values.items()
                if k in ("name", "company_id", "is_decision_maker", "owner_id") or k in row}

    def upsert(self, session: Session, values: dict[str, Any]) -> str:
        cid = self._match(values)
        if cid is None:
            contact = Contact(**values, created_at=self.now, updated_at=self.now)
            session.add(contact)
            session.flush()
            self._remember(contact.id, contact.external_id, contact.email, contact.phone,
                           contact.mobile)
            return "created"
        found = session.get(Contact, cid)
        assert found is not None
        contact = found
        values = _filled(values)
        # A stored number in another format ("+62 21 555 1234") is the same number.
        for key in ("phone", "mobile"):
            if key in values and phone_key(getattr(contact, key)) == phone_key(values[key]):
                values = {k: v for k, v in values.items() if k != key}
        if not _assign(contact, values):
            return "unchanged"
        contact.updated_at = self.now
        self._remember(contact.id, contact.external_id, contact.email, contact.phone,
                       contact.mobile)
        return "updated"

    def _match(self, values: Mapping[str, Any]) -> int | None:
        if values.get("external_id") and values["external_id"] in self.by_ext:
            return self.by_ext[values["external_id"]]
        if values.get("email") and values["email"] in self.by_email:
            return self.by_email[values["email"]]
        for key in ("mobile", "phone"):
            pk = phone_key(values.get(key))
            if pk and pk in self.by_phone:
                return self.by_phone[pk]
        return None


def import_companies(session: Session, rows: Iterable[tuple[int, Row]], now: datetime,
                     progress: Callable[[int], None] | None = None) -> ImportReport:
    importer = CompanyImporter(session, now)
    return import_rows(session, rows, importer.parse, importer.upsert, progress)


def import_contacts(session: Session, rows: Iterable[tuple[int, Row]], now: datetime,
                    progress: Callable[[int], None] | None = None) -> ImportReport:
    importer = ContactImporter(session, now)
    return import_rows(session, rows, importer.parse, importer.upsert, progress)


def export_contacts(session: Session, batch: int = 2000) -> Iterator[dict[str, str]]:
    """Every contact as a row of CONTACT_COLUMNS (re-importable unchanged)."""
    owners = {u.id: u.login for u in session.scalars(select(User))}
    stmt = (select(Contact, Company.name, Company.external_id)
            .join(Company, Company.id == Contact.company_id)
            .order_by(Contact.id).execution_options(yield_per=batch))
    for contact, company_name, company_ext in session.execute(stmt):
        yield {
            "external_id": contact.external_id or "", "name": contact.name,
            "company": company_name, "company_external_id": company_ext or "",
            "department": contact.department or "", "job_title": contact.job_title or "",
            "phone": contact.phone or "", "mobile": contact.mobile or "",
            "email": contact.email or "",
            "decision_maker": "yes" if contact.is_decision_maker else "no",
            "owner": owners.get(contact.owner_id or 0, ""),
        }


def count_contacts(session: Session) -> int:
    return session.scalar(select(func.count(Contact.id))) or 0
