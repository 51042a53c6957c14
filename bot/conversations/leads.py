"""Leads: /newlead (company, contact, need, source). The lead's announcement, claims, the
manager's buttons and /leads are bot/conversations/lead_queue.py; territories and the
customers of an area, bot/conversations/areas.py.

/newlead asks one question at a time; its first questions also offer one form with all the
lead's fields (company, contact, need, source, estimated amount): Slack shows it as a modal,
other doors show its button, and pressing it asks in text.

```mermaid
stateDiagram-v2
    [*] --> company
    company --> contact: company clear
    company --> [*]: form submitted (recorded)
    contact --> need
    contact --> [*]: form submitted (recorded)
    need --> source
    source --> [*]: recorded
```
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations.flow import FIELD_ROLES, Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.messages import (
    Button,
    Form,
    FormField,
    FormReply,
    Incoming,
    button_rows,
    form_values,
)
from bot.conversations.phrasings import leads as leads_phrasings
from bot.conversations.registry import Registry
from bot.i18n import N_, Translator
from core import leads
from core.contacts import find_companies
from core.models import Company, Contact, Deal, Role

MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})
CLAIMERS = frozenset({Role.REP, Role.MANAGER})
SOURCES = (("website", N_("Website")), ("referral", N_("Referral")), ("event", N_("Event")),
           ("cold_call", N_("Cold call")), ("partner", N_("Partner")))
FORM_VALUE = "form"
FORM_BUTTON = N_("📝 All in one form")
NEED_LIMIT = 500

ERRORS = {
    "lead.not_your_territory": N_("This lead is for another territory's team."),
    "lead.managers_only": N_("Only the team's manager (or an admin) can do that."),
    "lead.not_a_rep": N_("{login} is not an active rep."),
    "lead.bad_industry": N_("An industry name is at most 80 characters: \"{value}...\" is "
                            "longer."),
    "lead.not_a_lead": N_("That deal is past the lead stages."),
    "lead.same_owner": N_("{name} already has this lead."),
    "lead.no_team": N_("There is no team called {name}."),
    "lead.no_territory": N_("There is no territory called {name}."),
    "lead.bad_name": N_("Give a name (and a region for a territory), up to 120 characters."),
    "lead.not_a_manager": N_("{login} is not a manager."),
    "lead.bad_threshold": N_("The approval threshold cannot be negative."),
    "lead.territory_exists": N_("The territory {name} already covers that region and "
                                "industry."),
    "lead.not_your_team": N_("That rep is not in your team."),
    "lead.bad_setting": N_("Unknown setting {key}. Known: {known}."),
    "lead.bad_setting_value": N_("{value} is not a sensible value for {key}."),
    "lead.bad_amount": N_("An amount is a number of zero or more."),
    "lead.import_no_company": N_("the company is missing"),
    "lead.import_unknown_company": N_("no company named \"{name}\""),
    "lead.import_unknown_contact": N_("no contact named \"{name}\" at that company"),
}


def _source_word(t: Translator, source: str | None) -> str:
    labels = dict(SOURCES)
    return t(labels[source]) if source in labels else (source or "-")


def lead_summary(session: Session, t: Translator, deal: Deal) -> list[str]:
    company = session.get(Company, deal.company_id)
    contact = session.get(Contact, deal.contact_id) if deal.contact_id else None
    lines = [t("🆕 New lead #{id}: {company}", id=deal.id,
               company=company.name if company else "-")]
    if company is not None and (company.city or company.industry):
        lines.append(" · ".join(p for p in (company.city, company.industry) if p))
    if contact is not None:
        lines.append(t("Contact: {name}", name=contact.name))
    lines.append(t("Need: {need}", need=deal.need or "-"))
    lines.append(t("Source: {source}", source=_source_word(t, deal.source)))
    return lines


# -- /newlead -------------------------------------------------------------------------------
async def newlead_start(ctx: Ctx, inc: Incoming) -> Step:
    if ctx.args.get("company_id", "").isdigit():  # a company just chosen or added
        from core.contacts import visible_company

        return _ask_contact(ctx, visible_company(ctx.session, ctx.user,
                                                 int(ctx.args["company_id"])))
    text = (ctx.args.get("text") or ctx.args.get("company") or "").strip()
    if text:
        return await _company(ctx, text)
    return _ask_company(ctx)


def _ask_company(ctx: Ctx, *, with_form: bool = True) -> Step:
    text = ctx.t("Which company is the lead? Type its name.")
    if not with_form:
        return goto("company", ctx.reply(text))
    return goto("company", _with_form(ctx, text, (), None))


def _with_form(ctx: Ctx, text: str, rows: tuple[tuple[Button, ...], ...],
               company: Company | None, values: dict[str, str] | None = None) -> FormReply:
    """The question with its buttons, plus the lead form (filled with `values` after a
    refusal)."""
    form_row = (Button(ctx.t(FORM_BUTTON), value=FORM_VALUE),)
    return FormReply(text=text, buttons=(*rows, form_row),
                     form=_lead_form(ctx, company, values or {}))


def _lead_form(ctx: Ctx, company: Company | None, values: dict[str, str]) -> Form:
    """All the lead's fields; with the company chosen, its contacts are a choice."""
    t = ctx.t
    fields: list[FormField] = []
    if company is None:
        fields += [
            FormField("company", t("Company"), max_length=120,
                      hint=t("Part of the name is enough."), initial=values.get("company", "")),
            FormField("contact", t("Contact"), required=False, max_length=120,
                      hint=t("A name at that company; empty if none yet."),
                      initial=values.get("contact", "")),
        ]
    else:
        contacts = _contacts_of(ctx, company)[:99]
        fields.append(FormField(
            "contact", t("Contact"), kind="choice",
            options=(*((str(c.id), c.name[:75]) for c in contacts), ("none", t("No contact yet"))),
            initial=values.get("contact", "")))
    fields += [
        FormField("need", t("What does the customer need?"), kind="long_text",
                  max_length=NEED_LIMIT, initial=values.get("need", "")),
        FormField("source", t("Source"), kind="choice",
                  options=tuple((key, t(label)) for key, label in SOURCES),
                  initial=values.get("source", "")),
        FormField("amount", t("Estimated amount (IDR)"), kind="number", required=False,
                  initial=values.get("amount", "")),
    ]
    title = t("New lead") if company is None else t("New lead: {company}",
                                                     company=company.name)
    return Form(title=title, submit_label=t("Save"), value=FORM_VALUE, fields=tuple(fields))


