"""The sales records' CSV importers: companies (with their site), contacts and leads, and the
contacts export. Each row is checked (`parse`) and written (`upsert`: created, updated or
unchanged) through core.csv_files, so a refused row leaves nothing behind and running the
same file twice creates nothing new."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import geo
from core.contact_records import normalise, phone_key
from core.csv_files import ImportReport, Row, import_chunked, import_rows
from core.errors import DomainError
from core.models import Company, Contact, Deal, Territory, User
from core.sites import put_site

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TRUE_WORDS = {"1", "yes", "y", "true", "ya", "x"}
FALSE_WORDS = {"", "0", "no", "n", "false", "tidak"}

# -- field helpers ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=65_536)
def name_key(name: str | None) -> str:
    """A name as a natural key: tokens without case, diacritics, punctuation, legal forms."""
    return " ".join(normalise(name or "")) or (name or "").strip().casefold()

# A row's numbers are keyed when matched, remembered and compared: parse each once.
phone_key = functools.lru_cache(maxsize=65_536)(phone_key)


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
                   "delivery_address", "lat", "lon", "map_link")
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
            if not re.fullmatch(r"[0-9]{1,9}", employees_raw):
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
        kept: dict[str, Any] = {
            k: v for k, v in values.items()
            if k == "name" or (k == "legal_form" and derived) or _column(k) in row}
        kept[SITE] = _site(row)  # the head office's coordinates (core.sites), or None
        return kept

    def upsert(self, session: Session, values: dict[str, Any]) -> str:
        site = values.pop(SITE, None)
        cid = self._match(values)
        if cid is None:
            company = Company(**values, created_at=self.now, updated_at=self.now)
            session.add(company)
            session.flush()
            self._remember(company.id, company.external_id, company.email, company.phone,
                           company.name)
            if site is not None:
                put_site(session, company, *site, now=self.now, source="import")
            return "created"
        found = session.get(Company, cid)
        assert found is not None
        company = found
        moved = site is not None and (company.lat, company.lon) != site
        if moved:
            put_site(session, company, *site, now=self.now, source="import")
        if not _assign(company, _filled(values)) and not moved:
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

SITE = "__site__"


def _site(row: Row) -> tuple[float, float] | None:
    """Coordinates from lat / lon columns, or from a Google Maps / OpenStreetMap link (or
    "lat, lon") in map_link; None when the row gives none."""
    lat_text, lon_text = (row.get("lat") or "").strip(), (row.get("lon") or "").strip()
    link = (row.get("map_link") or "").strip()
    if not (lat_text or lon_text or link):
        return None
    if lat_text or lon_text:
        try:
            point = (float(lat_text.replace(",", ".")), float(lon_text.replace(",", ".")))
        except ValueError:
            raise DomainError("import.bad_location",
                              value=f"{lat_text[:20]}, {lon_text[:20]}") from None
        if not geo.valid_point(*point):
            raise DomainError("import.bad_location", value=f"{lat_text[:20]}, {lon_text[:20]}")
        return point
    try:
        found = geo.parse_point(link)
    except geo.ShortMapLink:
        raise DomainError("import.short_map_link", value=link[:60]) from None
    if found is None:
        raise DomainError("import.bad_location", value=link[:60])
    return found


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
        self.by_ext: dict[str, Any] = {}
        self.by_email: dict[str, Any] = {}
        self.by_phone: dict[str, Any] = {}
        # The natural key of a row without external id, e-mail or phone: normalised name
        # within the company (README, "Importing").
        self.by_name: dict[tuple[int, str], list[Any]] = {}
        self.keys: dict[Any, tuple[str | None, str | None]] = {}  # id -> (external id, email)
        self._undo: list[Callable[[], None]] | None = None  # a chunk's undo log
        self._pending: list[Contact] = []  # created in this chunk, not flushed yet
        for crow in session.execute(select(Contact.id, Contact.external_id, Contact.email,
                                           Contact.phone, Contact.mobile, Contact.company_id,
                                           Contact.name)):
            self._remember(crow.id, crow.external_id, crow.email, crow.phone, crow.mobile,
                           crow.company_id, crow.name)

    # The maps hold ids, or for a contact created in the current chunk (no id before the
    # chunk's one flush) the object itself, replaced by its id once flushed (`settle`).
    def _put(self, mapping: dict[Any, Any], key: Any, ref: Any, *, keep: bool = False) -> None:
        if keep and key in mapping:
            return
        if self._undo is not None:
            if key in mapping:
                old = mapping[key]
                self._undo.append(lambda: mapping.__setitem__(key, old))
            else:
                self._undo.append(lambda: mapping.pop(key, None))
        mapping[key] = ref

    def _remember(self, cid: Any, ext: str | None, email: str | None, phone: str | None,
                  mobile: str | None, company_id: int, name: str) -> None:
        if ext:
            self._put(self.by_ext, ext, cid)
        if email:
            self._put(self.by_email, email.lower(), cid, keep=True)
        for number in (mobile, phone):
            key = phone_key(number)
            if key:
                self._put(self.by_phone, key, cid, keep=True)
        ids = self.by_name.get((company_id, name_key(name)))
        if ids is None:
            self._put(self.by_name, (company_id, name_key(name)), [cid])
        elif cid not in ids:
            ids.append(cid)
            if self._undo is not None:
                self._undo.append(lambda: ids.remove(cid))
        self._put(self.keys, cid, (ext, email.lower() if email else None))

    def begin(self) -> None:
        """Start a chunk (or a row): what is remembered from here on can be undone."""
        self._undo, self._pending = [], []

    def undo(self) -> None:
        """The chunk was rolled back: forget what it remembered."""
        for step in reversed(self._undo or []):
            step()
        self._undo, self._pending = None, []

    def settle(self) -> None:
        """The chunk was flushed: its new contacts are known by id from now on."""
        pending, self._pending, self._undo = self._pending, [], None
        if not pending:
            return
        objects = {id(c): c.id for c in pending}
        for mapping in (self.by_ext, self.by_email, self.by_phone):
            for key, ref in list(mapping.items()):
                if isinstance(ref, Contact) and id(ref) in objects:
                    mapping[key] = objects[id(ref)]
        for contact in pending:
            ids = self.by_name.get((contact.company_id, name_key(contact.name)), [])
            ids[:] = [objects.get(id(r), r) if isinstance(r, Contact) else r for r in ids]
            if contact in self.keys:
                self.keys[contact.id] = self.keys.pop(contact)

    def prefetch(self, session: Session, rows: list[dict[str, Any]]) -> None:
        """Load the stored contacts a chunk's rows match in one query (not one per row)."""
        ids = {ref for ref in map(self._match, rows) if isinstance(ref, int)}
        if ids:
            session.scalars(select(Contact).where(Contact.id.in_(ids))).all()

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
            if self._undo is None:  # row by row: flushed now, known by id
                session.flush()
                ref: Any = contact.id
            else:  # in a chunk: flushed with it (one INSERT for many rows)
                self._pending.append(contact)
                ref = contact
            self._remember(ref, contact.external_id, contact.email, contact.phone,
                           contact.mobile, contact.company_id, contact.name)
            return "created"
        found = cid if isinstance(cid, Contact) else session.get(Contact, cid)
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
        self._remember(cid, contact.external_id, contact.email, contact.phone,
                       contact.mobile, contact.company_id, contact.name)
        return "updated"

    def _match(self, values: Mapping[str, Any]) -> Any:
        """The stored contact the row is: its id (or the object created in this chunk)."""
        if values.get("external_id") and values["external_id"] in self.by_ext:
            return self.by_ext[values["external_id"]]
        if values.get("email") and values["email"] in self.by_email:
            return self.by_email[values["email"]]
        for key in ("mobile", "phone"):
            pk = phone_key(values.get(key))
            if pk and pk in self.by_phone:
                return self.by_phone[pk]
        # Same name in the same company, unless the stored contact's own keys say it is
        # someone else (another external id or e-mail).
        ext, email = values.get("external_id"), values.get("email")
        for cid in self.by_name.get((values["company_id"], name_key(values["name"])), ()):
            known_ext, known_email = self.keys[cid]
            if (not ext or not known_ext or ext == known_ext) and (
                    not email or not known_email or email == known_email):
                return cid
        return None


