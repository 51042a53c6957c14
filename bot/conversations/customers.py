"""Customers and contacts from the chat: /newcompany, /newcontact (or "add Hadi Effendi,
purchasing at Utama Indah, 0812 3456 789"), /editcontact (phone, mobile, e-mail, job title,
department, decision maker) and /merge for managers. Every create checks for duplicates
first and offers "[Use Hadi Effendi (Utama Indah)] [Create anyway]".

```mermaid
stateDiagram-v2
    [*] --> name: /newcontact
    name --> company: no company named
    company --> details: company picked
    company --> newcompany: [New company]
    newcompany --> details: created (the contact goes on)
    details --> dupes: duplicates found
    details --> [*]: created
    dupes --> [*]: [Use ...] / [Create anyway] / [Cancel]
```
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy.orm import Session

from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, goto, intent
from bot.conversations.messages import Button, Incoming, Reply, button_rows
from bot.conversations.registry import Registry
from bot.conversations.understanding.intents import Phrasings
from bot.i18n import N_, Translator, register_errors
from core import customers as svc
from core.contact_index import looks_like_phone
from core.contacts import (
    DEPARTMENT_WORDS,
    department_for,
    find_any,
    find_companies,
    find_contacts,
    visible_company,
    visible_contact,
)
from core.models import Company, Contact, Role, User
from core.models.customers import MergeRecord

MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})
ERRORS = {
    "customers.bad_name": N_("Give a name with at least one letter or digit."),
    "customers.too_long": N_("That is too long: keep it under {limit} characters."),
    "customers.bad_phone": N_("\"{value}\" is not a phone number. Type it like 0812 3456 789 "
                              "or +62 21 555 1234."),
    "customers.bad_email": N_("\"{value}\" is not an e-mail address."),
    "customers.bad_field": N_("That detail of a contact cannot be changed here."),
    "customers.changed": N_("{name} was changed by someone else meanwhile. Here is the "
                            "record as it is now; try again."),
    "customers.not_allowed": N_("Your role cannot add or change customers."),
    "customers.managers_only": N_("Only managers and admins can merge duplicates."),
    "customers.merge_same": N_("That is the same record twice: pick the other one."),
    "customers.merge_other_company": N_("{drop} and {keep} work at different companies: "
                                        "merge the companies first, or edit the contact."),
    "customers.merge_conflict": N_("The merge clashed with another change; nothing was "
                                   "changed. Try again."),
    "customers.no_contact": N_("No contact \"{ref}\" that you can see."),
    "customers.no_company": N_("No company \"{ref}\" that you can see."),
    "customers.ambiguous": N_("Several records are called \"{ref}\": use the id instead."),
}
register_errors(ERRORS)

REASON_WORDS = {"name": N_("a like name"), "phone": N_("the same phone"),
                "email": N_("the same e-mail")}
FIELD_LABELS = {"phone": N_("📞 Phone"), "mobile": N_("📱 Mobile"), "email": N_("✉️ E-mail"),
                "job_title": N_("💼 Job title"), "department": N_("🏢 Department")}
FIELD_QUESTIONS = {
    "phone": N_("Type the office phone number (or - to clear it)."),
    "mobile": N_("Type the mobile number (or - to clear it)."),
    "email": N_("Type the e-mail address (or - to clear it)."),
    "job_title": N_("Type the job title (or - to clear it)."),
    "department": N_("Which department? Pick it or type it (or - to clear it)."),
}
DEPARTMENT_LABELS = {"Purchasing": N_("Purchasing"), "Finance": N_("Finance"), "IT": N_("IT"),
                     "Operations": N_("Operations"), "Management": N_("Management"),
                     "HR": N_("HR"), "Marketing": N_("Marketing")}
SKIP_WORDS = {"skip", "lewati", "no", "tidak", "-", "none", "nothing"}
CANCEL_WORDS = {"cancel", "batal", "stop"}
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


def _raw_request(ctx: Ctx) -> str:
    """The words of the request: the command's argument, else the typed message itself."""
    if ctx.args.get("text") and ctx.incoming.text and ctx.incoming.text.startswith("/"):
        return ctx.args["text"]
    text = ctx.incoming.text or ""
    if text and not text.startswith("/"):
        return strip_request(text)
    return ctx.args.get("text", "")


# -- duplicates ------------------------------------------------------------------------------
def _dupe_label(t: Translator, d: svc.Duplicate) -> str:
    if d.kind == "contact" and d.company_name:
        return t("Use {name} ({company})", name=d.name, company=d.company_name)
    return t("Use {name}", name=d.name)


