"""A contact or a company typed as one line ("add Hadi Effendi, purchasing at Utama Indah,
0812 3456 789", "new company PT Maju Jaya, Bandung"): the words of the request, read into
name, job title, department, company, phone and e-mail."""

from __future__ import annotations

import re
from typing import Any

from bot.conversations.flow import Ctx
from core.contact_records import looks_like_phone
from core.contacts import (
    department_for,
)

# Fixed syntax: the leading words of a typed request ("add", "new contact", "kontak baru").
_LEAD_WORDS = re.compile(
    r"^\s*(?:/\w+\s+)?(?:please\s+|tolong\s+)?(?:(?:add|create|record|new|register|save|"
    r"tambah(?:kan)?|buat(?:kan)?|catat|simpan|daftarkan|bikin)\s+)?(?:(?:a|an|the|new|"
    r"baru)\s+)?(?:(?:contact|person|kontak|orang|company|customer|account|perusahaan|"
    r"pelanggan|klien|akun)\s+)?(?:(?:baru|new)\s+)?(?::\s*)?", re.IGNORECASE)
_NUMBERISH = re.compile(r"^\+?[\d\s().\-/]*\d[\d\s().\-/]*$")
_AT = re.compile(r"(?:^|\s+)(?:at|from|of|@|di|dari)\s+", re.IGNORECASE)


# -- reading a typed line --------------------------------------------------------------------
def strip_request(text: str) -> str:
    return _LEAD_WORDS.sub("", text or "", count=1).strip(" ,;:.")


def parse_contact_line(text: str) -> dict[str, Any]:
    """"Hadi Effendi, purchasing at Utama Indah, 0812 3456 789" -> name, department or job
    title, company (as typed), phone, e-mail."""
    values: dict[str, Any] = {}
    parts = [p.strip() for p in re.split(r"[,;\n]", text or "") if p.strip()]
    for i, part in enumerate(parts):
        if "@" in part and " " not in part:
            values.setdefault("email", part)
        elif looks_like_phone(part) or _NUMBERISH.match(part):
            values.setdefault("phone", part)
        elif _AT.search(part) and "company" not in values:
            left, right = _AT.split(part, maxsplit=1)
            values["company"] = right.strip()
            if i == 0 and "name" not in values:
                values["name"] = left.strip()
            elif left.strip():
                _role(values, left.strip())
        elif "name" not in values:
            values["name"] = part
        else:
            _role(values, part)
    return values


def _role(values: dict[str, Any], text: str) -> None:
    dept = department_for(text)
    if dept and len(text.split()) <= 2 and "department" not in values:
        values["department"] = dept
    else:
        values.setdefault("job_title", text)


def parse_company_line(text: str) -> dict[str, Any]:
    """"Utama Indah, Jakarta, 021 555 1234, info@utama.co.id" -> name, city, phone, e-mail
    (a third plain part is the industry)."""
    values: dict[str, Any] = {}
    plain: list[str] = []
    for part in (p.strip() for p in re.split(r"[,;\n]", text or "")):
        if not part:
            continue
        if "@" in part and " " not in part:
            values.setdefault("email", part)
        elif looks_like_phone(part) or _NUMBERISH.match(part):
            values.setdefault("phone", part)
        else:
            plain.append(part)
    for key, value in zip(("name", "city", "industry"), plain, strict=False):
        values[key] = value
    return values


def raw_request(ctx: Ctx) -> str:
    """The words of the request: the command's argument, else the typed message itself."""
    if ctx.args.get("text") and ctx.incoming.text and ctx.incoming.text.startswith("/"):
        return ctx.args["text"]
    text = ctx.incoming.text or ""
    if text and not text.startswith("/"):
        return strip_request(text)
    return ctx.args.get("text", "")