def import_companies(session: Session, rows: Iterable[tuple[int, Row]], now: datetime,
                     progress: Callable[[int], None] | None = None) -> ImportReport:
    importer = CompanyImporter(session, now)
    return import_rows(session, rows, importer.parse, importer.upsert, progress)


def import_contacts(session: Session, rows: Iterable[tuple[int, Row]], now: datetime,
                    progress: Callable[[int], None] | None = None) -> ImportReport:
    importer = ContactImporter(session, now)
    return import_chunked(session, rows, importer, progress)

# -- leads -------------------------------------------------------------------------------------
LEAD_COLUMNS = ("company", "contact", "need", "source", "amount")
MAX_AMOUNT = Decimal("1e15")


def parse_amount(raw: str | None, column: str = "amount") -> Decimal | None:
    """A money amount from a cell ("1,500,000", "1500000.50"); NaN, Infinity, 1e999,
    negative or absurd values are refused (DomainError import.bad_amount)."""
    text = (raw or "").strip().replace(",", "").replace("_", "")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise DomainError("import.bad_amount", column=column, value=text[:30]) from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
        raise DomainError("import.bad_amount", column=column, value=text[:30])
    return amount.quantize(Decimal("0.01"))


def _lead_key(company_id: int, contact_id: int | None, need: str | None,
              source: str | None) -> tuple[int, int | None, str, str]:
    return (company_id, contact_id, " ".join((need or "").split()).casefold(),
            " ".join((source or "").split()).casefold()[:60])