def _contacts_of(ctx: Ctx, company: Company) -> list[Contact]:
    return list(ctx.session.scalars(select(Contact).where(
        Contact.company_id == company.id).order_by(Contact.name)))


def _from_form(ctx: Ctx, values: dict[str, str], company: Company | None,
               question: Step) -> Step:
    """Record the lead from the submitted form. What only the data can refuse (no such
    company, an unclear contact, a negative amount) answers with the reason and the form
    again, filled in; nothing is written then."""
    t = ctx.t
    problem: str | None = None
    contact: Contact | None = None
    if company is None:
        typed = values.get("company", "").strip()
        matches = find_companies(ctx.session, ctx.user, typed, limit=5,
                                 index=ctx.services.contacts) if typed else []
        if not matches:
            problem = t("I found no company like \"{text}\" that you can see. Type another "
                        "name, or add the company first.", text=typed[:60])
        elif len(matches) == 1 or (matches[0].score >= 99 and matches[1].score < 90):
            company = matches[0].company
        else:
            problem = t("\"{text}\" could be {names}. Type more of the name.",
                        text=typed[:60], names=", ".join(m.company.name for m in matches[:4]))
    if company is not None and problem is None:
        typed = values.get("contact", "").strip()
        if typed and typed != "none":
            people = _contacts_of(ctx, company)
            chosen = [c for c in people if str(c.id) == typed] or [
                c for c in people if typed.lower() in c.name.lower()]
            if len(chosen) == 1:
                contact = chosen[0]
            else:
                problem = t("No single contact called \"{name}\" at {company}. Leave it "
                            "empty if there is none yet.", name=typed[:60],
                            company=company.name)
    amount: Decimal | None = None
    if problem is None and values.get("amount"):
        try:
            amount = Decimal(values["amount"])
        except InvalidOperation:
            amount = Decimal(-1)
        if not amount.is_finite() or amount < 0:
            problem = t.error("lead.bad_amount", {})
    need = values.get("need", "").strip()
    source = values.get("source", "").strip()
    if problem is None and (not need or len(need) > NEED_LIMIT or source not in dict(SOURCES)):
        problem = t("Fill in what the customer needs (up to {limit} characters) and pick a "
                    "source.", limit=NEED_LIMIT)
    if problem is not None or company is None:
        rows = question.replies[-1].buttons[:-1] if question.replies else ()
        text = "\n".join([problem or "", t("Correct it in the form, or answer here step by "
                                           "step.")])
        fixed = ctx.session.get(Company, ctx.data["company_id"]) if ctx.data.get(
            "company_id") else None
        return goto(question.next, _with_form(ctx, text, rows, fixed, values))
    return _record(ctx, company, contact, need, source, amount)


NEW_COMPANY = "new"
CLEAR_MATCH = 90.0  # below this a lone match is offered, never taken silently


async def _company(ctx: Ctx, text: str) -> Step:
    t = ctx.t
    matches = find_companies(ctx.session, ctx.user, text, limit=5,
                             index=ctx.services.contacts)
    ctx.data["typed_company"] = text[:120]
    new_row = [Button(t("➕ New company {name}", name=text[:40]), value=NEW_COMPANY)]
    if not matches:
        return goto("company", ctx.reply(t(
            "I found no company like \"{text}\" that you can see. Type another name, or add "
            "it as a new company.", text=text[:60]), new_row))
    if (len(matches) == 1 and matches[0].score >= CLEAR_MATCH) or (
            matches[0].score >= 99 and matches[1].score < 90):
        return _ask_contact(ctx, matches[0].company)
    buttons = [Button(m.company.name[:40], value=str(m.company.id)) for m in matches]
    return goto("company", ctx.reply(t("Which one?"), *button_rows(buttons, 1), new_row))


