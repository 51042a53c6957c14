"""Customers and contacts from the chat: /newcompany, /newcontact (or "add Hadi Effendi,
purchasing at Utama Indah, 0812 3456 789"); a contact's card and /editcontact are
bot.conversations.contact_edit, /merge bot.conversations.merge. Every create checks for duplicates
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

from bot.conversations.contact_edit import contact_card
from bot.conversations.contact_lines import parse_company_line, parse_contact_line, raw_request
from bot.conversations.flow import FIELD_ROLES, Ctx, Flow, Step, done, goto, intent
from bot.conversations.messages import Button, Incoming, Reply, button_rows
from bot.conversations.phrasings import customers as customers_phrasings
from bot.conversations.registry import Registry
from bot.i18n import N_, Translator
from core import customers as svc
from core.contacts import (
    find_companies,
    visible_company,
    visible_contact,
)
from core.models import Company

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

REASON_WORDS = {"name": N_("a like name"), "phone": N_("the same phone"),
                "email": N_("the same e-mail")}

SKIP_WORDS = {"skip", "lewati", "no", "tidak", "-", "none", "nothing"}
CANCEL_WORDS = {"cancel", "batal", "stop"}


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
    values = parse_company_line(raw_request(ctx))
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
        values = parse_contact_line(raw_request(ctx))
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


def register(registry: Registry) -> None:
    """Register /newcompany, /newcontact and their intents."""
    registry.add_errors(ERRORS)
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
    registry.add_phrasings(*customers_phrasings.PHRASINGS)
    # A contact typed as one line ("add Hadi Effendi, purchasing at Utama Indah, 0812 3456
    # 789") is fixed syntax: a name, a comma, what is known of them.
    registry.add_intent(intent(
        "newcontact", r"^(?:please\s+|tolong\s+)?(?:add|new contact|tambah(?:kan|in)?|"
        r"kontak baru|simpan kontak)\s+[^,\d]{3,60},\s*\S.*$", priority=20))
