"""A contact's card with edit buttons and /editcontact: phone, mobile, e-mail, job title,
department, decision maker; the card's [Add a contact] and [New lead] buttons."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.conversations.contact_lines import raw_request
from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, goto
from bot.conversations.messages import Button, Incoming, Reply, button_rows
from bot.conversations.phrasings import customers as customers_phrasings
from bot.conversations.registry import Registry
from bot.i18n import N_, Translator
from core import customers as svc
from core.contacts import (
    DEPARTMENT_WORDS,
    find_contacts,
    visible_contact,
)
from core.models import Contact, User

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
    text = (ctx.args.get("contact") or raw_request(ctx)).strip()
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


def register(registry: Registry) -> None:
    """Register /editcontact, the card's buttons and the intent."""
    registry.add_flow(Flow(
        "editcontact", start=editcontact_start,
        states={"pick": editcontact_pick, "field": editcontact_field,
                "value": editcontact_value},
        accepts={"pick": "button", "field": "button", "value": "text"},
        roles=FIELD_ROLES, commands=("editcontact",),
        help=N_("Change a contact's phone, e-mail, job title, department")))
    registry.add_action(Action("customers.edit", edit_action, roles=FIELD_ROLES,
                               group_ok=False))
    registry.add_action(Action("customers.add_contact", add_contact_action, roles=FIELD_ROLES,
                               group_ok=False))
    registry.add_action(Action("customers.new_lead", new_lead_action, roles=FIELD_ROLES,
                               group_ok=False))
    registry.add_phrasings(customers_phrasings.EDIT_CONTACT)