def dupes_reply(ctx: Ctx, dupes: list[svc.Duplicate], what: str) -> Reply:
    """"This looks like ..." with a [Use X] button per visible record and [Create anyway]."""
    t = ctx.t
    lines = [t("Before I add {what}: it may already be recorded.", what=what)]
    buttons: list[Button] = []
    for d in dupes:
        why = ", ".join(t(REASON_WORDS[r]) for r in d.reasons)
        if d.visible:
            where = f" ({d.company_name})" if d.company_name else ""
            lines.append(f"• {d.name}{where} — {why}")
            buttons.append(Button(_dupe_label(t, d)[:60], value=f"use:{d.id}"))
        else:
            lines.append("• " + t("a record outside your territories — {why}; ask your "
                                  "manager before adding it again", why=why))
    buttons.append(Button(t("Create anyway"), value="force"))
    buttons.append(Button(t("Cancel"), value="cancel"))
    return ctx.reply("\n".join(lines), *button_rows(buttons, 1))


# -- /newcompany -----------------------------------------------------------------------------
async def newcompany_start(ctx: Ctx, inc: Incoming) -> Step:
    """Add a customer company: its name (and city, phone, e-mail in one line if typed)."""
    values = parse_company_line(_raw_request(ctx))
    if ctx.args.get("name"):
        values["name"] = ctx.args["name"]
    ctx.data["values"] = {k: v for k, v in values.items() if v}
    ctx.data["then"] = ctx.args.get("then", "")
    if ctx.args.get("pending"):
        ctx.data["pending"] = ctx.args["pending"]
    if not values.get("name"):
        return goto("name", ctx.reply(ctx.t(
            "What is the new company's name? You may add its city, phone and e-mail, e.g. "
            "\"Utama Indah, Jakarta, 021 555 1234\".")))
    return await _company_next(ctx)


async def newcompany_name(ctx: Ctx, inc: Incoming) -> Step:
    text = (inc.text or "").strip()
    if not text or inc.button:
        return goto("name", ctx.reply(ctx.t("Type the company's name (or /cancel).")))
    ctx.data["values"] = {**ctx.data["values"], **{k: v for k, v in
                                                    parse_company_line(text).items() if v}}
    return await _company_next(ctx)


async def _company_next(ctx: Ctx) -> Step:
    values = ctx.data["values"]
    svc.check_company(values)  # refuses bad input before asking more
    if not values.get("city") and not ctx.data.get("asked_city"):
        ctx.data["asked_city"] = True
        return goto("city", ctx.reply(ctx.t("Which city is {name} in? It picks the territory.",
                                            name=values["name"]),
                                      [Button(ctx.t("Skip"), value="skip")]))
    return await _create_company(ctx, force=False)


async def newcompany_city(ctx: Ctx, inc: Incoming) -> Step:
    text = (inc.text or "").strip()
    if inc.button != "skip" and text.lower() not in SKIP_WORDS:
        if not text:
            return goto("city", ctx.reply(ctx.t("Type the city, or press Skip."),
                                          [Button(ctx.t("Skip"), value="skip")]))
        svc.clean_text(text, "city")
        ctx.data["values"] = {**ctx.data["values"], "city": text}
    return await _create_company(ctx, force=False)


async def _create_company(ctx: Ctx, *, force: bool) -> Step:
    data = svc.check_company(ctx.data["values"])
    company, dupes = svc.create_company(ctx.session, ctx.user, data, now=ctx.now, force=force,
                                        index=ctx.services.contacts)
    if company is None:
        return goto("dupes", dupes_reply(ctx, dupes, data.name))
    return await _company_chosen(ctx, company, created=True)


async def _company_chosen(ctx: Ctx, company: Company, *, created: bool) -> Step:
    """Go on with what the company was added for (a contact, a lead), or say it is ready."""
    t = ctx.t
    lines = []
    if created:
        territory = company.territory.name if company.territory else None
        owner = company.owner.name if company.owner else None
        lines.append(t("✅ {company} added.", company=svc._company_name(company.name,
                                                                       company.legal_form)))
        lines.append(t("Territory: {territory} · Owner: {owner}",
                       territory=territory or "-", owner=owner or "-"))
        if territory is None:
            lines.append(t("No territory matches its city: until an admin sets one, only its "
                           "owner and admins see it."))
    then = ctx.data.get("then")
    if then in ("newlead", "contact"):
        args = {"company_id": str(company.id)}
        if then == "contact" and ctx.data.get("pending"):
            args["pending"] = ctx.data["pending"]
        step = await ctx.begin("newlead" if then == "newlead" else "newcontact", **args)
        if lines:
            step.replies.insert(0, Reply("\n".join(lines)))
        return step
    name = svc._company_name(company.name, company.legal_form)
    if not lines:
        lines.append(t("Using {company}.", company=name))
    return done(ctx.reply("\n".join(lines), [
        Button(t("👤 Add a contact"), action="customers.add_contact", arg=str(company.id)),
        Button(t("🆕 New lead"), action="customers.new_lead", arg=str(company.id))]))


