"""Contact and company lookup: questions in plain words, /find, /contact, /company.

Every question resolves its customer with the fuzzy index (core.contacts); when the best
match is not clearly ahead the bot asks "did you mean" with buttons instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, goto
from bot.conversations.messages import Attachment, Button, Incoming, Reply, button_rows
from bot.conversations.phrasings import lookup as lookup_phrasings
from bot.conversations.registry import Registry
from bot.i18n import N_, Translator
from core import activities
from core import contacts as svc
from core.errors import DomainError
from core.models import Company, Contact

KIND_LABELS = {"visit": N_("visit"), "call": N_("call"), "meeting": N_("meeting"),
               "email": N_("e-mail"), "follow_up": N_("follow-up")}
OUTCOME_LABELS = {"positive": N_("positive"), "neutral": N_("neutral"),
                  "negative": N_("not interested"), "no_answer": N_("not reached")}
DEPARTMENT_LABELS = {"Purchasing": N_("Purchasing"), "Finance": N_("Finance"), "IT": N_("IT"),
                     "Operations": N_("Operations"), "Management": N_("Management"),
                     "HR": N_("HR"), "Marketing": N_("Marketing")}
REASON_LABELS = {"bought": N_("bought this category before"),
                 "industry": N_("industry fits"), "segment": N_("segment fits")}

ERRORS = {
    "contacts.not_found": N_("I found nothing you can see by that name."),
    "contacts.product_not_found": N_(
        "I know no product like \"{product}\". Type its SKU or part of its name."),
}

# question -> what it needs resolved ("any", "company", "contact", "product")
WANTS = {"find": "any", "company": "company", "contact": "any", "handles": "company",
         "billing": "company", "last": "any", "next": "any", "targets": "product",
         "brochure": "product"}
PROMPTS = {"any": N_("Which customer? Type a name, part of it, or a phone number."),
           "company": N_("Which company? Type its name or part of it."),
           "product": N_("Which product? Type its SKU or name.")}


# -- resolving ------------------------------------------------------------------------------
def _index(ctx: Ctx):
    return ctx.services.contacts


def _matches(ctx: Ctx, text: str, want: str) -> list[svc.Match]:
    if want == "company":
        return [svc.Match("company", m.company, m.score)
                for m in svc.find_companies(ctx.session, ctx.user, text, 5, index=_index(ctx))]
    return svc.find_any(ctx.session, ctx.user, text, 5, index=_index(ctx))


def _label(ctx: Ctx, m: svc.Match) -> str:
    if m.kind == "company":
        c: Company = m.record
        return f"{company_name(c)} · {c.city or ''}".strip(" ·")[:60]
    p: Contact = m.record
    return f"{p.name} · {company_name(p.company)}"[:60]


def material_label(t: Translator, material: str, product: str | None = None,
                   session: Session | None = None) -> str:
    """Material sent, in words ("Server X1 brochure"), never its key ("brochure:SRV-X1");
    the product's name is read when not given and a session is."""
    kind, _, ref = material.partition(":")
    if kind == "brochure" and ref:
        if product is None and session is not None:
            product = svc.product_name(session, ref)
        return t("{product} brochure", product=product or ref)
    return material


def company_name(company: Company) -> str:
    if company.legal_form and company.legal_form in ("PT", "CV"):
        return f"{company.legal_form} {company.name}"
    if company.legal_form:
        return f"{company.name} {company.legal_form}"
    return company.name


async def _start_question(ctx: Ctx, q: str) -> Step:
    ctx.data["q"] = q
    for key in ("dept", "product"):
        if ctx.args.get(key):
            ctx.data[key] = ctx.args[key]
    text = (ctx.args.get("text") or "").strip()
    want = WANTS[q]
    if want != "product" and (named := _named(ctx, q)) is not None:
        return _answer(ctx, q, named)
    if want == "product":
        text = _clean_product(ctx.args.get("product") or text)
        if not text:
            return goto("query", ctx.t(PROMPTS[want]))
        return _answer_product(ctx, q, text)
    if not text:
        return goto("query", ctx.t(PROMPTS[want]))
    return _resolve_and_answer(ctx, q, text)


def match_value(m: svc.Match) -> str:
    """A "did you mean" button's value: c<company id> or p<contact id> (two people can share a
    name, and a company and a person can share an id)."""
    return f"{'c' if m.kind == 'company' else 'p'}{m.record.id}"