class LeadImporter:
    """Parse and create lead rows; a lead already known by its natural key (company,
    contact, need, source) is left as it is, whatever stage it reached since."""

    def __init__(self, session: Session, user: User, now: datetime) -> None:
        self.user, self.now = user, now
        self.companies: dict[str, int | None] = {}
        for cid, name in session.execute(select(Company.id, Company.name)):
            for key in {name.casefold(), name_key(name)}:
                self.companies[key] = None if key in self.companies else cid
        self.known: set[tuple[int, int | None, str, str]] = {
            _lead_key(*row) for row in session.execute(
                select(Deal.company_id, Deal.contact_id, Deal.need, Deal.source))}

    def parse(self, row: Row) -> dict[str, Any]:
        name = (row.get("company") or "").strip()
        if not name:
            raise DomainError("import.missing", column="company")
        key = name.casefold() if name.casefold() in self.companies else name_key(name)
        if key not in self.companies:
            raise DomainError("import.unknown_company", value=name[:60])
        company_id = self.companies[key]
        if company_id is None:
            raise DomainError("import.ambiguous_company", value=name[:60])
        need = _text(row, "need", 500)
        source = _text(row, "source", 60)
        return {"company_id": company_id, "contact": _text(row, "contact", 200),
                "need": need, "source": source, "amount": parse_amount(row.get("amount"))}

    def upsert(self, session: Session, values: dict[str, Any]) -> str:
        from core.leads import create_lead

        company = session.get(Company, values["company_id"])
        assert company is not None
        contact = None
        if values["contact"]:
            contact = session.scalar(select(Contact).where(
                Contact.company_id == company.id,
                func.lower(Contact.name) == values["contact"].lower()))
            if contact is None:
                raise DomainError("import.unknown_contact", value=values["contact"][:60],
                                  company=company.name[:60])
        key = _lead_key(company.id, contact.id if contact else None, values["need"],
                        values["source"])
        if key in self.known:
            return "unchanged"
        create_lead(session, self.user, company=company, contact=contact, now=self.now,
                    need=values["need"], source=values["source"], amount=values["amount"])
        self.known.add(key)
        return "created"


def import_leads(session: Session, rows: Iterable[tuple[int, Row]], now: datetime, *,
                 user: User, progress: Callable[[int], None] | None = None) -> ImportReport:
    importer = LeadImporter(session, user, now)
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
