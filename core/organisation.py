"""The selling organisation's identity: set by an admin, printed by every document.

One row (core.models.organisation.OrganisationProfile). Documents read a `Seller`
snapshot of it; until the details a customer needs to reach the seller are there (name,
address, and a phone or an e-mail) the seller is a draft and documents say so. Customer-read
text (payment and delivery terms) is kept per language; a document in a language with no
text of its own uses the other language's.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.errors import DomainError, Forbidden
from core.models import Role, User
from core.models.organisation import OrganisationProfile

LANGUAGES = ("en", "id")
DEFAULT_VALIDITY_DAYS = 30  # core.quotes.VALIDITY_DAYS
MAX_LOGO_BYTES = 1_000_000
MAX_LOGO_PIXELS = 4000 * 4000
LOGO_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}


@dataclass(frozen=True)
class Field:
    """One detail an admin sets: its key (CLI option, chat button), column, limit, kind."""

    key: str
    column: str
    limit: int
    kind: str = "line"  # line | text | email | phone | url | days | per_language
    required: bool = False


FIELDS: tuple[Field, ...] = (
    Field("name", "name", 200, required=True),
    Field("legal-name", "legal_name", 200),
    Field("address", "address", 400, "text", required=True),
    Field("phone", "phone", 60, "phone"),
    Field("email", "email", 200, "email"),
    Field("website", "website", 200, "url"),
    Field("tax-number", "tax_number", 60),
    Field("bank", "bank_details", 400, "text"),
    Field("payment-terms", "payment_terms", 600, "per_language"),
    Field("delivery-terms", "delivery_terms", 600, "per_language"),
    Field("quote-validity", "quote_validity_days", 3, "days"),
)
FIELD_BY_KEY = {f.key: f for f in FIELDS}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{6,}(?:\s*(?:ext\.?|x)\s*\d{1,6})?$", re.IGNORECASE)
_URL = re.compile(r"^(?:https?://)?[\w-]+(?:\.[\w-]+)+(?:/\S*)?$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Seller:
    """What documents print as the seller (a snapshot; no database session needed)."""

    name: str | None = None
    legal_name: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    tax_number: str | None = None
    bank_details: str | None = None
    payment_terms: dict[str, str] = field(default_factory=dict)
    delivery_terms: dict[str, str] = field(default_factory=dict)
    quote_validity_days: int = DEFAULT_VALIDITY_DAYS
    logo: bytes | None = None
    logo_mime: str | None = None

    @property
    def missing(self) -> list[str]:
        """The keys of the details still needed before documents stop being drafts."""
        missing = [f.key for f in FIELDS if f.required and not getattr(self, f.column)]
        if not (self.phone or self.email):
            missing.append("phone")  # a phone or an e-mail: one way to reach the seller
        return missing

    @property
    def is_draft(self) -> bool:
        return bool(self.missing)

    def text(self, column: str, language: str) -> str | None:
        """A per-language text in `language`, else in the other language, else None."""
        texts: dict[str, str] = getattr(self, column)
        return texts.get(language) or next((texts[lang] for lang in LANGUAGES
                                            if texts.get(lang)), None)


def profile(session: Session) -> OrganisationProfile | None:
    return session.get(OrganisationProfile, 1)


def seller(session: Session) -> Seller:
    """The seller as documents print it (an empty draft until an admin sets it)."""
    row = profile(session)
    if row is None:
        return Seller()
    return Seller(name=row.name, legal_name=row.legal_name, address=row.address,
                  phone=row.phone, email=row.email, website=row.website,
                  tax_number=row.tax_number, bank_details=row.bank_details,
                  payment_terms=dict(row.payment_terms or {}),
                  delivery_terms=dict(row.delivery_terms or {}),
                  quote_validity_days=row.quote_validity_days or DEFAULT_VALIDITY_DAYS,
                  logo=row.logo, logo_mime=row.logo_mime)


def quote_validity_days(session: Session) -> int:
    """How many days a new quote is valid (the admin's setting, 30 until set)."""
    row = profile(session)
    return row.quote_validity_days if row is not None and row.quote_validity_days \
        else DEFAULT_VALIDITY_DAYS


def _check_admin(user: User | None) -> None:
    if user is not None and user.role != Role.ADMIN.value:
        raise Forbidden("org.admin_only")


def _row(session: Session) -> OrganisationProfile:
    row = profile(session)
    if row is None:
        row = OrganisationProfile(id=1, payment_terms={}, delivery_terms={},
                                  quote_validity_days=DEFAULT_VALIDITY_DAYS)
        session.add(row)
    return row


def clean_value(item: Field, raw: str | None) -> Any:
    """The stored form of a typed value, or DomainError saying what is wrong; None or ""
    clears the detail (a quote validity goes back to 30 days)."""
    text = _CONTROL.sub("", (raw or "").replace("\r\n", "\n")).strip()
    if item.kind != "text" and item.kind != "per_language":
        text = " ".join(text.split())
    if not text:
        return DEFAULT_VALIDITY_DAYS if item.kind == "days" else None
    if item.kind == "days":
        if not text.isdigit() or not 1 <= int(text) <= 365:
            raise DomainError("org.bad_days", value=text[:20])
        return int(text)
    if len(text) > item.limit:
        raise DomainError("org.too_long", field=item.key, limit=item.limit)
    if item.kind == "email" and not _EMAIL.match(text):
        raise DomainError("org.bad_email", value=text[:60])
    if item.kind == "phone" and not _PHONE.match(text):
        raise DomainError("org.bad_phone", value=text[:40])
    if item.kind == "url" and not _URL.match(text):
        raise DomainError("org.bad_url", value=text[:60])
    return text


def update_profile(session: Session, user: User | None, changes: Mapping[str, str | None], *,
                   language: str = "en", now: datetime) -> OrganisationProfile:
    """Set some details (keys of FIELDS; per-language ones in `language`).

    Args:
        user: the admin making the change, or None for the shell (`sfa org set`).
        changes: key -> typed value; an empty value clears the detail.
        language: the language of per-language texts (payment and delivery terms).

    Every value is checked before any is written: one bad value changes nothing.
    """
    _check_admin(user)
    if language not in LANGUAGES:
        raise DomainError("org.bad_language", language=language[:8], known=", ".join(LANGUAGES))
    cleaned: dict[str, Any] = {}
    for key, raw in changes.items():
        item = FIELD_BY_KEY.get(key)
        if item is None:
            raise DomainError("org.unknown_field", field=key[:40],
                              known=", ".join(f.key for f in FIELDS))
        cleaned[key] = clean_value(item, raw)
    row = _row(session)
    for key, value in cleaned.items():
        item = FIELD_BY_KEY[key]
        if item.kind == "per_language":
            texts = {k: v for k, v in dict(getattr(row, item.column) or {}).items()
                     if k != language}
            if value:
                texts[language] = value
            setattr(row, item.column, texts)  # a new dict, so the change is seen
        else:
            setattr(row, item.column, value)
    row.updated_at, row.updated_by_id = now, user.id if user is not None else None
    session.flush()
    return row


def set_logo(session: Session, user: User | None, data: bytes | None, *,
             now: datetime) -> OrganisationProfile:
    """Store the logo (a PNG or JPEG up to 1 MB and 4000 x 4000 pixels), or remove it
    (None). The image is opened and checked before it is stored."""
    _check_admin(user)
    mime = None
    if data is not None:
        mime = logo_type(data)
    row = _row(session)
    row.logo, row.logo_mime = data, mime
    row.updated_at, row.updated_by_id = now, user.id if user is not None else None
    session.flush()
    return row


def logo_type(data: bytes) -> str:
    """The MIME type of a usable logo; DomainError for anything else."""
    if len(data) > MAX_LOGO_BYTES:
        raise DomainError("org.logo_too_big", limit=MAX_LOGO_BYTES // 1000)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format or ""
            width, height = image.size
            if kind not in LOGO_TYPES:
                raise DomainError("org.bad_logo")
            if width * height > MAX_LOGO_PIXELS or width < 8 or height < 8:
                raise DomainError("org.logo_size", width=width, height=height)
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # verify() checks the structure; load() decodes every pixel
    except DomainError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            Image.DecompressionBombError) as exc:
        raise DomainError("org.bad_logo") from exc
    return LOGO_TYPES[kind]