async def newcompany_dupes(ctx: Ctx, inc: Incoming) -> Step:
    choice = inc.button or (inc.text or "").strip().lower()
    if choice in ("cancel", *CANCEL_WORDS):
        return done(ctx.t("Cancelled; nothing was added."))
    if choice == "force":
        return await _create_company(ctx, force=True)
    if choice.startswith("use:") and choice[4:].isdigit():
        company = visible_company(ctx.session, ctx.user, int(choice[4:]))
        return await _company_chosen(ctx, company, created=False)
    data = svc.check_company(ctx.data["values"])
    dupes = svc.company_duplicates(ctx.session, ctx.user, name=data.name, phone=data.phone,
                                   email=data.email, index=ctx.services.contacts)
    return _press_one(ctx, dupes, data.name)


def _press_one(ctx: Ctx, dupes: list[svc.Duplicate], name: str) -> Step:
    """Typed text where a button is expected: the question again, with its buttons."""
    again = dupes_reply(ctx, dupes, name)
    return goto("dupes", Reply(ctx.t("Press one of the buttons: use the existing record, "
                                     "create anyway, or cancel.")), again)


# -- /newcontact -----------------------------------------------------------------------------
async def newcontact_start(ctx: Ctx, inc: Incoming) -> Step:
    """Add a contact: name, company, role, phone and e-mail, typed in one line or asked."""
    if ctx.args.get("pending"):
        values = json.loads(ctx.args["pending"])
    else:
        values = parse_contact_line(_raw_request(ctx))
    ctx.data["values"] = {k: v for k, v in values.items() if v}
    if ctx.args.get("company_id", "").isdigit():
        company = visible_company(ctx.session, ctx.user, int(ctx.args["company_id"]))
        ctx.data["company_id"] = company.id
        ctx.data["values"].pop("company", None)
    return await _contact_next(ctx)


async def _contact_next(ctx: Ctx) -> Step:
    t = ctx.t
    values = ctx.data["values"]
    if not values.get("name"):
        return goto("name", ctx.reply(t(
            "Who is the new contact? Type the name, and if you like the role, company, phone "
            "and e-mail, e.g. \"Hadi Effendi, purchasing at Utama Indah, 0812 3456 789\".")))
    svc.check_contact(values)  # refuses a bad phone or e-mail before asking more
    if not ctx.data.get("company_id"):
        typed = values.get("company")
        if not typed:
            return goto("company", ctx.reply(t("At which company does {name} work?",
                                               name=values["name"])))
        return _contact_company(ctx, typed)
    if not (values.get("phone") or values.get("email")) and not ctx.data.get("asked_details"):
        ctx.data["asked_details"] = True
        return goto("details", ctx.reply(t(
            "{name}'s phone number or e-mail? Type one or both, or press Skip.",
            name=values["name"]), [Button(t("Skip"), value="skip")]))
    return _create_contact(ctx, force=False)


def _contact_company(ctx: Ctx, typed: str) -> Step:
    t = ctx.t
    matches = find_companies(ctx.session, ctx.user, typed, limit=4,
                             index=ctx.services.contacts)
    ctx.data["typed_company"] = typed[:120]
    new_button = Button(t("➕ New company {name}", name=typed[:40]), value="new")
    if matches and matches[0].score >= 90 and (
            len(matches) == 1 or matches[1].score <= matches[0].score - 6):
        ctx.data["company_id"] = matches[0].company.id
        ctx.data["values"].pop("company", None)
        return _after_company(ctx)
    if not matches:
        return goto("company", ctx.reply(t("I know no company like \"{text}\" that you can "
                                           "see. Add it, or type another name.",
                                           text=typed[:60]), [new_button]))
    buttons = [Button(svc._company_name(m.company.name, m.company.legal_form)[:60],
                      value=f"c:{m.company.id}") for m in matches]
    return goto("company", ctx.reply(t("Which company?"), *button_rows(buttons, 1),
                                     [new_button]))


def _after_company(ctx: Ctx) -> Step:
    values = ctx.data["values"]
    if not (values.get("phone") or values.get("email")) and not ctx.data.get("asked_details"):
        ctx.data["asked_details"] = True
        t = ctx.t
        return goto("details", ctx.reply(t(
            "{name}'s phone number or e-mail? Type one or both, or press Skip.",
            name=values["name"]), [Button(t("Skip"), value="skip")]))
    return _create_contact(ctx, force=False)


async def newcontact_name(ctx: Ctx, inc: Incoming) -> Step:
    text = (inc.text or "").strip()
    if not text or inc.button:
        return goto("name", ctx.reply(ctx.t("Type the contact's name (or /cancel).")))
    values = {k: v for k, v in parse_contact_line(text).items() if v}
    ctx.data["values"] = {**ctx.data["values"], **values}
    if ctx.data.get("company_id"):
        ctx.data["values"].pop("company", None)
    return await _contact_next(ctx)