def _named(ctx: Ctx, q: str) -> svc.Match | None:
    """The customer the message named, when the understanding found it exactly."""
    for kind in ("contact", "company"):
        raw = ctx.args.get(f"{kind}_id", "")
        if not raw.isdigit():
            continue
        try:
            if kind == "company":
                return svc.Match(kind, svc.visible_company(ctx.session, ctx.user, int(raw)),
                                 100.0)
            contact = svc.visible_contact(ctx.session, ctx.user, int(raw))
        except DomainError:
            return None  # out of the user's scope: resolved (and told) by name below
        if WANTS[q] == "company":
            return svc.Match("company", contact.company, 100.0)
        return svc.Match(kind, contact, 100.0)
    return None


def _resolve_and_answer(ctx: Ctx, q: str, text: str) -> Step:
    text = text.strip().strip("?!.\"'“”").strip()
    matches = _matches(ctx, text, WANTS[q])
    if not matches:
        elsewhere = svc.handled_elsewhere(ctx.session, ctx.user, text, _index(ctx))
        if elsewhere is not None:
            return done(ctx.t(
                "{company} is handled by another team, so I cannot show it to you. Ask your "
                "manager if you need it.", company=company_name(elsewhere)))
        return done(ctx.t(
            "I found no customer named \"{query}\" that you can see. Check the spelling, "
            "or try part of the name or a phone number. /help lists everything I can do.",
            query=text[:60]))
    if svc.is_clear(matches, query=text):
        return _answer(ctx, q, matches[0])
    buttons = [Button(_label(ctx, m), value=match_value(m)) for m in matches]
    buttons.append(Button(ctx.t("None of these"), value="none"))
    return goto("pick", ctx.reply(ctx.t("Did you mean…?"), *button_rows(buttons, 1)))


async def on_query(ctx: Ctx, inc: Incoming) -> Step:
    text = (inc.text or "").strip()
    if not text:
        return goto("query", ctx.t(PROMPTS[WANTS[ctx.data["q"]]]))
    if WANTS[ctx.data["q"]] == "product":
        return _answer_product(ctx, ctx.data["q"], _clean_product(text))
    customer = ctx.understanding.customer if ctx.understanding is not None else None
    if customer is not None:
        # The customer the answer names, not the whole sentence: "who handles Sinar Jaya
        # Abadi?" typed at "Did you mean…?" is answered about Sinar Jaya Abadi.
        if customer.record_id is not None and not customer.ambiguous:
            ctx.args = {**ctx.args, f"{customer.kind}_id": str(customer.record_id)}
            if (named := _named(ctx, ctx.data["q"])) is not None:
                return _answer(ctx, ctx.data["q"], named)
        text = customer.text
    return _resolve_and_answer(ctx, ctx.data["q"], text)


async def on_pick(ctx: Ctx, inc: Incoming) -> Step:
    value = inc.button or ""
    if not value:
        # A typed answer: treat it as a new search for the same question.
        return await on_query(ctx, inc)
    if value == "none":
        return done(ctx.t("OK. Try again with more of the name, or a phone number."))
    kind = "company" if value[0] == "c" else "contact"
    if not value[1:].isdigit():
        raise DomainError("contacts.not_found")
    record_id = int(value[1:])
    record = (svc.visible_company(ctx.session, ctx.user, record_id) if kind == "company"
              else svc.visible_contact(ctx.session, ctx.user, record_id))
    return _answer(ctx, ctx.data["q"], svc.Match(kind, record, 100.0))


# -- answers ----------------------------------------------------------------------------------
def _answer(ctx: Ctx, q: str, m: svc.Match) -> Step:
    answer: Callable[[Ctx, svc.Match], Step] = {
        "find": _answer_card, "company": _answer_company, "contact": _answer_contact,
        "handles": _answer_handles, "billing": _answer_billing, "last": _answer_last,
        "next": _answer_next,
    }[q]
    return answer(ctx, m)


def _answer_card(ctx: Ctx, m: svc.Match) -> Step:
    if m.kind == "company":
        return _answer_company(ctx, m)
    return done(contact_card(ctx, m.record))


def contact_card(ctx: Ctx, p: Contact) -> Reply:
    t = ctx.t
    lines = [f"👤 {p.name}"]
    role = ", ".join(x for x in (p.job_title, t(DEPARTMENT_LABELS.get(p.department or "", ""))
                                 if p.department else None) if x)
    lines.append(t("{role} at {company}", role=role, company=company_name(p.company))
                 if role else company_name(p.company))
    if p.is_decision_maker:
        lines.append(t("Decision maker"))
    if p.mobile:
        lines.append(t("Mobile: {phone}", phone=p.mobile))
    if p.phone:
        lines.append(t("Phone: {phone}", phone=p.phone))
    if p.email:
        lines.append(t("E-mail: {email}", email=p.email))
    if p.last_contacted_at:
        lines.append(t("Last contacted: {date}", date=t.date(p.last_contacted_at)))
    return ctx.reply("\n".join(lines), [
        Button(t("vCard"), action="contact.vcard", arg=str(p.id)),
        Button(t("Log visit"), action="visit.contact", arg=str(p.id)),
        Button(t("✏️ Edit"), action="customers.edit", arg=str(p.id)),
    ])


