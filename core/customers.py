"""Customers and contacts made and corrected by the sales force: create with a duplicate
check first, edit a contact's details, merge duplicates (managers) keeping every record that
points at them, with the merge kept in the history.

Duplicates are looked for among every record, not only those the user may see (a rep must
not re-create a customer of another territory); one outside the user's scope is reported
without its details. Checks go through the in-memory lookup index (names and phone numbers)
and the e-mail columns, so a check costs the same at 100 or 100,000 contacts.

Territory and ownership follow the import's rules (core.imports): a territory given by name
wins, else the company's city and industry pick it (core.territory.match_territory); the
owner is the one named, else the rep who creates the record (so it is in their scope).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.contact_index import ContactIndex
from core.contact_records import COMPANY, CONTACT, normalise
from core.contacts import department_for, visible_company, visible_contact
from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.imports import LEGAL_FORMS
from core.models import Base, Company, Contact, Deal, Role, User
from core.models.customers import MergeRecord
from core.scope import territory_ids_for
from core.territory import match_territory, territory_by_name

MERGERS = (Role.MANAGER.value, Role.ADMIN.value)
# Name similarity (0-100, the lookup index's score) from which a record is a duplicate.
COMPANY_NAME_SCORE = 88.0
CONTACT_NAME_SCORE = 85.0
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EDITABLE = ("phone", "mobile", "email", "job_title", "department", "is_decision_maker",
            "name")
LIMITS = {"name": 200, "job_title": 120, "department": 80, "city": 80, "industry": 80}


@dataclass(frozen=True)
class Duplicate:
    """A record that may be the one being created.

    `reasons` holds codes: "name", "phone", "email". `visible` is False for a record outside
    the user's scope: then only the fact that it exists may be shown.
    """

    kind: str  # "company" | "contact"
    id: int
    name: str
    company_name: str | None
    company_id: int
    reasons: tuple[str, ...]
    score: float
    visible: bool


# -- checking input ------------------------------------------------------------------------
def clean_name(text: str | None, limit: int = 200) -> str:
    name = " ".join((text or "").split())
    if not name or not normalise(name):
        raise DomainError("customers.bad_name")
    if len(name) > limit:
        raise DomainError("customers.too_long", field="name", limit=limit)
    return name


def clean_text(value: str | None, field: str) -> str | None:
    text = " ".join((value or "").split())
    limit = LIMITS.get(field, 200)
    if len(text) > limit:
        raise DomainError("customers.too_long", field=field, limit=limit)
    return text or None


def clean_phone(value: str | None) -> str | None:
    """E.164 of a phone number typed in any format (Indonesian by default), or None."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, "ID")
    except phonenumbers.NumberParseException:
        raise DomainError("customers.bad_phone", value=text[:40]) from None
    if not phonenumbers.is_possible_number(number):
        raise DomainError("customers.bad_phone", value=text[:40])
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_mobile(e164: str) -> bool:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def clean_email(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    if len(text) > 200 or not _EMAIL.match(text):
        raise DomainError("customers.bad_email", value=text[:60])
    return text


def split_legal_form(name: str) -> tuple[str | None, str]:
    """"PT Sinar Jaya" -> ("PT", "Sinar Jaya"), as the import reads a company name."""
    first, _, rest = name.partition(" ")
    if first.lower().rstrip(".") in LEGAL_FORMS and rest.strip():
        return LEGAL_FORMS[first.lower().rstrip(".")], rest.strip()
    return None, name


# -- duplicate checks ----------------------------------------------------------------------
def _index(session: Session, index: ContactIndex) -> ContactIndex:
    index.sync(session)
    return index


def _visible_ids(session: Session, user: User, company_ids: set[int]) -> set[int]:
    if not company_ids:
        return set()
    terr = territory_ids_for(session, user)
    if terr is None:
        return set(company_ids)
    rows = session.execute(select(Company.id, Company.territory_id, Company.owner_id)
                           .where(Company.id.in_(company_ids)))
    return {r.id for r in rows if r.territory_id in terr or r.owner_id == user.id}


def company_duplicates(session: Session, user: User, *, name: str, phone: str | None = None,
                       email: str | None = None, index: ContactIndex,
                       limit: int = 3) -> list[Duplicate]:
    """Companies that may be the one `name` (and phone, e-mail) describes, best first."""
    idx = _index(session, index)
    found: dict[int, tuple[float, set[str]]] = {}
    for hit in idx.search(name, kinds=(COMPANY,), territory_ids=None, limit=5):
        if hit.score >= COMPANY_NAME_SCORE:
            found.setdefault(hit.id, (hit.score, set()))[1].add("name")
    if phone:
        for hit in idx.search(phone, kinds=(COMPANY,), territory_ids=None, limit=5):
            if hit.score >= 100:
                score, reasons = found.get(hit.id, (100.0, set()))
                found[hit.id] = (max(score, 100.0), reasons | {"phone"})
    if email:
        for cid in session.scalars(select(Company.id).where(
                Company.email == email.lower()).limit(5)):
            score, reasons = found.get(cid, (100.0, set()))
            found[cid] = (max(score, 100.0), reasons | {"email"})
    if not found:
        return []
    rows = {r.id: r for r in session.execute(select(Company.id, Company.name, Company.legal_form)
                                             .where(Company.id.in_(found)))}
    visible = _visible_ids(session, user, set(rows))
    out = [Duplicate("company", cid, _company_name(rows[cid].name, rows[cid].legal_form), None,
                     cid, tuple(sorted(reasons)), score, cid in visible)
           for cid, (score, reasons) in found.items() if cid in rows]
    out.sort(key=lambda d: (-len(d.reasons), -d.score, d.id))
    return out[:limit]


def contact_duplicates(session: Session, user: User, *, name: str, company_id: int | None,
                       phone: str | None = None, mobile: str | None = None,
                       email: str | None = None, index: ContactIndex,
                       exclude_id: int | None = None, limit: int = 3) -> list[Duplicate]:
    """Contacts that may be this person: a like name at the same company, or the same phone
    or e-mail anywhere. Best first."""
    idx = _index(session, index)
    found: dict[int, tuple[float, set[str]]] = {}
    if company_id is not None:
        for hit in idx.search(name, kinds=(CONTACT,), territory_ids=None, limit=5,
                              company_id=company_id):
            if hit.score >= CONTACT_NAME_SCORE:
                found.setdefault(hit.id, (hit.score, set()))[1].add("name")
    for number in {n for n in (phone, mobile) if n}:
        for hit in idx.search(number, kinds=(CONTACT,), territory_ids=None, limit=5):
            if hit.score >= 100:  # the same number (90: only its last 7 digits agree)
                score, reasons = found.get(hit.id, (100.0, set()))
                found[hit.id] = (max(score, 100.0), reasons | {"phone"})
    if email:
        for cid in session.scalars(select(Contact.id).where(Contact.email == email.lower())
                                   .limit(5)):
            score, reasons = found.get(cid, (100.0, set()))
            found[cid] = (max(score, 100.0), reasons | {"email"})
    found.pop(exclude_id or 0, None)
    if not found:
        return []
    rows = {r.id: r for r in session.execute(
        select(Contact.id, Contact.name, Contact.company_id, Company.name.label("company"),
               Company.legal_form).join(Company, Company.id == Contact.company_id)
        .where(Contact.id.in_(found)))}
    visible = _visible_ids(session, user, {r.company_id for r in rows.values()})
    out = [Duplicate("contact", cid, rows[cid].name,
                     _company_name(rows[cid].company, rows[cid].legal_form),
                     rows[cid].company_id, tuple(sorted(reasons)), score,
                     rows[cid].company_id in visible)
           for cid, (score, reasons) in found.items() if cid in rows]
    out.sort(key=lambda d: (-len(d.reasons), -d.score, d.id))
    return out[:limit]


def _company_name(name: str, legal_form: str | None) -> str:
    return f"{legal_form} {name}" if legal_form else name


# -- creating ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CompanyInput:
    name: str
    legal_form: str | None = None
    city: str | None = None
    industry: str | None = None
    phone: str | None = None
    email: str | None = None
    territory: str | None = None  # a territory's name; else matched from city and industry


def check_company(values: dict[str, Any]) -> CompanyInput:
    """Checked, normalised company fields (raises DomainError on bad input)."""
    legal, name = split_legal_form(clean_name(values.get("name")))
    return CompanyInput(
        name=name, legal_form=values.get("legal_form") or legal,
        city=clean_text(values.get("city"), "city"),
        industry=clean_text(values.get("industry"), "industry"),
        phone=clean_phone(values.get("phone")), email=clean_email(values.get("email")),
        territory=(values.get("territory") or "").strip() or None)


def create_company(session: Session, user: User, data: CompanyInput, *, now: datetime,
                   force: bool = False, index: ContactIndex
                   ) -> tuple[Company | None, list[Duplicate]]:
    """Create the company unless duplicates exist (then nothing is written and they are
    returned); `force` creates it anyway. Technicians cannot create customers."""
    if user.role == Role.TECHNICIAN.value or not user.active:
        raise Forbidden("customers.not_allowed")
    if not force:
        dupes = company_duplicates(session, user, name=data.name, phone=data.phone,
                                   email=data.email, index=index)
        if dupes:
            return None, dupes
    company = Company(name=data.name, legal_form=data.legal_form, city=data.city,
                      industry=data.industry, phone=data.phone, email=data.email,
                      created_at=now, updated_at=now)
    if data.territory:
        company.territory_id = territory_by_name(session, data.territory).id
    else:
        territory = match_territory(session, company)
        company.territory_id = territory.id if territory is not None else None
    if user.role == Role.REP.value:
        company.owner_id = user.id
    session.add(company)
    session.flush()
    return company, []


@dataclass(frozen=True)
class ContactInput:
    name: str
    department: str | None = None
    job_title: str | None = None
    phone: str | None = None
    mobile: str | None = None
    email: str | None = None
    is_decision_maker: bool = False


def check_contact(values: dict[str, Any]) -> ContactInput:
    """Checked, normalised contact fields; a mobile number typed as "phone" goes to mobile."""
    phone = clean_phone(values.get("phone"))
    mobile = clean_phone(values.get("mobile"))
    if phone and not mobile and is_mobile(phone):
        phone, mobile = None, phone
    department = clean_text(values.get("department"), "department")
    if department:
        department = department_for(department) or department
    return ContactInput(
        name=clean_name(values.get("name")), department=department,
        job_title=clean_text(values.get("job_title"), "job_title"),
        phone=phone, mobile=mobile, email=clean_email(values.get("email")),
        is_decision_maker=bool(values.get("is_decision_maker")))


def create_contact(session: Session, user: User, company_id: int, data: ContactInput, *,
                   now: datetime, force: bool = False, index: ContactIndex
                   ) -> tuple[Contact | None, list[Duplicate]]:
    """Create a contact at a company the user may see, unless duplicates exist (nothing is
    written then and they are returned); `force` creates it anyway."""
    if user.role == Role.TECHNICIAN.value or not user.active:
        raise Forbidden("customers.not_allowed")
    company = visible_company(session, user, company_id)
    if not force:
        dupes = contact_duplicates(session, user, name=data.name, company_id=company.id,
                                   phone=data.phone, mobile=data.mobile, email=data.email,
                                   index=index)
        if dupes:
            return None, dupes
    contact = Contact(company_id=company.id, name=data.name, department=data.department,
                      job_title=data.job_title, phone=data.phone, mobile=data.mobile,
                      email=data.email, is_decision_maker=data.is_decision_maker,
                      owner_id=user.id if user.role == Role.REP.value else None,
                      created_at=now, updated_at=now)
    session.add(contact)
    session.flush()
    return contact, []


# -- editing a contact ---------------------------------------------------------------------
def update_contact(session: Session, user: User, contact_id: int, field: str, value: Any, *,
                   now: datetime, version: int | None = None) -> Contact:
    """Change one field of a contact the user may see. `version` (the one the user saw)
    refuses a change made on a record someone else changed meanwhile."""
    if user.role == Role.TECHNICIAN.value:
        raise Forbidden("customers.not_allowed")
    if field not in EDITABLE:
        raise DomainError("customers.bad_field", field=field)
    contact = visible_contact(session, user, contact_id)
    if version is not None and contact.version != version:
        raise Conflict("customers.changed", name=contact.name)
    if field == "is_decision_maker":
        new: Any = bool(value)
    elif field in ("phone", "mobile"):
        new = clean_phone(str(value or ""))
    elif field == "email":
        new = clean_email(str(value or ""))
    elif field == "name":
        new = clean_name(str(value or ""))
    elif field == "department":
        text = clean_text(str(value or ""), "department")
        new = (department_for(text) or text) if text else None
    else:
        new = clean_text(str(value or ""), field)
    setattr(contact, field, new)
    contact.updated_at = now
    session.flush()
    return contact


# -- merging duplicates --------------------------------------------------------------------
def _references(table_name: str) -> list[tuple[Any, Any]]:
    """(table, column) of every foreign key pointing at `table_name`.id."""
    out = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == table_name and fk.column.name == "id" \
                    and table.name != "merge_records":
                out.append((table, fk.parent))
    return out


def _move(session: Session, table_name: str, drop_id: int, keep_id: int,
          skip: tuple[str, ...] = ()) -> dict[str, int]:
    moved: dict[str, int] = {}
    for table, column in _references(table_name):
        if table.name in skip:
            continue
        values: dict[str, Any] = {column.name: keep_id}
        if "version" in table.c:  # versioned rows: an editor holding the old one is told
            values["version"] = table.c.version + 1
        result = session.execute(update(table).where(column == drop_id).values(values)
                                 .execution_options(synchronize_session=False))
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            key = table.name if column.name in ("contact_id", "company_id") \
                else f"{table.name}.{column.name}"
            moved[key] = moved.get(key, 0) + count
    return moved


_CONTACT_FIELDS = ("department", "job_title", "phone", "mobile", "email", "external_id",
                   "owner_id", "last_contacted_at")
_COMPANY_FIELDS = ("legal_form", "industry", "segment", "employees", "territory_id",
                   "owner_id", "phone", "email", "website", "city", "head_office_address",
                   "billing_address", "billing_office", "delivery_address", "lat", "lon",
                   "external_id", "last_contacted_at")


def _snapshot(record: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": record.name}
    for name in fields:
        value = getattr(record, name)
        if value is not None:
            out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def _fill_blanks(keep: Any, drop: Any, fields: tuple[str, ...]) -> list[str]:
    """Copy into the kept record what only the duplicate knew."""
    filled = []
    for name in fields:
        if name == "external_id":
            continue  # unique: stays with the removed row's history snapshot
        if getattr(keep, name) in (None, "") and getattr(drop, name) not in (None, ""):
            setattr(keep, name, getattr(drop, name))
            filled.append(name)
    if getattr(drop, "last_contacted_at", None) and keep.last_contacted_at \
            and drop.last_contacted_at > keep.last_contacted_at:
        keep.last_contacted_at = drop.last_contacted_at
    return filled


def _may_merge(user: User) -> None:
    if user.role not in MERGERS or not user.active:
        raise Forbidden("customers.managers_only")


def merge_contacts(session: Session, user: User, keep_id: int, drop_id: int, *,
                   now: datetime) -> MergeRecord:
    """Merge contact `drop_id` into `keep_id` (managers, admins): every activity, deal,
    follow-up, material sent, job ... of the duplicate now points at the kept contact,
    blanks of the kept one are filled from it, the duplicate is removed and the merge is
    recorded. Both must be visible to the user and at the same company."""
    _may_merge(user)
    if keep_id == drop_id:
        raise DomainError("customers.merge_same")
    keep = visible_contact(session, user, keep_id)
    drop = visible_contact(session, user, drop_id)
    if keep.company_id != drop.company_id:
        raise DomainError("customers.merge_other_company", keep=keep.name, drop=drop.name)
    snapshot = _snapshot(drop, _CONTACT_FIELDS)
    if drop.is_decision_maker:
        snapshot["is_decision_maker"] = True
    session.flush()
    try:
        with session.begin_nested():
            moved = _move(session, "contacts", drop.id, keep.id)
            moved_facts = _move_decision_maker(session, drop.id, keep.id, keep.company_id)
            if moved_facts:
                moved["deals.decision_maker"] = moved_facts
            filled = _fill_blanks(keep, drop, _CONTACT_FIELDS)
            keep.is_decision_maker = keep.is_decision_maker or drop.is_decision_maker
            drop_external = drop.external_id
            session.delete(drop)
            session.flush()
            if drop_external and not keep.external_id:
                keep.external_id = drop_external
                filled.append("external_id")
            keep.updated_at = now
            record = MergeRecord(kind="contact", kept_id=keep.id, merged_id=drop_id,
                                 merged_name=drop.name, company_id=keep.company_id,
                                 snapshot={**snapshot, "filled": filled}, moved=moved,
                                 merged_by_id=user.id, merged_at=now)
            session.add(record)
            session.flush()
    except IntegrityError:
        raise Conflict("customers.merge_conflict") from None
    session.expire_all()
    return record


def _move_decision_maker(session: Session, drop_id: int, keep_id: int, company_id: int
                         ) -> int:
    count = 0
    for deal in session.scalars(select(Deal).where(Deal.company_id == company_id)):
        if (deal.facts or {}).get("decision_maker_contact_id") == drop_id:
            deal.facts = {**deal.facts, "decision_maker_contact_id": keep_id}
            count += 1
    return count


def merge_companies(session: Session, user: User, keep_id: int, drop_id: int, *,
                    now: datetime) -> MergeRecord:
    """Merge company `drop_id` into `keep_id` (managers, admins): its contacts, deals,
    activities, quotes, jobs ... move to the kept company; blanks are filled from it; the
    duplicate is removed and the merge is recorded."""
    _may_merge(user)
    if keep_id == drop_id:
        raise DomainError("customers.merge_same")
    keep = visible_company(session, user, keep_id)
    drop = visible_company(session, user, drop_id)
    snapshot = _snapshot(drop, _COMPANY_FIELDS)
    snapshot["name"] = _company_name(drop.name, drop.legal_form)
    session.flush()
    try:
        with session.begin_nested():
            moved_contacts = 0
            # Through the ORM: the lookup index hears of every moved contact.
            for contact in session.scalars(select(Contact).where(
                    Contact.company_id == drop.id)):
                contact.company_id = keep.id
                contact.updated_at = now
                moved_contacts += 1
            session.flush()
            moved = _move(session, "companies", drop.id, keep.id,
                          skip=("contacts", "merge_records"))
            if moved_contacts:
                moved["contacts"] = moved_contacts
            session.execute(update(MergeRecord).where(MergeRecord.company_id == drop.id)
                            .values(company_id=keep.id))
            filled = _fill_blanks(keep, drop, _COMPANY_FIELDS)
            drop_external = drop.external_id
            session.expire(drop, ["contacts"])
            session.delete(drop)
            session.flush()
            if drop_external and not keep.external_id:
                keep.external_id = drop_external
                filled.append("external_id")
            keep.updated_at = now
            record = MergeRecord(kind="company", kept_id=keep.id, merged_id=drop_id,
                                 merged_name=snapshot["name"], company_id=keep.id,
                                 snapshot={**snapshot, "filled": filled}, moved=moved,
                                 merged_by_id=user.id, merged_at=now)
            session.add(record)
            session.flush()
    except IntegrityError:
        raise Conflict("customers.merge_conflict") from None
    session.expire_all()
    return record


def merge_history(session: Session, kind: str, record_id: int, limit: int = 10
                  ) -> list[MergeRecord]:
    """The merges into one record, newest first."""
    return list(session.scalars(select(MergeRecord).where(
        MergeRecord.kind == kind, MergeRecord.kept_id == record_id)
        .order_by(MergeRecord.merged_at.desc(), MergeRecord.id.desc()).limit(limit)))


def company_merges(session: Session, company_id: int, limit: int = 10) -> list[MergeRecord]:
    """Every merge recorded on a company (its contacts' and its own), newest first."""
    return list(session.scalars(select(MergeRecord).where(MergeRecord.company_id == company_id)
                                .order_by(MergeRecord.merged_at.desc(), MergeRecord.id.desc())
                                .limit(limit)))


def find_contact_ref(session: Session, user: User, ref: str) -> Contact:
    """A contact named by id, e-mail or exact name (the command line's way to name one)."""
    ref = (ref or "").strip()
    if ref.isdigit():
        return visible_contact(session, user, int(ref))
    stmt = select(Contact.id)
    if "@" in ref:
        stmt = stmt.where(Contact.email == ref.lower())
    else:
        stmt = stmt.where(func.lower(Contact.name) == ref.lower())
    ids = list(session.scalars(stmt.limit(3)))
    if not ids:
        raise NotFound("customers.no_contact", ref=ref[:60])
    if len(ids) > 1:
        raise DomainError("customers.ambiguous", ref=ref[:60])
    return visible_contact(session, user, ids[0])


def find_company_ref(session: Session, user: User, ref: str) -> Company:
    """A company named by id or exact name (with or without its legal form)."""
    ref = (ref or "").strip()
    if ref.isdigit():
        return visible_company(session, user, int(ref))
    _legal, bare = split_legal_form(ref)
    ids = list(session.scalars(select(Company.id).where(
        func.lower(Company.name).in_({ref.lower(), bare.lower()})).limit(3)))
    if not ids:
        raise NotFound("customers.no_company", ref=ref[:60])
    if len(ids) > 1:
        raise DomainError("customers.ambiguous", ref=ref[:60])
    return visible_company(session, user, ids[0])