async def newcontact_company(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    if inc.button == "new":
        pending = {k: v for k, v in ctx.data["values"].items() if k != "company"}
        return await ctx.begin("newcompany", name=ctx.data.get("typed_company", ""),
                               then="contact", pending=json.dumps(pending))
    if inc.button and inc.button.startswith("c:") and inc.button[2:].isdigit():
        company = visible_company(ctx.session, ctx.user, int(inc.button[2:]))
        ctx.data["company_id"] = company.id
        ctx.data["values"].pop("company", None)
        return _after_company(ctx)
    text = (inc.text or "").strip()
    if not text:
        return goto("company", ctx.reply(t("Type the company's name (or /cancel).")))
    return _contact_company(ctx, text)


async def newcontact_details(ctx: Ctx, inc: Incoming) -> Step:
    text = (inc.text or "").strip()
    if inc.button != "skip" and text.lower() not in SKIP_WORDS:
        found = {k: v for k, v in parse_contact_line("x, " + text).items()
                 if k in ("phone", "email")}
        if not found:
            return goto("details", ctx.reply(ctx.t(
                "I see no phone number or e-mail in that. Type them, or press Skip."),
                [Button(ctx.t("Skip"), value="skip")]))
        ctx.data["values"] = {**ctx.data["values"], **found}
        svc.check_contact(ctx.data["values"])
    return _create_contact(ctx, force=False)


def _create_contact(ctx: Ctx, *, force: bool) -> Step:
    t = ctx.t
    data = svc.check_contact(ctx.data["values"])
    contact, dupes = svc.create_contact(ctx.session, ctx.user, ctx.data["company_id"], data,
                                        now=ctx.now, force=force,
                                        index=ctx.services.contacts)
    if contact is None:
        return goto("dupes", dupes_reply(ctx, dupes, data.name))
    card = contact_card(ctx, contact)
    return done(Reply(t("✅ {name} added at {company}.", name=contact.name,
                        company=svc._company_name(contact.company.name,
                                                  contact.company.legal_form))), card)


async def newcontact_dupes(ctx: Ctx, inc: Incoming) -> Step:
    choice = inc.button or (inc.text or "").strip().lower()
    if choice in ("cancel", *CANCEL_WORDS):
        return done(ctx.t("Cancelled; nothing was added."))
    if choice == "force":
        return _create_contact(ctx, force=True)
    if choice.startswith("use:") and choice[4:].isdigit():
        contact = visible_contact(ctx.session, ctx.user, int(choice[4:]))
        return done(contact_card(ctx, contact))
    data = svc.check_contact(ctx.data["values"])
    dupes = svc.contact_duplicates(ctx.session, ctx.user, name=data.name,
                                   company_id=ctx.data["company_id"], phone=data.phone,
                                   mobile=data.mobile, email=data.email,
                                   index=ctx.services.contacts)
    return _press_one(ctx, dupes, data.name)


# -- the contact card with edit buttons -----------------------------------------------------
def contact_lines(t: Translator, session: Session, contact: Contact) -> list[str]:
    company = contact.company
    lines = [f"👤 {contact.name}",
             svc._company_name(company.name, company.legal_form)]
    role = ", ".join(x for x in (contact.job_title, t(DEPARTMENT_LABELS.get(
        contact.department or "", contact.department or "")) if contact.department else None)
        if x)
    if role:
        lines.append(t("Role: {role}", role=role))
    lines.append(t("Decision maker: {answer}",
                   answer=t("yes") if contact.is_decision_maker else t("no")))
    lines.append(t("Mobile: {phone}", phone=contact.mobile or "-"))
    lines.append(t("Phone: {phone}", phone=contact.phone or "-"))
    lines.append(t("E-mail: {email}", email=contact.email or "-"))
    for record in svc.merge_history(session, "contact", contact.id, limit=3):
        by = session.get(User, record.merged_by_id) if record.merged_by_id else None
        lines.append(t("Merged with {name} on {date} by {by}", name=record.merged_name,
                       date=t.date(record.merged_at), by=by.name if by else "-"))
    return lines


def contact_card(ctx: Ctx, contact: Contact) -> Reply:
    """The contact's details with an edit button for each."""
    t = ctx.t
    rows = [Button(t("✏️ Edit"), action="customers.edit", arg=str(contact.id)),
            Button(t("vCard"), action="contact.vcard", arg=str(contact.id))]
    return ctx.reply("\n".join(contact_lines(t, ctx.session, contact)), rows)


def _edit_card(ctx: Ctx, contact: Contact, note: str = "") -> Step:
    t = ctx.t
    ctx.data["contact_id"] = contact.id
    ctx.data["version"] = contact.version
    buttons = [Button(t(label), value=f"f:{key}") for key, label in FIELD_LABELS.items()]
    buttons.append(Button(t("⭐ Decision maker: no") if contact.is_decision_maker
                          else t("⭐ Decision maker: yes"), value="f:is_decision_maker"))
    buttons.append(Button(t("✅ Done"), value="done"))
    text = "\n".join(([note] if note else []) + contact_lines(t, ctx.session, contact)
                     + [t("What do you want to change?")])
    return goto("field", ctx.reply(text, *button_rows(buttons, 2)))


async def editcontact_start(ctx: Ctx, inc: Incoming) -> Step:
    """Change a contact's phone, mobile, e-mail, job title, department or decision maker."""
    if ctx.args.get("contact_id", "").isdigit():
        return _edit_card(ctx, visible_contact(ctx.session, ctx.user,
                                               int(ctx.args["contact_id"])))
    text = (ctx.args.get("contact") or _raw_request(ctx)).strip()
    if not text:
        return goto("pick", ctx.reply(ctx.t("Whose details do you want to change? Type the "
                                             "contact's name.")))
    return _pick_contact(ctx, text)


def _pick_contact(ctx: Ctx, text: str) -> Step:
    t = ctx.t
    matches = find_contacts(ctx.session, ctx.user, text, limit=5,
                            index=ctx.services.contacts)
    if not matches:
        return goto("pick", ctx.reply(t("I found no contact like \"{text}\" that you can see. "
                                        "Type another name.", text=text[:60])))
    if len(matches) == 1 or (matches[0].score >= 90
                             and matches[1].score <= matches[0].score - 6):
        return _edit_card(ctx, matches[0].contact)
    buttons = [Button(f"{m.contact.name} ({m.contact.company.name})"[:60],
                      value=f"p:{m.contact.id}") for m in matches]
    return goto("pick", ctx.reply(t("Which one?"), *button_rows(buttons, 1)))


async def editcontact_pick(ctx: Ctx, inc: Incoming) -> Step:
    if inc.button and inc.button.startswith("p:") and inc.button[2:].isdigit():
        return _edit_card(ctx, visible_contact(ctx.session, ctx.user, int(inc.button[2:])))
    text = (inc.text or "").strip()
    if not text:
        return goto("pick", ctx.reply(ctx.t("Type the contact's name (or /cancel).")))
    return _pick_contact(ctx, text)


async def editcontact_field(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    contact = visible_contact(ctx.session, ctx.user, ctx.data["contact_id"])
    choice = inc.button or ""
    if choice == "done" or (inc.text or "").strip().lower() in ("done", "selesai", "ok"):
        return done(contact_card(ctx, contact))
    if not choice.startswith("f:"):
        return goto("field", ctx.reply(t("Press the detail to change, or Done.")))
    field = choice[2:]
    if field == "is_decision_maker":
        contact = _update(ctx, contact, field, not contact.is_decision_maker)
        return _edit_card(ctx, contact, t("Saved."))
    if field not in FIELD_QUESTIONS:
        return goto("field", ctx.reply(t("Press the detail to change, or Done.")))
    ctx.data["field"] = field
    rows: tuple[tuple[Button, ...], ...] = ()
    if field == "department":
        rows = button_rows([Button(t(DEPARTMENT_LABELS[d]), value=f"d:{d}")
                            for d in DEPARTMENT_WORDS], 3)
    return goto("value", ctx.reply(t(FIELD_QUESTIONS[field]), *rows))


def _update(ctx: Ctx, contact: Contact, field: str, value: Any) -> Contact:
    return svc.update_contact(ctx.session, ctx.user, contact.id, field, value, now=ctx.now,
                              version=ctx.data.get("version"))


async def editcontact_value(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    field = ctx.data["field"]
    contact = visible_contact(ctx.session, ctx.user, ctx.data["contact_id"])
    if inc.button and inc.button.startswith("d:"):
        value = inc.button[2:]
    else:
        value = (inc.text or "").strip()
        if not value:
            return goto("value", ctx.reply(t(FIELD_QUESTIONS[field])))
        if value == "-":
            value = ""
    contact = _update(ctx, contact, field, value)
    ctx.data.pop("field", None)
    return _edit_card(ctx, contact, t("Saved."))


async def edit_action(ctx: Ctx, arg: str) -> Step:
    """The ✏️ Edit button of a contact card."""
    if not arg.isdigit() or len(arg) > 9:
        return done(ctx.t("That button is no longer valid."))
    return await ctx.begin("editcontact", contact_id=arg)


async def add_contact_action(ctx: Ctx, arg: str) -> Step:
    if not arg.isdigit() or len(arg) > 9:
        return done(ctx.t("That button is no longer valid."))
    return await ctx.begin("newcontact", company_id=arg)


async def new_lead_action(ctx: Ctx, arg: str) -> Step:
    if not arg.isdigit() or len(arg) > 9:
        return done(ctx.t("That button is no longer valid."))
    return await ctx.begin("newlead", company_id=arg)


# -- /merge (managers) -----------------------------------------------------------------------
async def merge_start(ctx: Ctx, inc: Incoming) -> Step:
    """Merge a duplicate contact or company into the record to keep (managers)."""
    text = (ctx.args.get("contact") or ctx.args.get("company") or _raw_request(ctx)).strip()
    if not text:
        return goto("duplicate", ctx.reply(ctx.t(
            "Which contact or company is the duplicate? Type its name.")))
    return _merge_pick_duplicate(ctx, text)


def _merge_pick_duplicate(ctx: Ctx, text: str) -> Step:
    t = ctx.t
    matches = find_any(ctx.session, ctx.user, text, limit=5, index=ctx.services.contacts)
    if not matches:
        return goto("duplicate", ctx.reply(t("I found nothing like \"{text}\" that you can "
                                             "see. Type another name.", text=text[:60])))
    if len(matches) == 1 or (matches[0].score >= 95
                             and matches[1].score <= matches[0].score - 6):
        return _merge_ask_keep(ctx, matches[0].kind, matches[0].record)
    buttons = [Button(_record_label(m.kind, m.record)[:60],
                      value=f"{'ct' if m.kind == 'contact' else 'cy'}:{m.record.id}")
               for m in matches]
    return goto("duplicate", ctx.reply(t("Which one is the duplicate?"),
                                       *button_rows(buttons, 1)))


def _record_label(kind: str, record: Any) -> str:
    if kind == "contact":
        return f"👤 {record.name} ({record.company.name})"
    return f"🏢 {svc._company_name(record.name, record.legal_form)}"


async def merge_duplicate(ctx: Ctx, inc: Incoming) -> Step:
    value = inc.button or ""
    kind, _, ident = value.partition(":")
    if ident.isdigit() and len(ident) <= 9 and kind in ("ct", "cy"):
        if kind == "ct":
            return _merge_ask_keep(ctx, "contact",
                                   visible_contact(ctx.session, ctx.user, int(ident)))
        return _merge_ask_keep(ctx, "company", visible_company(ctx.session, ctx.user,
                                                               int(ident)))
    text = (inc.text or "").strip()
    if not text:
        return goto("duplicate", ctx.reply(ctx.t("Type the duplicate's name (or /cancel).")))
    return _merge_pick_duplicate(ctx, text)


def _merge_ask_keep(ctx: Ctx, kind: str, record: Any) -> Step:
    t = ctx.t
    ctx.data.update(kind=kind, drop_id=record.id)
    candidates: list[Any] = []
    if kind == "contact":
        dupes = svc.contact_duplicates(ctx.session, ctx.user, name=record.name,
                                       company_id=record.company_id, phone=record.phone,
                                       mobile=record.mobile, email=record.email,
                                       index=ctx.services.contacts, exclude_id=record.id,
                                       limit=4)
        ids = [d.id for d in dupes if d.visible]
        ids += [m.contact.id for m in find_contacts(ctx.session, ctx.user, record.name,
                                                    limit=5, index=ctx.services.contacts,
                                                    company=record.company)]
        for cid in dict.fromkeys(ids):
            if cid != record.id:
                other = ctx.session.get(Contact, cid)
                if other is not None and other.company_id == record.company_id:
                    candidates.append(other)
    else:
        dupes = svc.company_duplicates(ctx.session, ctx.user, name=record.name,
                                       phone=record.phone, email=record.email,
                                       index=ctx.services.contacts, limit=4)
        ids = [d.id for d in dupes if d.visible]
        ids += [m.company.id for m in find_companies(ctx.session, ctx.user, record.name,
                                                     limit=5, index=ctx.services.contacts)]
        for cid in dict.fromkeys(ids):
            if cid != record.id:
                other_company = ctx.session.get(Company, cid)
                if other_company is not None:
                    candidates.append(other_company)
    buttons = [Button(_record_label(kind, c)[:60], value=f"k:{c.id}") for c in candidates[:5]]
    text = t("Merge {name} into which record? It is removed; everything recorded on it moves "
             "to the one you pick. Pick it or type its name.",
             name=_record_label(kind, record))
    return goto("keep", ctx.reply(text, *button_rows(buttons, 1)))


async def merge_keep(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    kind = ctx.data["kind"]
    value = inc.button or ""
    keep: Any = None
    if value.startswith("k:") and value[2:].isdigit():
        keep = (visible_contact if kind == "contact" else visible_company)(
            ctx.session, ctx.user, int(value[2:]))
    else:
        text = (inc.text or "").strip()
        if not text:
            return goto("keep", ctx.reply(t("Type the name of the record to keep (or "
                                            "/cancel).")))
        found: list[Any]
        if kind == "contact":
            drop = visible_contact(ctx.session, ctx.user, ctx.data["drop_id"])
            found = [m.contact for m in find_contacts(ctx.session, ctx.user, text, limit=3,
                                                      index=ctx.services.contacts,
                                                      company=drop.company)
                     if m.contact.id != drop.id]
        else:
            found = [m.company for m in find_companies(ctx.session, ctx.user, text, limit=3,
                                                       index=ctx.services.contacts)
                     if m.company.id != ctx.data["drop_id"]]
        if len(found) != 1:
            buttons = [Button(_record_label(kind, c)[:60], value=f"k:{c.id}") for c in found]
            return goto("keep", ctx.reply(t("Pick the record to keep:") if found else t(
                "I found no such record to keep. Type another name."),
                *button_rows(buttons, 1)))
        keep = found[0]
    if keep.id == ctx.data["drop_id"]:
        return goto("keep", ctx.reply(t.error("customers.merge_same", {})))
    drop_record = (visible_contact if kind == "contact" else visible_company)(
        ctx.session, ctx.user, ctx.data["drop_id"])
    ctx.data["keep_id"] = keep.id
    return goto("confirm", ctx.reply(
        t("Merge {drop} into {keep}? {drop} is removed; its activities, deals, follow-ups and "
          "materials move to {keep}.", drop=_record_label(kind, drop_record),
          keep=_record_label(kind, keep)),
        [Button(t("Merge"), value="yes"), Button(t("Cancel"), value="no")]))


async def merge_confirm(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    answer = inc.button or (inc.text or "").strip().lower()
    if answer in ("no", *CANCEL_WORDS):
        return done(t("Cancelled; nothing was merged."))
    if answer not in ("yes", "ya", "merge", "gabung"):
        return goto("confirm", ctx.reply(t("Press Merge or Cancel.")))
    merge = svc.merge_contacts if ctx.data["kind"] == "contact" else svc.merge_companies
    record = merge(ctx.session, ctx.user, ctx.data["keep_id"], ctx.data["drop_id"],
                   now=ctx.now)
    return done(merged_text(t, record))


def merged_text(t: Translator, record: MergeRecord) -> str:
    moved = sum(int(v) for v in record.moved.values())
    return t.n("✅ Merged {name} into the record kept; {count} record moved with it.",
               "✅ Merged {name} into the record kept; {count} records moved with it.",
               moved, name=record.merged_name)


# -- intents ---------------------------------------------------------------------------------
PHRASINGS = (
    Phrasings(
        "new_company", flow="newcompany", slots=("text",), label=N_("Add a new company"),
        en=("add a new company", "new company {text}", "add company {text}",
            "create a customer {text}", "register a new customer", "add a new customer",
            "new customer {text}", "add the company {text} please", "create company {text}",
            "I want to add a company", "can you add a new account {text}",
            "record a new company {text}", "new account", "add {text} as a new customer",
            "make a new company record", "save a new customer {text}"),
        id=("tambah perusahaan baru", "perusahaan baru {text}", "tambah perusahaan {text}",
            "buat pelanggan baru {text}", "daftarkan pelanggan baru", "tambah customer baru",
            "customer baru {text}", "tolong tambahkan perusahaan {text}",
            "bikin perusahaan {text}", "saya mau tambah perusahaan", "tambahin akun baru {text}",
            "catat perusahaan baru {text}", "akun baru", "masukin {text} sebagai pelanggan baru",
            "buat data perusahaan baru", "simpan pelanggan baru {text}")),
    Phrasings(
        "new_contact", flow="newcontact", slots=("text",), label=N_("Add a new contact"),
        en=("add a new contact", "new contact {text}", "add {text}", "add contact {text}",
            "create a contact {text}", "save a new contact", "add a person {text}",
            "I met someone new {text}", "new person at a customer {text}",
            "please add {text} to contacts", "register a contact {text}",
            "add {text} to my contacts", "record a new contact {text}", "new contact person",
            "can you save this contact {text}", "add this person {text}", "add a contact {text}",
            "new contact person {text}"),
        id=("tambah kontak baru", "kontak baru {text}", "tambah {text}", "tambah kontak {text}",
            "buat kontak {text}", "simpan kontak baru", "tambahkan orang {text}",
            "saya ketemu orang baru {text}", "orang baru di pelanggan {text}",
            "tolong tambahkan {text} ke kontak", "daftarkan kontak {text}",
            "masukin {text} ke kontak saya", "catat kontak baru {text}", "pic baru",
            "bisa simpan kontak ini {text}", "tambahin orang ini {text}", "simpan kontak {text}",
            "kontak baru dong {text}")),
    Phrasings(
        "edit_contact", flow="editcontact", slots=("contact", "text"),
        label=N_("Change a contact's details"),
        en=("change {contact}'s phone", "update the e-mail of {contact}",
            "edit contact {contact}", "{contact} has a new phone number {text}",
            "fix {contact}'s job title", "{contact} moved to another department",
            "update {contact}", "correct the details of {contact}",
            "{contact} is the decision maker now", "change the mobile number of {contact}",
            "{contact}'s email changed", "edit {contact}", "new e-mail for {contact} {text}",
            "set {contact}'s department", "update contact details of {contact}",
            "update {contact}'s number", "change the mobile of {contact}"),
        id=("ganti nomor {contact}", "ubah email {contact}", "edit kontak {contact}",
            "{contact} punya nomor baru {text}", "perbaiki jabatan {contact}",
            "{contact} pindah bagian", "update {contact}", "koreksi data {contact}",
            "{contact} sekarang pengambil keputusan", "ganti nomor hp {contact}",
            "email {contact} berubah", "ubah data {contact}", "email baru {contact} {text}",
            "atur departemen {contact}", "perbarui detail kontak {contact}",
            "ganti email {contact}", "update nomor hp {contact}")),
    Phrasings(
        "merge_records", flow="merge", slots=("customer",),
        label=N_("Merge a duplicate contact or company"),
        en=("merge {customer}", "merge duplicates", "{customer} is a duplicate",
            "merge the duplicate contact {customer}", "combine {customer} with the other one",
            "there are two records for {customer}", "remove the duplicate of {customer}",
            "merge these contacts", "{customer} appears twice", "deduplicate {customer}",
            "merge duplicate companies", "join the two records of {customer}",
            "{customer} is recorded twice", "clean up duplicates of {customer}",
            "merge company {customer}"),
        id=("gabungkan {customer}", "gabung data dobel", "{customer} dobel",
            "gabungkan kontak ganda {customer}", "satukan {customer} dengan yang lain",
            "ada dua data untuk {customer}", "hapus duplikat {customer}",
            "gabungkan kontak-kontak ini", "{customer} muncul dua kali",
            "bersihkan duplikat {customer}", "gabung perusahaan dobel",
            "satukan dua data {customer}", "{customer} tercatat dua kali",
            "rapikan data ganda {customer}", "merge perusahaan {customer}")),
)


def register(registry: Registry) -> None:
    """Register /newcompany, /newcontact, /editcontact, /merge, their actions and intents."""
    registry.add_flow(Flow(
        "newcompany", start=newcompany_start,
        states={"name": newcompany_name, "city": newcompany_city, "dupes": newcompany_dupes},
        accepts={"name": "text", "city": "text", "dupes": "button"},
        roles=FIELD_ROLES, commands=("newcompany",), help=N_("Add a customer company")))
    registry.add_flow(Flow(
        "newcontact", start=newcontact_start,
        states={"name": newcontact_name, "company": newcontact_company,
                "details": newcontact_details, "dupes": newcontact_dupes},
        accepts={"name": "text", "company": "customer", "details": "text", "dupes": "button"},
        roles=FIELD_ROLES, commands=("newcontact",), help=N_("Add a contact at a customer")))
    registry.add_flow(Flow(
        "editcontact", start=editcontact_start,
        states={"pick": editcontact_pick, "field": editcontact_field,
                "value": editcontact_value},
        accepts={"pick": "button", "field": "button", "value": "text"},
        roles=FIELD_ROLES, commands=("editcontact",),
        help=N_("Change a contact's phone, e-mail, job title, department")))
    registry.add_flow(Flow(
        "merge", start=merge_start,
        states={"duplicate": merge_duplicate, "keep": merge_keep, "confirm": merge_confirm},
        accepts={"duplicate": "customer", "keep": "button", "confirm": "button"},
        roles=MANAGERS, commands=("merge",), help=N_("Merge duplicate contacts or companies")))
    registry.add_action(Action("customers.edit", edit_action, roles=FIELD_ROLES,
                               group_ok=False))
    registry.add_action(Action("customers.add_contact", add_contact_action, roles=FIELD_ROLES,
                               group_ok=False))
    registry.add_action(Action("customers.new_lead", new_lead_action, roles=FIELD_ROLES,
                               group_ok=False))
    for phrasing in PHRASINGS:
        registry.add_phrasings(phrasing)
    # A contact typed as one line ("add Hadi Effendi, purchasing at Utama Indah, 0812 3456
    # 789") is fixed syntax: a name, a comma, what is known of them.
    registry.add_intent(intent(
        "newcontact", r"^(?:please\s+|tolong\s+)?(?:add|new contact|tambah(?:kan|in)?|"
        r"kontak baru|simpan kontak)\s+[^,\d]{3,60},\s*\S.*$", priority=20))