def _answer_company(ctx: Ctx, m: svc.Match) -> Step:
    t = ctx.t
    c: Company = m.company
    if m.kind == "contact":
        return done(contact_card(ctx, m.record))
    profile = svc.company_profile(ctx.session, ctx.user, c)
    lines = [f"🏢 {company_name(c)}"]
    facts = [x for x in (c.industry, c.segment) if x]
    if c.employees:
        facts.append(t.n("{count} employee", "{count} employees", c.employees))
    if facts:
        lines.append(" · ".join(facts))
    lines.append(t("Territory: {territory} · Owner: {owner}",
                   territory=c.territory.name if c.territory else "-",
                   owner=c.owner.name if c.owner else "-"))
    if profile.open_deals:
        lines.append(t.n("{count} open deal worth {amount}", "{count} open deals worth {amount}",
                         profile.open_deals, amount=t.money(profile.open_amount, "IDR")))
    else:
        lines.append(t("No open deals."))
    if c.phone:
        lines.append(t("Phone: {phone}", phone=c.phone))
    if c.head_office_address:
        lines.append(t("Head office: {address}", address=c.head_office_address))
    people = svc.contacts_of(ctx.session, c)[:4]
    buttons = [Button(p.name[:40], action="contact.card", arg=str(p.id)) for p in people]
    if people:
        lines.append(t("Contacts:"))
        lines.extend(f"• {_person_line(ctx, p)}" for p in people)
    return done(ctx.reply("\n".join(lines), *button_rows(buttons, 2)))


def _person_line(ctx: Ctx, p: Contact) -> str:
    t = ctx.t
    bits = [p.name]
    if p.job_title:
        bits.append(p.job_title)
    phone = p.mobile or p.phone
    if phone:
        bits.append(phone)
    line = " — ".join(bits)
    return line + (f" ({t('decision maker')})" if p.is_decision_maker else "")


def _answer_handles(ctx: Ctx, m: svc.Match) -> Step:
    t = ctx.t
    c = m.company
    owner = c.owner.name if c.owner else t("nobody yet")
    lines = [t("{company} is handled by {owner}.", company=company_name(c), owner=owner)]
    dept_text = ctx.data.get("dept")
    dept = svc.department_for(dept_text) if dept_text else None
    if dept_text and dept is None and dept_text.lower() not in ("sales", "penjualan", "account"):
        lines.append(t("I do not know the department \"{department}\".",
                       department=dept_text[:30]))
    people = svc.contacts_of(ctx.session, c, dept)
    if dept:
        label = t(DEPARTMENT_LABELS[dept])
        if people:
            lines.append(t("{department} at {company}:", department=label,
                           company=company_name(c)))
        else:
            lines.append(t("No contact in {department} at {company} yet.", department=label,
                           company=company_name(c)))
    else:
        people = [p for p in people if p.is_decision_maker] or people[:2]
        if people:
            lines.append(t("Main contacts:"))
    lines.extend(f"• {_person_line(ctx, p)}" for p in people[:5])
    buttons = [Button(t("vCard {name}", name=p.name)[:40], action="contact.vcard",
                      arg=str(p.id)) for p in people[:4]]
    return done(ctx.reply("\n".join(lines), *button_rows(buttons, 1)))


def _answer_contact(ctx: Ctx, m: svc.Match) -> Step:
    t = ctx.t
    if m.kind == "contact":
        return done(contact_card(ctx, m.record))
    c = m.company
    people = svc.contacts_of(ctx.session, c)[:5]
    lines = [t("Sales agent for {company}: {owner}", company=company_name(c),
               owner=c.owner.name if c.owner else t("nobody yet"))]
    if c.owner and c.owner.phone:
        lines[-1] += f" ({c.owner.phone})"
    if people:
        lines.append(t("Contacts at {company}:", company=company_name(c)))
        lines.extend(f"• {_person_line(ctx, p)}" for p in people)
    else:
        lines.append(t("No contacts recorded at {company}.", company=company_name(c)))
    buttons = [Button(t("vCard {name}", name=p.name)[:40], action="contact.vcard",
                      arg=str(p.id)) for p in people[:4]]
    return done(ctx.reply("\n".join(lines), *button_rows(buttons, 1)))