async def choose_company(ctx: Ctx, inc: Incoming) -> Step:
    values = form_values(inc)
    if values is not None:
        return _from_form(ctx, values, None, _ask_company(ctx))
    if inc.button == FORM_VALUE:  # a door without forms: ask in text
        return _ask_company(ctx, with_form=False)
    if inc.button == NEW_COMPANY:  # add it (duplicate check first), then go on here
        return await ctx.begin("newcompany", name=ctx.data.get("typed_company", ""),
                               then="newlead")
    if inc.button:
        company = ctx.session.get(Company, int(inc.button))
        if company is None:
            return goto("company", ctx.reply(ctx.t("Type the company's name.")))
        return _ask_contact(ctx, company)
    text = (inc.text or "").strip()
    if not text:
        return goto("company", ctx.reply(ctx.t("Type the company's name.")))
    return await _company(ctx, text)


def _ask_contact(ctx: Ctx, company: Company, *, with_form: bool = True) -> Step:
    t = ctx.t
    ctx.data["company_id"] = company.id
    contacts = list(ctx.session.scalars(select(Contact).where(
        Contact.company_id == company.id).order_by(Contact.name).limit(6)))
    buttons = [Button(c.name[:40], value=str(c.id)) for c in contacts]
    buttons.append(Button(t("No contact yet"), value="none"))
    text = t("{company}: who is the contact?", company=company.name)
    if not with_form:
        return goto("contact", ctx.reply(text, *button_rows(buttons, 2)))
    return goto("contact", _with_form(ctx, text, button_rows(buttons, 2), company))


async def choose_contact(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    company_id = ctx.data["company_id"]
    values = form_values(inc)
    if values is not None or inc.button == FORM_VALUE:
        company = ctx.session.get(Company, company_id)
        if company is None:
            return _ask_company(ctx)
        if values is None:  # a door without forms: ask in text
            return _ask_contact(ctx, company, with_form=False)
        return _from_form(ctx, values, company, _ask_contact(ctx, company))
    if inc.button and inc.button != "none":
        ctx.data["contact_id"] = int(inc.button)
    elif inc.button != "none":
        text = (inc.text or "").strip().lower()
        rows = [c for c in ctx.session.scalars(select(Contact).where(
            Contact.company_id == company_id)) if text and text in c.name.lower()]
        if len(rows) != 1:
            return goto("contact", ctx.reply(t("Pick a contact with the buttons (or \"No "
                                               "contact yet\").")))
        ctx.data["contact_id"] = rows[0].id
    return goto("need", ctx.reply(t("What does the customer need?")))


async def ask_need(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    text = (inc.text or "").strip()
    if not text:
        return goto("need", ctx.reply(t("Please type what the customer needs (or /cancel).")))
    if len(text) > 500:
        return goto("need", ctx.reply(t("That is too long: keep it under {limit} characters.",
                                        limit=500)))
    ctx.data["need"] = text
    buttons = [Button(t(label), value=key) for key, label in SOURCES]
    return goto("source", ctx.reply(t("Where did the lead come from? Pick or type it."),
                                    *button_rows(buttons, 3)))


async def ask_source(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    source = inc.button or (inc.text or "").strip()
    if not source or len(source) > 60:
        return goto("source", ctx.reply(t("Pick a source or type it (up to 60 characters).")))
    company = ctx.session.get(Company, ctx.data["company_id"])
    contact = ctx.session.get(Contact, ctx.data["contact_id"]) if ctx.data.get(
        "contact_id") else None
    return _record(ctx, company, contact, ctx.data["need"], source, None)


def _record(ctx: Ctx, company: Company | None, contact: Contact | None, need: str,
            source: str, amount: Decimal | None) -> Step:
    t = ctx.t
    if company is None:
        return _ask_company(ctx)
    lead = leads.create_lead(ctx.session, ctx.user, company=company, contact=contact,
                             need=need, source=source, amount=amount, now=ctx.now)
    text = t("Lead #{id} recorded: {title}.", id=lead.deal.id, title=lead.deal.title)
    if lead.queued or lead.territory is None:
        text += "\n" + t("No territory matches it: it waits in the manager's queue.")
    elif lead.announced:
        text += "\n" + t("Announced in the {territory} team channel; the first to claim it "
                         "gets it.", territory=lead.territory.name)
    else:
        text += "\n" + t("Territory {territory}: it will be allocated to a rep by rule.",
                         territory=lead.territory.name)
    return done(text)


def register(registry: Registry) -> None:
    """Register /newlead and the lead phrasings."""
    registry.add_errors(ERRORS)
    registry.add_phrasings(*leads_phrasings.PHRASINGS)
    registry.add_flow(Flow(
        "newlead", start=newlead_start,
        accepts={"company": "customer", "contact": "customer", "need": "text",
                 "source": "button"},
        states={"company": choose_company, "contact": choose_contact, "need": ask_need,
                "source": ask_source},
        roles=FIELD_ROLES, commands=("newlead",), help=N_("Record a new lead"),
        ongoing=ongoing(N_("Still recording the new lead."))))
