"""Leads: /newlead (company, contact, need, source), the team-channel announcement with a
Claim button (first claim wins), allocation and escalation notices with manager buttons
(reassign, extend, remind the rep).

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

import re
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations.deal import stage_label
from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.messages import (
    Attachment,
    Button,
    Form,
    FormField,
    FormReply,
    Incoming,
    Reply,
    button_rows,
    form_values,
)
from bot.conversations.phrasings import leads as leads_phrasings
from bot.conversations.registry import Registry
from bot.conversations.team import csv_bytes
from bot.conversations.understanding.intents import Phrasings
from bot.i18n import N_, Translator, register_errors
from core import leads
from core import territory as svc
from core.contacts import find_companies
from core.models import Company, Contact, Deal, NoticeRow, Role, Stage, Territory, User

MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})
CLAIMERS = frozenset({Role.REP, Role.MANAGER})
SOURCES = (("website", N_("Website")), ("referral", N_("Referral")), ("event", N_("Event")),
           ("cold_call", N_("Cold call")), ("partner", N_("Partner")))
FORM_VALUE = "form"
FORM_BUTTON = N_("📝 All in one form")
NEED_LIMIT = 500

register_errors({
    "lead.not_your_territory": N_("This lead is for another territory's team."),
    "lead.managers_only": N_("Only the team's manager (or an admin) can do that."),
    "lead.not_a_rep": N_("{login} is not an active rep."),
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
})


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


# -- claims and manager actions -------------------------------------------------------------
async def claim_action(ctx: Ctx, arg: str) -> Step:
    t = ctx.t
    result = leads.claim_lead(ctx.session, ctx.user, arg, ctx.now)
    if result.won:
        return done(t("✅ {name} took lead #{id} ({title}).", name=ctx.user.name,
                      id=result.deal.id, title=result.deal.title))
    who = result.owner.name if result.owner else t("someone")
    if result.owner is not None and result.owner.id == ctx.user.id:
        return done(Reply(t("You already have lead #{id}.", id=result.deal.id),
                          ephemeral=True))
    return done(Reply(t("Too late: {name} already took lead #{id}.", name=who,
                        id=result.deal.id), ephemeral=True))


def _rep_buttons(session: Session, deal: Deal, now) -> list[Button]:
    reps = leads.eligible_reps(session, deal.territory_id, now) if deal.territory_id else []
    if not reps and deal.team_id:
        reps = list(session.scalars(select(User).where(
            User.team_id == deal.team_id, User.role == Role.REP.value, User.active)
            .order_by(User.name)))
    return [Button(r.name[:30], action="lead.give", arg=f"{deal.id}:{r.id}")
            for r in reps[:6] if r.id != deal.owner_id]


async def reassign_action(ctx: Ctx, arg: str) -> Step:
    t = ctx.t
    from core.pipeline import get_deal

    deal = get_deal(ctx.session, ctx.user, arg)
    buttons = _rep_buttons(ctx.session, deal, ctx.now)
    if not buttons:
        return done(t("Nobody else can take lead #{id}.", id=deal.id))
    return done(ctx.reply(t("Give lead #{id} ({title}) to whom?", id=deal.id,
                            title=deal.title), *button_rows(buttons, 2)))


async def give_action(ctx: Ctx, arg: str) -> Step:
    t = ctx.t
    deal_id, _, user_id = arg.partition(":")
    rep = ctx.session.get(User, int(user_id)) if user_id.isdigit() else None
    if rep is None:
        return done(t("That button is no longer valid."))
    deal = leads.reassign(ctx.session, ctx.user, deal_id, rep.login, ctx.now)
    assert deal.contact_by is not None  # a reassigned lead always gets a contact-by date
    return done(t("Lead #{id} now belongs to {name}; contact by {when}.", id=deal.id,
                  name=rep.name, when=t.datetime(deal.contact_by)))


async def extend_action(ctx: Ctx, arg: str) -> Step:
    deal = leads.extend_contact_by(ctx.session, ctx.user, arg, ctx.now)
    assert deal.contact_by is not None  # extending sets it
    return done(ctx.t("Lead #{id}: contact by moved to {when}.", id=deal.id,
                      when=ctx.t.datetime(deal.contact_by)))


async def remind_action(ctx: Ctx, arg: str) -> Step:
    deal = leads.remind_rep(ctx.session, ctx.user, arg, ctx.now)
    owner = ctx.session.get(User, deal.owner_id) if deal.owner_id is not None else None
    return done(ctx.t("I reminded {name} about lead #{id}.",
                      name=owner.name if owner is not None else "-", id=deal.id))


# -- notices --------------------------------------------------------------------------------
def _deal(session: Session, notice: NoticeRow) -> Deal | None:
    return session.get(Deal, int(notice.params.get("deal_id", 0)))


def render_announce(session: Session, notice: NoticeRow, user: User | None, t: Translator
                    ) -> Reply | None:
    deal = _deal(session, notice)
    if deal is None:
        return None
    lines = lead_summary(session, t, deal)
    if deal.owner_id is not None:
        owner = session.get(User, deal.owner_id)
        lines.append(t("Taken by {name}.", name=owner.name if owner else "-"))
        return Reply("\n".join(lines))
    return Reply.with_buttons("\n".join(lines),
                              [Button(t("Claim"), action="lead.claim", arg=str(deal.id))])


def render_assigned(session: Session, notice: NoticeRow, user: User | None, t: Translator
                    ) -> Reply | None:
    deal = _deal(session, notice)
    if deal is None or user is None or deal.owner_id != user.id:
        return None
    lines = lead_summary(session, t, deal)
    lines[0] = t("📥 Lead #{id} is yours: {title}", id=deal.id, title=deal.title)
    if deal.contact_by:
        lines.append(t("Contact by {when}.", when=t.datetime(deal.contact_by)))
    return Reply("\n".join(lines))


def render_unassigned(session: Session, notice: NoticeRow, user: User | None, t: Translator
                      ) -> Reply | None:
    deal = _deal(session, notice)
    if deal is None or deal.owner_id is not None:
        return None
    lines = lead_summary(session, t, deal)
    lines.append(t("Nobody could take it by rule: please assign it."))
    buttons = _rep_buttons(session, deal, notice.due_at)
    return Reply.with_buttons("\n".join(lines), *button_rows(buttons, 2))


def render_escalation(session: Session, notice: NoticeRow, user: User | None, t: Translator
                      ) -> Reply | None:
    deal = _deal(session, notice)
    if deal is None or deal.stage not in (Stage.OPPORTUNITY.value, Stage.LEAD_ALLOCATED.value):
        return None
    owner = session.get(User, deal.owner_id) if deal.owner_id else None
    company = session.get(Company, deal.company_id)
    text = "\n".join([
        t("⚠️ Lead #{id} ({company}) was not contacted in time.", id=deal.id,
          company=company.name if company else "-"),
        t("Owner: {name} · contact by {when} · stage {stage}",
          name=owner.name if owner else "-",
          when=t.datetime(deal.contact_by) if deal.contact_by else "-",
          stage=stage_label(t, deal.stage))])
    return Reply.with_buttons(text, [
        Button(t("Reassign"), action="lead.reassign", arg=str(deal.id)),
        Button(t("Extend"), action="lead.extend", arg=str(deal.id)),
        Button(t("Remind the rep"), action="lead.remind", arg=str(deal.id))])


def render_reminder(session: Session, notice: NoticeRow, user: User | None, t: Translator
                    ) -> Reply | None:
    deal = _deal(session, notice)
    if deal is None or user is None or deal.owner_id != user.id:
        return None
    company = session.get(Company, deal.company_id)
    return Reply(t("🔔 {by} reminds you to contact lead #{id} ({company}) and log it with "
                   "/visit.", by=notice.params.get("by", "-"), id=deal.id,
                   company=company.name if company else "-"))


async def leads_queue(ctx: Ctx, inc: Incoming) -> Step:
    """Managers: leads without an owner (the queue) and leads past their contact-by date."""
    t = ctx.t
    from core.pipeline import find_deals

    open_leads = [d for d in find_deals(ctx.session, ctx.user, "", limit=200)
                  if d.stage in (Stage.OPPORTUNITY.value, Stage.LEAD_ALLOCATED.value)]
    waiting = [d for d in open_leads if d.owner_id is None][:8]
    late = [d for d in open_leads if d.owner_id is not None and d.contact_by is not None
            and d.contact_by <= ctx.now][:8]
    if not waiting and not late:
        return done(t("No leads wait for you: every lead has an owner in time."))
    lines: list[str] = []
    buttons: list[Button] = []
    if waiting:
        lines.append(t("Without an owner:"))
        for d in waiting:
            lines.append(f"#{d.id} {d.title}")
            buttons.append(Button(t("Assign #{id}", id=d.id), action="lead.reassign",
                                  arg=str(d.id)))
    if late:
        lines.append(t("Not contacted in time:"))
        for d in late:
            owner = ctx.session.get(User, d.owner_id)
            lines.append(t("#{id} {title} · {name} · contact by {when}", id=d.id,
                           title=d.title, name=owner.name if owner else "-",
                           when=t.datetime(d.contact_by) if d.contact_by else "-"))
            buttons.append(Button(t("Reassign #{id}", id=d.id), action="lead.reassign",
                                  arg=str(d.id)))
    return done(ctx.reply("\n".join(lines), *button_rows(buttons, 2)))


# -- admin: territories in chat; managers: deals of a region ---------------------------------
TERRITORY_HELP = N_("Use: /territory list · /territory add NAME | REGION [| INDUSTRY, "
                    "INDUSTRY | TEAM] · /territory industries NAME | INDUSTRY, INDUSTRY · "
                    "/territory rep TERRITORY | LOGIN · /territory unrep TERRITORY | LOGIN")


async def territory_admin(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    text = (ctx.args.get("text") or "list").strip()
    word, _, rest = text.partition(" ")
    parts = [p.strip() for p in rest.split("|")] if rest else []
    word = word.lower()
    if word == "list":
        lines = []
        rows = list(ctx.session.scalars(select(Territory).order_by(Territory.name)))
        covered = svc.industries_of(ctx.session, [r.id for r in rows])
        for row in rows:
            reps = ", ".join(sorted(u.login for u in row.reps)) or "-"
            lines.append(t("{name}: {region} · {industry} · reps {reps}", name=row.name,
                           region=row.region,
                           industry=", ".join(covered.get(row.id, [])) or t("every industry"),
                           reps=reps))
        return done(Reply("\n".join(lines) or t("No territories yet.")))
    if word == "add" and len(parts) >= 2:
        row = svc.upsert_territory(
            ctx.session, ctx.user, parts[0], region=parts[1],
            industries=svc.parse_industries(parts[2]) if len(parts) > 2 and parts[2] else None,
            team=parts[3] if len(parts) > 3 and parts[3] else None)
        return done(t("Territory {name} saved.", name=row.name))
    if word == "industries" and len(parts) == 2:
        row = svc.set_industries(ctx.session, ctx.user, parts[0],
                                 svc.parse_industries(parts[1]))
        names = ", ".join(svc.industries_of(ctx.session, [row.id]).get(row.id, []))
        return done(t("{name} now covers: {industries}.", name=row.name,
                      industries=names or t("every industry")))
    if word in ("rep", "unrep") and len(parts) == 2:
        svc.assign_rep(ctx.session, ctx.user, parts[0], parts[1], remove=word == "unrep")
        return done(t("Saved: {login} in {territory}.", login=parts[1], territory=parts[0])
                    if word == "rep" else
                    t("Saved: {login} no longer in {territory}.", login=parts[1],
                      territory=parts[0]))
    return done(t(TERRITORY_HELP))


async def region_deals(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    from bot.conversations.deal import stage_label
    from core.pipeline import find_deals

    region = (ctx.args.get("region") or ctx.args.get("text") or "").strip()
    if not region:
        return done(t("Say which region, e.g. \"deals in Jakarta\"."))
    deals = find_deals(ctx.session, ctx.user, "", region=region, limit=15)
    if not deals:
        return done(t("No open deals in {region} that you can see.", region=region[:40]))
    lines = [t("Open deals in {region}:", region=region)]
    for deal in deals:
        owner = ctx.session.get(User, deal.owner_id) if deal.owner_id else None
        lines.append(t("#{id} {title} · {stage} · {owner}", id=deal.id, title=deal.title,
                       stage=stage_label(t, deal.stage), owner=owner.name if owner else "-"))
    return done(Reply("\n".join(lines)))


# -- customers and contacts of an area (region, territory, team, industry) --------------------
AREA_PREVIEW = 12
AREA_CSV_LIMIT = 20_000
AREA_HELP = N_("Say where (a region, territory or team) and/or which industry, e.g. \"contacts "
               "in Jakarta\", \"customers in manufacturing in Java West\".")


def _area_text(ctx: Ctx) -> str:
    typed = (ctx.incoming.text or "").strip()
    if typed and not typed.startswith("/") and not ctx.incoming.button:
        return typed
    parts = [ctx.args.get(k, "") for k in ("text", "industry", "region", "team")]
    return " ".join(p for p in parts if p).strip()


def _area_label(t: Translator, area: svc.Area) -> str:
    if area.industry and area.place:
        return t("{industry} in {place}", industry=area.industry, place=area.place)
    return area.industry or area.place or "-"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "area"


async def _area(ctx: Ctx, kind: str) -> Step:
    t = ctx.t
    text = _area_text(ctx)
    area = svc.resolve_area(ctx.session, text)
    if area.empty:
        if text:
            return done(t("I know no region, territory, team or industry like \"{text}\". ",
                          text=text[:60]) + t(AREA_HELP))
        return done(t(AREA_HELP))
    found = svc.area_counts(ctx.session, ctx.user, area)
    label = _area_label(t, area)
    head = t.n("{count} customer", "{count} customers", found.companies) + " · " + t.n(
        "{count} contact", "{count} contacts", found.contacts)
    lines = [t("📍 {area} (that you can see): {counts}", area=label, counts=head)]
    if not found.companies:
        return done("\n".join(lines))
    if found.breakdown and len(found.breakdown) > 1:
        unnamed = t("(no territory)") if area.industry and not area.place else t(
            "(no industry)")
        lines.append(" · ".join(f"{unnamed if name == '-' else name} {n}"
                                for name, n in found.breakdown))
    lines.append("")
    rows: list[list[object]]
    if kind == "contacts":
        header = [t("Name"), t("Company"), t("Department"), t("Job title"), t("Phone"),
                  t("Mobile"), t("E-mail"), t("City"), t("Industry")]
        rows = []
        for contact, company in svc.area_contacts(ctx.session, ctx.user, area,
                                                  limit=AREA_CSV_LIMIT):
            rows.append([contact.name, company.name, contact.department, contact.job_title,
                         contact.phone, contact.mobile, contact.email, company.city,
                         company.industry])
        for row in rows[:AREA_PREVIEW]:
            lines.append(f"• {row[0]} · {row[1]}" + (f" · {row[2]}" if row[2] else "")
                         + (f" · {row[4] or row[5]}" if row[4] or row[5] else ""))
        shown = found.contacts
    else:
        header = [t("Company"), t("Industry"), t("City"), t("Territory"), t("Owner"),
                  t("Phone"), t("E-mail"), t("Last contacted")]
        names = {tid: name for tid, name in ctx.session.execute(
            select(Territory.id, Territory.name))}
        owners: dict[int, str] = {}
        rows = []
        for company in svc.area_companies(ctx.session, ctx.user, area, limit=AREA_CSV_LIMIT):
            if company.owner_id and company.owner_id not in owners:
                owner = ctx.session.get(User, company.owner_id)
                owners[company.owner_id] = owner.name if owner else "-"
            rows.append([company.name, company.industry, company.city,
                         names.get(company.territory_id or 0, ""),
                         owners.get(company.owner_id or 0, ""), company.phone, company.email,
                         t.date(company.last_contacted_at) if company.last_contacted_at
                         else ""])
        for row in rows[:AREA_PREVIEW]:
            lines.append(f"• {row[0]} · {row[1] or '-'} · {row[2] or '-'}"
                         + (f" · {row[4]}" if row[4] else ""))
        shown = found.companies
    if shown > AREA_PREVIEW:
        lines.append(t("… and {count} more in the CSV.", count=shown - AREA_PREVIEW))
    if shown > AREA_CSV_LIMIT:
        lines.append(t("The CSV holds the first {limit}.", limit=AREA_CSV_LIMIT))
    name = f"{kind}-{_slug(label)}.csv"
    data = csv_bytes(header, rows)
    return done(Reply("\n".join(lines), attachment=Attachment(name, data, "text/csv")))


async def area_contacts(ctx: Ctx, inc: Incoming) -> Step:
    return await _area(ctx, "contacts")


async def area_customers(ctx: Ctx, inc: Incoming) -> Step:
    return await _area(ctx, "customers")


AREA_CONTACTS_EN = (
    "contacts in {region}", "show me the contacts in {region}", "list contacts in {region}",
    "who are our contacts in {region}", "contacts of the {region} territory",
    "all contacts in {region}", "contacts of {text} customers in {region}",
    "people we know in {region}", "contacts in {text} in {region}", "give me {region} contacts",
    "export the contacts of {region}", "contacts in the {text} industry",
    "which contacts do we have in {region}", "contact list for {region}",
    "{region} contacts please", "contacts at {text} companies in {region}",
    "people we know in {region}",
    "all the contacts around {region}",
)
AREA_CONTACTS_ID = (
    "kontak di {region}", "kontak di wilayah {region}", "daftar kontak di {region}",
    "tampilkan kontak wilayah {region}", "siapa saja kontak kita di {region}",
    "kontak {region} dong", "semua kontak di daerah {region}", "kontak pelanggan {text} di "
    "{region}", "minta daftar kontak {region}", "kontak industri {text}",
    "kontak di bidang {text} wilayah {region}", "ada kontak siapa aja di {region}",
    "ekspor kontak {region}", "lihat kontak di {region}", "kontak perusahaan {text} di {region}",
    "orang yang kita kenal di {region}",
)
AREA_CUSTOMERS_EN = (
    "customers in {region}", "customers in {text} in {region}", "list customers in {region}",
    "show me the accounts in {region}", "which companies do we have in {region}",
    "all customers of the {region} territory", "accounts in {text} in {region}",
    "customers in the {text} industry", "{text} customers in {region}",
    "companies in {region}", "clients in {region}", "export the customers of {region}",
    "how many customers in {region}", "our accounts in {region}",
    "customer list for {text} in {region}", "{region} customers please",
)
AREA_CUSTOMERS_ID = (
    "pelanggan di {region}", "pelanggan di wilayah {region}", "daftar pelanggan di {region}",
    "pelanggan {text} di {region}", "perusahaan di wilayah {region}",
    "tampilkan akun di {region}", "pelanggan industri {text}", "berapa pelanggan di {region}",
    "semua pelanggan daerah {region}", "klien di {region}", "pelanggan {region} dong",
    "ekspor pelanggan {region}", "akun {text} di wilayah {region}",
    "pelanggan bidang {text} di {region}", "lihat perusahaan {text} di {region}",
    "ada pelanggan apa aja di {region}",
)


def register(registry: Registry) -> None:
    """Register /newlead, the claim and manager actions, and the lead notices."""
    registry.add_phrasings(*leads_phrasings.PHRASINGS)
    registry.add_flow(Flow(
        "newlead", start=newlead_start,
        accepts={"company": "customer", "contact": "customer", "need": "text",
                 "source": "button"},
        states={"company": choose_company, "contact": choose_contact, "need": ask_need,
                "source": ask_source},
        roles=FIELD_ROLES, commands=("newlead",), help=N_("Record a new lead"),
        ongoing=ongoing(N_("Still recording the new lead."))))
    registry.add_flow(Flow("leads", start=leads_queue, roles=MANAGERS, commands=("leads",),
                           help=N_("Leads waiting for an owner or overdue")))
    registry.add_flow(Flow("territory", start=territory_admin,
                           roles=frozenset({Role.ADMIN}), commands=("territory",),
                           help=N_("Territories and their reps (admin)")))
    registry.add_flow(Flow("region_deals", start=region_deals, roles=MANAGERS,
                           commands=("region",), help=N_("Open deals of a region: /region NAME")))
    registry.add_flow(Flow("area_contacts", start=area_contacts, roles=FIELD_ROLES,
                           commands=("contacts",),
                           help=N_("Contacts of a region, territory, team or industry (CSV)")))
    registry.add_flow(Flow("area_customers", start=area_customers, roles=FIELD_ROLES,
                           commands=("customers",),
                           help=N_("Customers of a region, territory, team or industry (CSV)")))
    registry.add_phrasings(Phrasings("area_contacts", flow="area_contacts",
                                     slots=("region", "text"), en=AREA_CONTACTS_EN,
                                     id=AREA_CONTACTS_ID, label=N_("Contacts of an area")))
    registry.add_phrasings(Phrasings("area_customers", flow="area_customers",
                                     slots=("region", "text"), en=AREA_CUSTOMERS_EN,
                                     id=AREA_CUSTOMERS_ID, label=N_("Customers of an area")))
    registry.add_action(Action("lead.claim", claim_action, roles=CLAIMERS, group_ok=True))
    registry.add_action(Action("lead.reassign", reassign_action, roles=MANAGERS))
    registry.add_action(Action("lead.give", give_action, roles=MANAGERS))
    registry.add_action(Action("lead.extend", extend_action, roles=MANAGERS))
    registry.add_action(Action("lead.remind", remind_action, roles=MANAGERS))
    registry.add_notice("lead.announce", render_announce)
    registry.add_notice("lead.assigned", render_assigned)
    registry.add_notice("lead.unassigned", render_unassigned)
    registry.add_notice("lead.escalation", render_escalation)
    registry.add_notice("lead.reminder", render_reminder)