def _answer_billing(ctx: Ctx, m: svc.Match) -> Step:
    t = ctx.t
    c = m.company
    dash = "-"
    lines = [t("Addresses of {company}:", company=company_name(c)),
             t("Bills go to: {address}", address=c.billing_address or dash),
             t("Paying office: {office}", office=c.billing_office or dash),
             t("Head office: {address}", address=c.head_office_address or dash),
             t("Deliveries: {address}", address=c.delivery_address or dash)]
    return done("\n".join(lines))


def _answer_last(ctx: Ctx, m: svc.Match) -> Step:
    t = ctx.t
    contact = m.record if m.kind == "contact" else None
    who = contact.name if contact else company_name(m.company)
    mine, anyone = activities.last_contact(ctx.session, ctx.user, m.company, contact)
    if mine is not None:
        text = t("You last contacted {who} on {date} ({kind}).", who=who,
                 date=t.date(mine.occurred_at), kind=t(KIND_LABELS.get(mine.kind, mine.kind)))
        if mine.outcome:
            text += " " + t("Outcome: {outcome}.",
                            outcome=t(OUTCOME_LABELS.get(mine.outcome, mine.outcome)))
        return done(text)
    if anyone is not None:
        return done(t("You have not logged any contact with {who}. The last contact was on "
                      "{date} by {name}.", who=who, date=t.date(anyone.occurred_at),
                      name=anyone.user.name))
    return done(t("Nobody has logged any contact with {who} yet.", who=who))


def _answer_next(ctx: Ctx, m: svc.Match) -> Step:
    t = ctx.t
    contact = m.record if m.kind == "contact" else None
    who = contact.name if contact else company_name(m.company)
    nxt = activities.next_contact(ctx.session, ctx.user, m.company, contact)
    if nxt is None:
        return done(t("You have no next contact planned with {who}. Log a visit or call to "
                      "plan one.", who=who))
    kind = t(KIND_LABELS.get(nxt.kind, nxt.kind))
    if nxt.due_at <= ctx.now:
        text = t("Your next {kind} with {who} was due {when} and is overdue.", kind=kind,
                 who=who, when=t.datetime(nxt.due_at))
    else:
        text = t("Your next {kind} with {who}: {when}.", kind=kind, who=who,
                 when=t.datetime(nxt.due_at))
    if nxt.note:
        text += "\n" + nxt.note
    return done(text)


_PRODUCT_NOISE = re.compile(
    r"^(?:(?:the\s+)?promotion\s+(?:of\s+)?|promoting\s+|promosi\s+)?"
    r"(?:(?:the\s+)?product\s+|produk\s+)?", re.IGNORECASE)


def _clean_product(text: str) -> str:
    return _PRODUCT_NOISE.sub("", (text or "").strip()).strip(" ?!.\"'")


def _answer_product(ctx: Ctx, q: str, text: str) -> Step:
    t = ctx.t
    product = svc.resolve_product(ctx.session, text)
    if q == "brochure":
        rows = svc.materials_for(ctx.session, ctx.user, product)
        if not rows:
            return done(t("Nobody you can see has received material for {product} yet.",
                          product=product.name))
        lines = [t("Material sent for {product}:", product=product.name)]
        for r in rows[:15]:
            to = r.contact.name if r.contact else "-"
            lines.append(t("• {date}: {material} to {contact} ({company}) by {user}",
                           date=t.date(r.material.sent_at),
                           material=material_label(t, r.material.material, product.name),
                           contact=to, company=company_name(r.company),
                           user=r.sent_by.name if r.sent_by else "-"))
        return done("\n".join(lines))
    targets = svc.promotion_targets(ctx.session, ctx.user, product)
    if not targets:
        return done(t("I found no customer in your territories to target for {product}.",
                      product=product.name))
    lines = [t("Customers to target for {product} (none has received its brochure yet):",
               product=product.name)]
    for target in targets:
        c = target.company
        why = ", ".join(t(REASON_LABELS[r]) for r in target.reasons)
        lines.append(f"• {company_name(c)} ({c.industry or '-'}, {c.city or '-'}) — {why}")
    return done("\n".join(lines))


# -- actions ----------------------------------------------------------------------------------
async def vcard_action(ctx: Ctx, arg: str) -> Step:
    """The contact card as the phone's own "add contact" (a vCard without words: Telegram
    sends it with sendContact), the .vcf file one tap away."""
    contact = svc.visible_contact(ctx.session, ctx.user, _int(arg))
    return done(Reply(attachment=Attachment(svc.vcard_filename(contact), svc.vcard(contact),
                                            "text/vcard"),
                      buttons=((Button(ctx.t("📎 .vcf file"), action="contact.vcf",
                                       arg=str(contact.id)),),)))


