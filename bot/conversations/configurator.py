"""The guided configurator: "configure a solution for Utama Indah" / "konfigurasi solusi".

The customer (and their deal), the product family, then only the questions that matter, one
at a time with buttons ([Not sure] takes the family's default, [⬅ Back] undoes the last
answer); the bill of materials in two alternatives with their totals; one tap makes the
quote through the quote service (its PDF). Each proposal is kept on the deal as a revision;
configuring that deal again offers to revise it with its answers.

```mermaid
stateDiagram-v2
    [*] --> customer
    customer --> deal
    deal --> reopen: the deal has a configuration
    deal --> family
    reopen --> change: Revise
    reopen --> family: Start over
    family --> question
    question --> question: an answer, Not sure, Back
    question --> proposal: nothing more to ask
    proposal --> change: Change an answer
    change --> question
    change --> proposal: Propose again
    proposal --> [*]: Quote (the PDF)
```
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.conversations.flow import FIELD_ROLES, Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.messages import Button, Incoming, button_rows, shorten
from bot.conversations.quote_card import quote_reply
from bot.conversations.registry import Registry
from bot.conversations.understanding.intents import Phrasings
from bot.i18n import N_
from core import config_families as families
from core import configurator as svc
from core.contacts import find_companies
from core.errors import NotFound
from core.models import OPEN_STAGES, Company, Deal
from core.models.configurator import ConfigFamily, Configuration
from core.models.quotes import Quote
from core.quotes import price_list_for
from core.scope import can_see_company, deal_visible

ERRORS = {
    "config.bad_family": N_("That product family is not set up right: {reason}."),
    "config.no_family": N_("There is no product family {name} any more."),
    "config.no_alternative": N_("That alternative is not in this proposal."),
    "config.already_quoted": N_("This configuration already has its quote. Revise it to "
                                "quote again."),
    "config.gone": N_("That configuration is gone."),
}


def _lang(ctx: Ctx) -> str:
    return ctx.t.locale


def _company(ctx: Ctx) -> Company:
    company = ctx.session.get(Company, int(ctx.data["company_id"]))
    if company is None or not can_see_company(ctx.session, ctx.user, company):
        raise NotFound("config.gone")
    return company


def _deal(ctx: Ctx) -> Deal | None:
    deal_id = ctx.data.get("deal_id")
    if not deal_id:
        return None
    return ctx.session.scalar(select(Deal).where(Deal.id == int(deal_id),
                                                deal_visible(ctx.session, ctx.user)))


# -- customer and deal ------------------------------------------------------------------------
def _wanted_family(ctx: Ctx, typed: str) -> None:
    """A family named in the message ("... a server room for X"), else in the customer's
    own words ("Hotel Cahaya Indah")."""
    said = ctx.incoming.text or ""
    if typed:
        said = said.replace(typed, " ")
    for words in (said, typed):
        family = families.find_family(ctx.session, words) if words else None
        if family is not None:
            ctx.data["family"] = ctx.data["wanted"] = family.code
            return


async def begin(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    ctx.data.update(answers={}, asked=[], auto=[])
    text = (ctx.args.get("company") or ctx.args.get("text") or "").strip()
    _wanted_family(ctx, (ctx.args.get("text") or text).strip())
    if ctx.args.get("deal_id", "").isdigit():
        deal = ctx.session.scalar(select(Deal).where(
            Deal.id == int(ctx.args["deal_id"]), deal_visible(ctx.session, ctx.user)))
        if deal is None:
            raise NotFound("deal.not_found", ref=ctx.args["deal_id"][:20])
        ctx.data.update(company_id=deal.company_id)
        return await _after_deal(ctx, deal)
    if ctx.args.get("company_id", "").isdigit():
        company = ctx.session.get(Company, int(ctx.args["company_id"]))
        if company is not None and can_see_company(ctx.session, ctx.user, company):
            return await _after_customer(ctx, company)
    if not families.families(ctx.session):
        return done(t("No product family is set up for guided configuration yet. Ask an admin "
                      "to load one (sfa configurator load FILE)."))
    if text:
        return await _pick_customer(ctx, text)
    return goto("customer", t("Which customer is the solution for? Type part of the name."))


async def _pick_customer(ctx: Ctx, text: str) -> Step:
    t = ctx.t
    matches = find_companies(ctx.session, ctx.user, text, limit=5,
                             index=ctx.services.contacts)
    if not matches:
        return goto("customer", t("No customer matching \"{text}\" that you can see. Try "
                                  "another part of the name.", text=text[:60]))
    if len(matches) == 1 or (matches[0].score >= 99 and matches[1].score < 90):
        return await _after_customer(ctx, matches[0].company)
    buttons = [Button(m.company.name[:40], value=f"c{m.company.id}") for m in matches]
    return goto("customer", ctx.reply(t("Which customer?"), *button_rows(buttons, 1)))


async def choose_customer(ctx: Ctx, inc: Incoming) -> Step:
    if inc.button and inc.button[1:].isdigit() and inc.button[0] == "c":
        company = ctx.session.get(Company, int(inc.button[1:]))
        if company is None or not can_see_company(ctx.session, ctx.user, company):
            raise NotFound("config.gone")
        return await _after_customer(ctx, company)
    text = (inc.text or "").strip()
    if not text:
        return goto("customer", ctx.t("Type part of the customer's name."))
    return await _pick_customer(ctx, text)


async def _after_customer(ctx: Ctx, company: Company) -> Step:
    t = ctx.t
    ctx.data["company_id"] = company.id
    # Before any question: the customer can be priced today (else the words say why).
    price_list_for(ctx.session, company, ctx.now.date())
    deals = list(ctx.session.scalars(select(Deal).where(
        Deal.company_id == company.id, Deal.stage.in_([s.value for s in OPEN_STAGES]),
        deal_visible(ctx.session, ctx.user)).order_by(Deal.updated_at.desc()).limit(5)))
    if len(deals) == 1:
        return await _after_deal(ctx, deals[0])
    if deals:
        buttons = [Button(shorten(f"#{d.id} {d.title}"), value=f"d{d.id}") for d in deals]
        buttons.append(Button(t("No deal"), value="d0"))
        return goto("deal", ctx.reply(t("For which deal of {customer}? The configuration is "
                                        "kept on it.", customer=company.name),
                                      *button_rows(buttons, 1)))
    return await _after_deal(ctx, None)


async def choose_deal(ctx: Ctx, inc: Incoming) -> Step:
    value = inc.button or ""
    if not (value[:1] == "d" and value[1:].isdigit()):
        return goto("deal", ctx.t("Press one of the buttons to pick the deal (or No deal)."))
    deal = None
    if int(value[1:]):
        deal = ctx.session.scalar(select(Deal).where(Deal.id == int(value[1:]),
                                                     deal_visible(ctx.session, ctx.user)))
        if deal is None:
            raise NotFound("deal.not_found", ref=value[1:])
    return await _after_deal(ctx, deal)


async def _after_deal(ctx: Ctx, deal: Deal | None) -> Step:
    t = ctx.t
    ctx.data["deal_id"] = deal.id if deal is not None else None
    last = svc.latest(ctx.session, deal.id if deal is not None else None,
                      int(ctx.data["company_id"]))
    if last is not None and ctx.data.get("wanted") in (None, last.family):
        family = ctx.session.scalar(select(ConfigFamily).where(
            ConfigFamily.code == last.family))
        name = families.text_of(family.spec.get("name") or family.name, _lang(ctx)) \
            if family is not None else last.family
        quote = ctx.session.get(Quote, last.quote_id) if last.quote_id else None
        state = t("quoted as {number}", number=quote.number) if quote is not None else t(
            "not quoted yet")
        ctx.data["reopen"] = last.id
        owner = deal.title if deal is not None else _company(ctx).name
        return goto("reopen", ctx.reply(
            t("{deal} has configuration r{revision} ({family}, {count} answers, {state}).",
              deal=owner, revision=last.revision, family=name,
              count=len(last.answers), state=state),
            [Button(t("✏️ Revise it"), value="revise"),
             Button(t("Start over"), value="new")]))
    return _ask_family(ctx)


async def choose_reopen(ctx: Ctx, inc: Incoming) -> Step:
    if inc.button == "revise":
        last = ctx.session.get(Configuration, int(ctx.data["reopen"]))
        if last is None:
            raise NotFound("config.gone")
        ctx.data.update(family=last.family, answers=dict(last.answers),
                        asked=list(last.answers), auto=[])
        return _ask_change(ctx, ctx.t("Revising r{revision}. Change what you need, then "
                                      "propose again.", revision=last.revision))
    if inc.button == "new":
        ctx.data.update(answers={}, asked=[], auto=[])
        ctx.data.pop("family", None)
        if ctx.data.get("wanted"):
            ctx.data["family"] = ctx.data["wanted"]
        return _ask_family(ctx)
    return goto("reopen", ctx.t("Press Revise it or Start over."))


# -- family ---------------------------------------------------------------------------------
def _ask_family(ctx: Ctx) -> Step:
    t = ctx.t
    found = families.families(ctx.session)
    if not found:
        return done(t("No product family is set up for guided configuration yet. Ask an admin "
                      "to load one (sfa configurator load FILE)."))
    if ctx.data.get("family") in {f.code for f in found}:
        return _next(ctx)
    if len(found) == 1:
        ctx.data["family"] = found[0].code
        return _next(ctx)
    buttons = [Button(families.text_of(f.spec.get("name") or f.name, _lang(ctx))[:40],
                      value=f"f{f.id}") for f in found]
    return goto("family", ctx.reply(t("What should the solution be for {customer}?",
                                      customer=_company(ctx).name), *button_rows(buttons, 1)))


async def choose_family(ctx: Ctx, inc: Incoming) -> Step:
    value = inc.button or ""
    family = None
    if value[:1] == "f" and value[1:].isdigit():
        family = ctx.session.get(ConfigFamily, int(value[1:]))
    elif inc.text:
        family = families.find_family(ctx.session, inc.text)
    if family is None or not family.active:
        return goto("family", ctx.t("Pick one of the families with the buttons."))
    ctx.data["family"] = family.code
    return _next(ctx)


# -- questions ------------------------------------------------------------------------------
def _label(ctx: Ctx, question: families.Question, value: Any) -> str:
    for option in question.options:
        if option.value == value:
            return families.text_of(option.label, _lang(ctx))
    return str(value)


def _answers_line(ctx: Ctx, model: families.Model) -> str:
    parts = []
    for question in model.questions:
        if question.attr in ctx.data["answers"]:
            mark = " *" if question.attr in ctx.data.get("auto", []) else ""
            parts.append(f"{families.text_of(question.text, _lang(ctx))} "
                         f"{_label(ctx, question, ctx.data['answers'][question.attr])}{mark}")
    return "\n".join(f"• {p}" for p in parts)


def _prune(model: families.Model, answers: dict[str, Any]) -> dict[str, Any]:
    """Drop answers to questions that would not be asked now (their ask_if is false)."""
    kept = dict(answers)
    for question in model.questions:
        if question.attr in kept and svc.condition(question.ask_if, kept) is False:
            kept.pop(question.attr)
    return kept


def _model(ctx: Ctx) -> families.Model:
    """The chosen family, compiled (kept in the app's cache while it is unchanged)."""
    return families.load_model(ctx.session, ctx.data["family"], ctx.services.configurator)


def _next(ctx: Ctx, note: str = "", model: families.Model | None = None) -> Step:
    """Ask the next question that matters, or propose when none is left."""
    t = ctx.t
    model = model or _model(ctx)
    answers = _prune(model, ctx.data["answers"])
    ask = svc.next_question(model, answers)
    answers.update(ask.auto)
    ctx.data["answers"] = answers
    ctx.data["auto"] = sorted(set(ctx.data.get("auto", [])) | set(ask.auto))
    ctx.data["asked"] = [a for a in ctx.data.get("asked", []) if a in answers]
    head = t("🧩 {family} for {customer}", family=families.text_of(model.name, _lang(ctx)),
             customer=_company(ctx).name)
    if ask.blocked is not None:
        label = families.text_of(ask.blocked.label, _lang(ctx))
        text = t("Nothing in the catalogue fits these answers for {component}. Change an "
                 "earlier answer.", component=label)
        return _ask_change(ctx, "\n".join(x for x in (note, head, text) if x))
    if ask.question is None:
        return _propose(ctx, model, note)
    question = ask.question
    ctx.data["q"] = question.attr
    ctx.data["offered"] = ask.options
    buttons = [Button(families.text_of(question.options[i].label, _lang(ctx))[:30], value=f"o{i}")
               for i in ask.options]
    extra = [Button(t("Not sure"), value="skip")]
    if ctx.data["asked"]:
        extra.append(Button(t("⬅ Back"), value="back"))
    text = "\n".join(x for x in (note, head, families.text_of(question.text, _lang(ctx))) if x)
    return goto("question", ctx.reply(text, *button_rows(buttons, 4), extra))


async def answer(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    model = _model(ctx)
    question = next((q for q in model.questions if q.attr == ctx.data.get("q")), None)
    if question is None:
        return _next(ctx, model=model)
    offered: list[int] = list(ctx.data.get("offered") or [])
    value = inc.button or ""
    if value == "back":
        asked = ctx.data.get("asked", [])
        if asked:
            last = asked.pop()
            ctx.data["answers"].pop(last, None)
            ctx.data["asked"] = asked
        return _next(ctx, model=model)
    chosen: int | None = None
    if value == "skip":
        ctx.data["answers"][question.attr] = svc.not_sure(model, question, ctx.data["answers"],
                                                          offered)
        ctx.data["asked"] = [*ctx.data.get("asked", []), question.attr]
        return _next(ctx, model=model)
    if value[:1] == "o" and value[1:].isdigit():
        chosen = int(value[1:])
    elif inc.text:
        chosen = _typed_option(ctx, question, offered, inc.text)
    if chosen is None or chosen not in offered:
        return goto("question", t("Pick one of the answers with the buttons (or Not sure)."))
    ctx.data["answers"][question.attr] = question.options[chosen].value
    ctx.data["asked"] = [*ctx.data.get("asked", []), question.attr]
    return _next(ctx, model=model)


def _typed_option(ctx: Ctx, question: families.Question, offered: list[int], text: str
                  ) -> int | None:
    """An answer typed instead of pressed: its label (or value) in either language. A
    bare number is never read as a position in the list: "2" is the answer labelled 2."""
    typed = " ".join(text.lower().split())
    for i in offered:
        labels = {families.text_of(question.options[i].label, lang).lower()
                  for lang in ("en", "id")}
        if typed in labels or typed == str(question.options[i].value).lower():
            return i
    return None


# -- proposal and quote ---------------------------------------------------------------------
def _alternative_lines(ctx: Ctx, alt: svc.Alternative) -> list[str]:
    t = ctx.t
    title = t("💰 Budget: {total}", total=t.money(alt.total, alt.currency)) \
        if alt.choice == "budget" else t("⭐ Recommended: {total}",
                                         total=t.money(alt.total, alt.currency))
    lines = [title]
    for line in alt.lines:
        lines.append(f"• {line.name} × {line.quantity} — {t.money(line.net, alt.currency)}")
    for why, product, because in alt.added:
        lines.append("  " + (t("{product}: required by {other}", product=product,
                                 other=because) if why == "requires" else
                             t("{product}: an option of {other}", product=product,
                               other=because)))
    return lines


def _propose(ctx: Ctx, model: families.Model, note: str = "") -> Step:
    t = ctx.t
    company = _company(ctx)
    answers = ctx.data["answers"]
    proposal = svc.build(ctx.session, model, company, answers, ctx.now.date(),
                         ctx.services.configurator)
    head = t("🧩 {family} for {customer}", family=families.text_of(model.name, _lang(ctx)),
             customer=company.name)
    if not proposal.alternatives:
        names = ", ".join(families.text_of(c.label, _lang(ctx)) for c in proposal.missing) or "-"
        return _ask_change(ctx, "\n".join(x for x in (note, head, t(
            "No priced, compatible product fits {components} with these answers. Change an "
            "answer.", components=names)) if x))
    config = svc.save(ctx.session, ctx.user, company, _deal(ctx), model, answers, proposal,
                      ctx.now)
    ctx.data["config_id"] = config.id
    lines = [x for x in (note, head) if x]
    lines.append(t("Revision r{revision} · your answers:", revision=config.revision))
    lines.append(_answers_line(ctx, model))
    if ctx.data.get("auto"):
        lines.append(t("* set for you: the only answer the catalogue allows"))
    budget, best = proposal.alternatives[0], proposal.alternatives[-1]
    lines.append("")
    if len(proposal.alternatives) == 2 and budget.items == best.items:
        lines.append(t("Both alternatives are the same: nothing else fits these answers."))
        lines += _alternative_lines(ctx, budget)
        quote_buttons = [Button(t("📄 Make the quote"), value="q:budget")]
    else:
        for alt in proposal.alternatives:
            lines += [*_alternative_lines(ctx, alt), ""]
        quote_buttons = [Button(t("📄 Quote the budget one"), value="q:budget"),
                         Button(t("📄 Quote the recommended one"), value="q:recommended")]
    lines.append(t("Totals include tax, on {customer}'s price list.", customer=company.name))
    return goto("proposal", ctx.reply("\n".join(lines).strip(), quote_buttons,
                                      [Button(t("✏️ Change an answer"), value="change")]))


async def choose_quote(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    value = inc.button or ""
    if value == "change":
        return _ask_change(ctx, "")
    if not value.startswith("q:"):
        return goto("proposal", t("Press one of the buttons: a quote, or Change an answer."))
    config = ctx.session.get(Configuration, int(ctx.data["config_id"]))
    if config is None:
        raise NotFound("config.gone")
    version = svc.to_quote(ctx.session, ctx.user, config, value[2:], ctx.now)
    quote = ctx.session.get(Quote, version.quote_id)
    assert quote is not None
    kept = t("Configuration r{revision} is kept on the deal; configure it again to revise "
             "it.", revision=config.revision) if config.deal_id else t(
        "Configuration r{revision} is kept with the customer; configure it again to revise "
        "it.", revision=config.revision)
    return done(quote_reply(ctx.session, quote, version, t, t(
        "Quote {number} v{version} for {customer}: {total}.", number=quote.number,
        version=version.number, customer=_company(ctx).name,
        total=t.money(version.total, quote.currency)) + " " + kept))


# -- changing answers -----------------------------------------------------------------------
def _ask_change(ctx: Ctx, text: str) -> Step:
    t = ctx.t
    model = _model(ctx)
    buttons = [Button(families.text_of(q.text, _lang(ctx))[:30], value=f"a:{q.attr}"[:40])
               for q in model.questions if q.attr in ctx.data["answers"]]
    rows = [*button_rows(buttons, 2), (Button(t("Propose again"), value="propose"),)]
    body = "\n".join(x for x in (text, t("Your answers:"), _answers_line(ctx, model),
                                 t("Which answer do you want to change?")) if x)
    return goto("change", ctx.reply(body, *rows))


async def choose_change(ctx: Ctx, inc: Incoming) -> Step:
    value = inc.button or ""
    if value == "propose":
        return _next(ctx)
    if value.startswith("a:") and value[2:] in ctx.data["answers"]:
        attr = value[2:]
        ctx.data["answers"].pop(attr)
        ctx.data["asked"] = [a for a in ctx.data.get("asked", []) if a != attr]
        ctx.data["auto"] = [a for a in ctx.data.get("auto", []) if a != attr]
        return _next(ctx)
    return goto("change", ctx.t("Press the answer to change, or Propose again."))


CONFIGURE_EN = (
    "configure a solution for {company}", "configure a solution", "configure {company}",
    "build a solution for {company}", "what should we offer {company}",
    "help me configure a server room for {company}", "configure an offer for {company}",
    "put together a package for {company}", "configurator for {company}",
    "which products does {company} need", "design a solution for {company}",
    "solution for {company}", "configure connectivity for {company}",
    "configure hotel rooms for {company}", "guide me to a bill of materials for {company}",
    "revise the configuration of {company}",
)
CONFIGURE_ID = (
    "konfigurasi solusi", "konfigurasi solusi untuk {company}", "buat solusi untuk {company}",
    "susun paket untuk {company}", "produk apa yang cocok untuk {company}",
    "bantu konfigurasi ruang server {company}", "rakit penawaran untuk {company}",
    "konfigurasi {company}", "solusi buat {company} dong", "rancang solusi untuk {company}",
    "konfigurator {company}", "paket koneksi untuk {company}",
    "konfigurasi kamar hotel {company}", "ubah konfigurasi {company}",
    "tolong susun kebutuhan {company}", "{company} butuh produk apa ya",
)


def register(registry: Registry) -> None:
    """Register the guided configurator."""
    registry.add_errors(ERRORS)
    registry.add_flow(Flow(
        "configurator", start=begin,
        states={"customer": choose_customer, "deal": choose_deal, "reopen": choose_reopen,
                "family": choose_family, "question": answer, "proposal": choose_quote,
                "change": choose_change},
        # Another request typed at any of these is answered by the engine, the flow kept.
        accepts={"customer": "customer", "deal": "button", "reopen": "button",
                 "family": "button", "question": "button", "proposal": "button",
                 "change": "button"},
        ongoing=ongoing(N_("Still configuring the solution.")),
        roles=FIELD_ROLES, commands=("configure", "konfigurasi"),
        help=N_("Configure a solution for a customer, question by question")))
    registry.add_phrasings(Phrasings(
        "configure_solution", flow="configurator", slots=("company",), en=CONFIGURE_EN,
        id=CONFIGURE_ID, label=N_("Configure a solution")))