async def vcf_action(ctx: Ctx, arg: str) -> Step:
    """The contact card as a .vcf file (to forward, or import elsewhere)."""
    contact = svc.visible_contact(ctx.session, ctx.user, _int(arg))
    return done(Reply(ctx.t("Contact card of {name}.", name=contact.name),
                      attachment=Attachment(svc.vcard_filename(contact), svc.vcard(contact),
                                            "text/vcard")))


async def card_action(ctx: Ctx, arg: str) -> Step:
    contact = svc.visible_contact(ctx.session, ctx.user, _int(arg))
    return done(contact_card(ctx, contact))


def _int(arg: str) -> int:
    try:
        return int(arg)
    except ValueError:
        raise DomainError("contacts.not_found") from None


# -- choosing a company (a step that asks "which customer?") ---------------------------------
def _find_companies(ctx: Ctx, text: str) -> list[Company]:
    matches = svc.find_companies(ctx.session, ctx.user, text, limit=5,
                                 index=ctx.services.contacts)
    if matches and svc.is_clear(matches):
        return [matches[0].company]
    return [m.company for m in matches] or svc.companies_named(ctx.session, ctx.user, text)


async def pick_company(ctx: Ctx, inc: Incoming) -> Step | Company:
    """The company a step's answer names (a pressed "co:ID" button or typed words); else the
    step that asks again (state "company") or offers the candidates as buttons."""
    if inc.button and inc.button.startswith("co:"):
        company = ctx.session.get(Company, int(inc.button[3:]))
        if company is not None:
            return company
    text = (inc.text or "").strip()
    if not text:
        return goto("company", ctx.t("Which company? Type part of its name."))
    found = _find_companies(ctx, text)
    if not found:
        return goto("company", ctx.t("I found no company like \"{text}\" among your accounts. "
                                     "Try another part of the name, or /cancel.",
                                     text=text[:40]))
    if len(found) == 1:
        return found[0]
    buttons = [Button(c.name[:40], value=f"co:{c.id}") for c in found]
    return goto("company", ctx.reply(ctx.t("Which one?"), *button_rows(buttons, 1)))


def main_contact(session: Session, company: Company) -> Contact | None:
    """The company's decision maker, else its first contact."""
    return session.scalar(select(Contact).where(Contact.company_id == company.id)
                          .order_by(Contact.is_decision_maker.desc(), Contact.id).limit(1))


# -- registration -----------------------------------------------------------------------------
def _flow(name: str, q: str, commands: tuple[str, ...] = (), help_text: str = "") -> Flow:
    async def start(ctx: Ctx, inc: Incoming) -> Step:
        return await _start_question(ctx, q)

    return Flow(name, start=start, states={"query": on_query, "pick": on_pick},
                accepts={"query": "any" if WANTS[q] == "product" else "customer",
                         "pick": "button"},
                roles=FIELD_ROLES, commands=commands, help=help_text)


_END = r"\s*[?.!]*\s*$"
_S = r"(?:'s|’s|'|’)"


def register(registry: Registry) -> None:
    """Register the lookup flows, their intents (EN + ID) and the contact actions."""
    registry.add_errors(ERRORS)
    registry.add_phrasings(*lookup_phrasings.PHRASINGS)
    registry.add_flow(_flow("lookup", "find", ("find",),
                            N_("Find a customer or contact (typos and phone numbers are fine)")))
    registry.add_flow(_flow("ask_company", "company", ("company",),
                            N_("What a company is: industry, territory, owner, open deals")))
    registry.add_flow(_flow("ask_contact", "contact", ("contact",),
                            N_("A customer's contacts and sales agent, with phone numbers")))
    registry.add_flow(_flow("ask_handles", "handles"))
    registry.add_flow(_flow("ask_billing", "billing"))
    registry.add_flow(_flow("ask_last", "last"))
    registry.add_flow(_flow("ask_next", "next"))
    registry.add_flow(_flow("ask_targets", "targets"))
    registry.add_flow(_flow("ask_brochure", "brochure"))
    registry.add_action(Action("contact.vcard", vcard_action, roles=FIELD_ROLES))
    registry.add_action(Action("contact.vcf", vcf_action, roles=FIELD_ROLES))
    registry.add_action(Action("contact.card", card_action, roles=FIELD_ROLES))

