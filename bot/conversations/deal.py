"""Guided selling: deal card, advance through stage gates, lost, pipeline.

/deal [name] -> the deal card (Advance, Lost, History). "advance deal X" asks for what the
next stage's gate misses one question at a time, moves the deal, then proposes the next
step and schedules it as a dated follow-up in one tap. /pipeline: my pipeline; /team: the
team pipeline for managers.
"""

from __future__ import annotations

import re
from datetime import time

from sqlalchemy import select

from bot.conversations import dates
from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.messages import Button, Incoming, Reply, button_rows, shorten
from bot.conversations.phrasings import deal as deal_phrasings
from bot.conversations.registry import Registry
from bot.i18n import N_, Translator
from core import config_families
from core import pipeline as svc
from core.activities import DEFAULT_HOUR, due_for
from core.errors import Conflict, DomainError
from core.models import STAGE_SEQUENCE, Contact, Deal, Role, Stage, User

MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})

STAGE_LABELS = {
    Stage.OPPORTUNITY.value: N_("Opportunity generated"),
    Stage.LEAD_ALLOCATED.value: N_("Lead allocated"),
    Stage.CONTACTED.value: N_("Prospect contacted"),
    Stage.QUALIFIED.value: N_("Prospect qualified"),
    Stage.SOLUTION.value: N_("Solution identified"),
    Stage.ORDER_PLACED.value: N_("Order placed"),
    Stage.LOST.value: N_("Lost"),
}
REQUIREMENT_LABELS = {
    svc.OWNER: N_("an owner (a rep who took the lead)"),
    svc.ACTIVITY: N_("a logged visit, call, meeting or e-mail"),
    svc.BUDGET: N_("the budget"),
    svc.NEED: N_("the need"),
    svc.TIMELINE: N_("the timeline"),
    svc.DECISION_MAKER: N_("the decision maker"),
    svc.SOLUTION: N_("a configured solution or a quote"),
    svc.ORDER: N_("an accepted quote or an order reference"),
    svc.APPROVAL: N_("management approval (the amount is above the team's threshold)"),
}
QUESTIONS = {
    svc.BUDGET: N_("What is the customer's budget? (e.g. \"IDR 300 million\")"),
    svc.NEED: N_("What does the customer need?"),
    svc.TIMELINE: N_("When do they plan to buy? (e.g. \"Q2\", \"by June\")"),
    svc.SOLUTION: N_("Describe the solution you configured (or make a quote with /quote "
                     "and come back)."),
    svc.ORDER: N_("Type the order reference (e.g. the customer's PO number)."),
}
LOST_LABELS = {
    "price": N_("Price"), "competitor": N_("Went with a competitor"),
    "no_budget": N_("No budget"), "no_decision": N_("No decision"),
    "timing": N_("Bad timing"), "no_response": N_("No response"),
}
NEXT_LABELS = {
    "follow_up": N_("Schedule a follow-up"), "call": N_("Call the contact"),
    "meeting": N_("Book a meeting"), "presentation": N_("Proposal presentation"),
    "demo": N_("Product demo"), "configure": N_("Configure price and solution"),
    "proposal": N_("Prepare a proposal"), "contract": N_("Draft the contract"),
    "approval": N_("Request approval"), "documents": N_("Send documents"),
}
HOW_LABELS = {"claim": N_("claimed in the team channel"), "rule": N_("allocated by rule"),
              "manager": N_("assigned by the manager")}
# Next steps the bot can do at once instead of scheduling them.
MAKE_NOW = {"proposal": N_("Make it now"), "contract": N_("Make it now"),
            "configure": N_("Make the quote now")}
CONFIGURE_NOW = N_("Configure it now")  # when product families are set up
WHEN_LABELS = (("tomorrow", N_("Tomorrow")), ("3days", N_("In 3 days")),
               ("nextweek", N_("Next week")))

ERRORS = {
    "deal.not_found": N_("I found no deal {ref} that you can see."),
    "deal.bad_stage": N_("There is no stage called {stage}."),
    "deal.closed": N_("This deal is closed ({stage}); it cannot move any more."),
    "deal.not_forward": N_("A deal only moves forward; to close it use Lost."),
    "deal.gate_missing": N_("The deal cannot enter {stage} yet: missing {missing}."),
    "deal.gate_skipped": N_("You cannot jump there: {stage} comes first and needs {missing}."),
    "deal.changed": N_("This deal was changed by {by} meanwhile. Open it again to see the "
                       "current state, then try again."),
    "deal.empty_answer": N_("Please type an answer (or /cancel)."),
    "deal.answer_too_long": N_("That is too long: keep it under {limit} characters."),
    "deal.contact_not_of_company": N_("That contact is not at this deal's company."),
    "deal.lost_needs_reason": N_("Say why the deal was lost: pick a reason or type one."),
    "deal.date_in_past": N_("That date is in the past. Pick a later one."),
    "deal.admin_only": N_("Only an admin can change that."),
    "deal.managers_only": N_("Only managers can see the team pipeline."),
    "deal.bad_grouping": N_("Group by rep, stage or territory, not {by}."),
    "deal.bad_requirement": N_("Unknown requirement {requirement}. Known: {known}."),
    "deal.bad_probability": N_("A probability is a whole number from 0 to 100, not {value}."),
    "deal.no_approval_needed": N_("This deal is within the team's threshold: no approval is "
                                  "needed."),
    "deal.already_approved": N_("The contract of this deal is already approved."),
}


def stage_label(t: Translator, stage: str | None) -> str:
    return t(STAGE_LABELS[stage]) if stage in STAGE_LABELS else (stage or "-")


def req_label(t: Translator, req: str) -> str:
    return t(REQUIREMENT_LABELS[req]) if req in REQUIREMENT_LABELS else req


# A budget names an amount: digits, or a number word with its scale ("tiga ratus juta").
_AMOUNT = re.compile(r"\d|\b(?:satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|sepuluh|"
                     r"seratus|one|two|three|four|five|six|seven|eight|nine|ten|hundred)\b.*\b"
                     r"(?:juta|miliar|milyar|ribu|million|billion|thousand)\b", re.IGNORECASE)


ERROR_WORDS = {
    "stage": stage_label, "to": stage_label,
    "missing": lambda t, value: ", ".join(req_label(t, r.strip()) for r in value.split(",")),
}


def deal_card(ctx: Ctx, deal: Deal) -> str:
    t, s = ctx.t, ctx.session
    owner = s.get(User, deal.owner_id) if deal.owner_id else None
    facts = deal.facts or {}
    lines = [t("💼 {title}", title=deal.title),
             t("Customer: {company}", company=deal.company.name),
             t("Stage: {stage} ({probability}%)", stage=stage_label(t, deal.stage),
               probability=svc.probability(s, deal.stage)),
             t("Amount: {amount}", amount=t.money(deal.amount, deal.currency)),
             t("Owner: {owner}", owner=owner.name if owner else t("nobody yet"))]
    for key, label in ((svc.BUDGET, N_("Budget")), (svc.NEED, N_("Need")),
                       (svc.TIMELINE, N_("Timeline")), ("solution", N_("Solution")),
                       ("order_ref", N_("Order reference"))):
        if facts.get(key):
            lines.append(f"{t(label)}: {facts[key]}")
    dm = facts.get("decision_maker_contact_id")
    if isinstance(dm, int) and (contact := s.get(Contact, dm)) is not None:
        lines.append(t("Decision maker: {name}", name=contact.name))
    if deal.contact_by and deal.stage in (Stage.LEAD_ALLOCATED.value, Stage.OPPORTUNITY.value):
        lines.append(t("Contact by: {when}", when=t.datetime(deal.contact_by)))
    if deal.lost_reason:
        lines.append(t("Lost because: {reason}", reason=lost_word(t, deal.lost_reason)))
    return "\n".join(lines)


def lost_word(t: Translator, reason: str) -> str:
    return t(LOST_LABELS[reason]) if reason in LOST_LABELS else reason


def history_text(ctx: Ctx, deal: Deal) -> str:
    t = ctx.t
    lines = [t("History of {title}:", title=deal.title)]
    for change in svc.history(ctx.session, deal):
        who = ctx.session.get(User, change.user_id) if change.user_id else None
        line = t("{when} · {who}: {from_stage} → {to_stage}", when=t.datetime(change.at),
                 who=who.name if who else "-",
                 from_stage=stage_label(t, change.from_stage) if change.from_stage else "-",
                 to_stage=stage_label(t, change.to_stage))
        if change.reason:
            why = t(HOW_LABELS[change.reason]) if change.reason in HOW_LABELS else \
                lost_word(t, change.reason)
            line += f" ({why})"
        lines.append(line)
    return "\n".join(lines)


def _card_reply(ctx: Ctx, deal: Deal) -> Reply:
    t = ctx.t
    rows: list[list[Button]] = []
    if deal.stage not in (Stage.ORDER_PLACED.value, Stage.LOST.value):
        rows.append([Button(t("Advance"), value="advance"), Button(t("Lost"), value="lost")])
    rows.append([Button(t("History"), value="history")])
    return ctx.reply(deal_card(ctx, deal), *rows)


# -- picking a deal -------------------------------------------------------------------------
def _ref(ctx: Ctx) -> str:
    return (ctx.args.get("text") or ctx.args.get("deal") or "").strip()


async def _pick(ctx: Ctx, ref: str, then: str) -> Step | Deal:
    """Resolve a deal reference (#id or words) or offer a choice; returns the deal."""
    t = ctx.t
    ref = ref.lstrip("#").strip()
    if ref.isdigit():
        return svc.get_deal(ctx.session, ctx.user, ref)
    deals = svc.find_deals(ctx.session, ctx.user, ref, limit=6, open_only=then != "card")
    if len(deals) == 1:
        return deals[0]
    if not deals:
        if ref:
            return done(t("I found no open deal matching \"{text}\" that you can see.",
                          text=ref[:60]))
        return done(t("You have no open deals yet. New leads come with /newlead."))
    ctx.data["then"] = then
    buttons = [Button(shorten(f"#{d.id} {d.title}"), value=str(d.id)) for d in deals]
    return goto("pick", ctx.reply(t("Which deal?"), *button_rows(buttons, 1)))


async def pick(ctx: Ctx, inc: Incoming) -> Step:
    answer = (inc.button or inc.text or "").strip()
    found = await _pick(ctx, answer, ctx.data.get("then", "card"))
    if isinstance(found, Step):
        return found
    return await _after_pick(ctx, found)


async def _after_pick(ctx: Ctx, deal: Deal) -> Step:
    then = ctx.data.get("then", "card")
    ctx.data["deal_id"] = deal.id
    ctx.data["version"] = deal.version
    if then == "advance":
        return await _choose_target(ctx, deal)
    if then == "lost":
        return _ask_lost(ctx, deal)
    return goto("card", _card_reply(ctx, deal))


# -- the deal card --------------------------------------------------------------------------
async def card_start(ctx: Ctx, inc: Incoming) -> Step:
    ctx.data["then"] = "card"
    found = await _pick(ctx, _ref(ctx), "card")
    if isinstance(found, Step):
        return found
    return await _after_pick(ctx, found)


async def card_button(ctx: Ctx, inc: Incoming) -> Step:
    deal = svc.get_deal(ctx.session, ctx.user, ctx.data["deal_id"])
    choice = (inc.button or inc.text or "").strip().lower()
    if choice == "history":
        return goto("card", ctx.reply(history_text(ctx, deal)))
    if choice in ("advance", "maju", "next"):
        ctx.data["then"] = "advance"
        return await _choose_target(ctx, deal)
    if choice in ("lost", "kalah", "hilang"):
        ctx.data["then"] = "lost"
        return _ask_lost(ctx, deal)
    # Typed words that ask for something else ("who handles X?") were answered by the
    # engine before this step; anything else shows the card again.
    return goto("card", _card_reply(ctx, deal))


# -- advance --------------------------------------------------------------------------------
async def advance_start(ctx: Ctx, inc: Incoming) -> Step:
    ctx.data["then"] = "advance"
    found = await _pick(ctx, _ref(ctx), "advance")
    if isinstance(found, Step):
        return found
    return await _after_pick(ctx, found)


async def _choose_target(ctx: Ctx, deal: Deal) -> Step:
    t = ctx.t
    if deal.stage in (Stage.ORDER_PLACED.value, Stage.LOST.value):
        return done(t("This deal is closed ({stage}); it cannot move any more.",
                      stage=stage_label(t, deal.stage)))
    ctx.data["then"] = "advance"
    index = svc.stage_index(deal.stage)
    later = STAGE_SEQUENCE[index + 1:]
    buttons = [Button(stage_label(t, s.value), value=s.value) for s in later]
    text = t("{title} is at {stage}. Move it to which stage?", title=deal.title,
             stage=stage_label(t, deal.stage))
    return goto("target", ctx.reply(text, *button_rows(buttons, 1)))


async def choose_target(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    deal = _fresh(ctx)
    try:
        target = svc.parse_stage(inc.button or inc.text or "")
    except Exception:
        return goto("target", ctx.reply(t("Pick a stage with the buttons (or /cancel).")))
    if target == Stage.LOST.value:
        return _ask_lost(ctx, deal)
    if svc.stage_index(target) <= svc.stage_index(deal.stage):
        return goto("target", ctx.reply(t("A deal only moves forward; to close it use Lost.")))
    missing = svc.missing_for(ctx.session, deal, target)
    skipped = [(s, r) for s, r in missing if s != target]
    if skipped:
        first = skipped[0][0]
        what = ", ".join(req_label(t, r) for s, r in skipped if s == first)
        next_stage = STAGE_SEQUENCE[svc.stage_index(deal.stage) + 1].value
        return goto("target", ctx.reply(
            t("You cannot jump to {target}: {stage} comes first and needs {what}.",
              target=stage_label(t, target), stage=stage_label(t, first), what=what),
            [Button(stage_label(t, next_stage), value=next_stage)]))
    ctx.data["target"] = target
    ctx.data["answers"] = {}
    return await _next_question(ctx, deal)


async def _next_question(ctx: Ctx, deal: Deal) -> Step:
    """Ask for the first requirement still missing, or move the deal."""
    t = ctx.t
    target = ctx.data["target"]
    answers = ctx.data.get("answers", {})
    pending = [r for s, r in svc.missing_for(ctx.session, deal, target) if s == target]
    pending = [r for r in pending if not _answered(r, answers)]
    if not pending:
        return await _move(ctx, deal)
    req = pending[0]
    ctx.data["asking"] = req
    if req in QUESTIONS:
        return goto("answer", ctx.reply(t(QUESTIONS[req])))
    if req == svc.DECISION_MAKER:
        contacts = list(ctx.session.scalars(select(Contact).where(
            Contact.company_id == deal.company_id).order_by(
            Contact.is_decision_maker.desc(), Contact.name).limit(6)))
        buttons = [Button(c.name[:40], value=f"c{c.id}") for c in contacts]
        return goto("answer", ctx.reply(
            t("Who decides at {company}? Pick a contact or type a name.",
              company=deal.company.name), *button_rows(buttons, 2)))
    if req == svc.APPROVAL:
        state = svc.approval_state(ctx.session, deal)
        if state == "pending":
            return done(t("The contract approval is still waiting for the manager. I will "
                          "tell you when it is decided."))
        note = t("The amount {amount} is above the team's threshold: the manager must "
                 "approve the contract first.", amount=t.money(deal.amount, deal.currency))
        if state == "rejected":
            note += "\n" + t("The last request was rejected.")
        return goto("answer", ctx.reply(
            note, [Button(t("Request approval"), value="request"),
                   Button(t("Not now"), value="no")]))
    if req == svc.ACTIVITY:
        return done(t("{stage} needs {what}. Log it with /visit first, then advance again.",
                      stage=stage_label(t, target), what=req_label(t, req)))
    return done(t("{stage} needs {what}; I cannot ask for that here.",
                  stage=stage_label(t, target), what=req_label(t, req)))


def _answered(req: str, answers: dict) -> bool:
    if req == svc.DECISION_MAKER:
        return "decision_maker_contact_id" in answers
    if req == svc.SOLUTION:
        return "solution" in answers
    if req == svc.ORDER:
        return "order_ref" in answers
    return req in answers


def _fresh(ctx: Ctx) -> Deal:
    """The deal of this conversation, refused when someone changed it meanwhile."""
    deal = svc.get_deal(ctx.session, ctx.user, ctx.data["deal_id"])
    if ctx.data.get("version") is not None and deal.version != ctx.data["version"]:
        raise Conflict("deal.changed", by=svc.last_changer(ctx.session, deal), deal=deal.title)
    return deal


async def answer(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    deal = _fresh(ctx)
    req = ctx.data.get("asking")
    text = (inc.text or "").strip()
    answers = dict(ctx.data.get("answers", {}))
    if req == svc.DECISION_MAKER:
        contact = None
        if inc.button and inc.button.startswith("c"):
            contact = ctx.session.get(Contact, int(inc.button[1:]))
        elif text:
            rows = list(ctx.session.scalars(select(Contact).where(
                Contact.company_id == deal.company_id)))
            low = text.lower()
            hits = [c for c in rows if low in c.name.lower()]
            contact = hits[0] if len(hits) == 1 else None
        if contact is None or contact.company_id != deal.company_id:
            return goto("answer", ctx.reply(t(
                "I do not know that contact at {company}. Pick one of the buttons, or add "
                "the contact first.", company=deal.company.name)))
        answers["decision_maker_contact_id"] = contact.id
    elif req == svc.APPROVAL:
        choice = inc.button or text.lower()
        if choice in ("request", "yes", "ya"):
            if answers:  # keep what was answered so far
                svc.record_facts(ctx.session, deal.id, ctx.user, answers, ctx.now)
            request = svc.request_contract_approval(ctx.session, ctx.user, deal, ctx.now)
            who = ctx.session.get(User, request.approver_id) if request.approver_id else None
            return done(t("Approval requested from {name}. I will tell you when it is "
                          "decided; then advance the deal again.",
                          name=who.name if who else t("an admin")))
        return done(t("OK, the deal stays at {stage}.", stage=stage_label(t, deal.stage)))
    elif req in QUESTIONS:
        if not text:
            return goto("answer", ctx.reply(t("Please type an answer (or /cancel).")))
        if len(text) > svc.MAX_TEXT:
            return goto("answer", ctx.reply(t(
                "That is too long: keep it under {limit} characters.", limit=svc.MAX_TEXT)))
        if req == svc.BUDGET and not _AMOUNT.search(text):
            return goto("answer", ctx.reply(t(
                "I need an amount for the budget, e.g. \"IDR 300 million\" or \"Rp 300 "
                "juta\". What is the customer's budget? (or /cancel)")))
        key = {svc.SOLUTION: "solution", svc.ORDER: "order_ref"}.get(req, req)
        answers[key] = text
    ctx.data["answers"] = answers
    return await _next_question(ctx, deal)


async def _move(ctx: Ctx, deal: Deal) -> Step:
    t = ctx.t
    target = ctx.data["target"]
    svc.advance_deal(ctx.session, deal.id, target, ctx.user, ctx.now,
                     expected_version=ctx.data.get("version"),
                     facts=ctx.data.get("answers") or None)
    ctx.data["version"] = deal.version
    steps = svc.NEXT_STEPS.get(target, ())
    text = t("✅ {title} moved to {stage}.", title=deal.title, stage=stage_label(t, target))
    if not steps:
        return done(text)
    buttons = [Button(t(NEXT_LABELS[k]), value=k) for k in steps]
    buttons.append(Button(t("Nothing now"), value="none"))
    return goto("next", ctx.reply(text + "\n" + t("Next step?"), *button_rows(buttons, 2)))


async def choose_next(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    kind = inc.button or ""
    if kind == "none" or (inc.text or "").strip().lower() in ("no", "none", "tidak"):
        return done(t("OK."))
    if kind not in NEXT_LABELS:
        return goto("next", ctx.reply(t("Pick a next step with the buttons, or /cancel.")))
    if kind == "approval":
        deal = svc.get_deal(ctx.session, ctx.user, ctx.data["deal_id"])
        if svc.needs_approval(ctx.session, deal):
            svc.request_contract_approval(ctx.session, ctx.user, deal, ctx.now)
            return done(t("Approval requested from your manager."))
    ctx.data["next_kind"] = kind
    return goto("when", ctx.reply(t("When?"), *button_rows(_when_buttons(ctx, kind), 2)))


def _configurable(ctx: Ctx, kind: str) -> bool:
    """A "configure" step is done in the guided configurator once product families exist
    (the configuration is kept on the deal), else as a plain quote."""
    return kind == "configure" and bool(config_families.families(ctx.session))


def _when_buttons(ctx: Ctx, kind: str) -> list[Button]:
    buttons = [Button(ctx.t(label), value=v) for v, label in WHEN_LABELS]
    if kind in MAKE_NOW:
        label = CONFIGURE_NOW if _configurable(ctx, kind) else MAKE_NOW[kind]
        buttons.insert(0, Button(ctx.t(label), value="now"))
    return buttons


async def choose_when(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    choice = inc.button or ""
    kind = ctx.data["next_kind"]
    if choice == "now" and kind in MAKE_NOW:
        # The document or quote is made right away, in its own flow.
        flow = ("configurator" if _configurable(ctx, kind)
                else "quote" if kind == "configure" else "proposal")
        return await ctx.begin(flow, deal_id=str(ctx.data["deal_id"]))
    typed = (dates.parse_when(inc.text, ctx.t.locale, ctx.now, ctx.user.timezone)
             if not choice and inc.text else None)
    if choice not in {v for v, _ in WHEN_LABELS} and typed is None:
        return goto("when", ctx.reply(t("Pick a day with the buttons or type one (e.g. friday "
                                        "10:00, 15 Dec), or /cancel."),
                                      *button_rows(_when_buttons(ctx, kind), 2)))
    deal = svc.get_deal(ctx.session, ctx.user, ctx.data["deal_id"])
    if typed is not None:
        when = dates.moment(typed, ctx.user.timezone, time(DEFAULT_HOUR))
        if when <= ctx.now:
            raise DomainError("visit.date_in_past")
    else:
        when = due_for(choice, ctx.user.timezone, ctx.now)
    svc.schedule_next_step(ctx.session, ctx.user, deal, kind, when, ctx.now,
                           note=f"{t(NEXT_LABELS[kind])}: {deal.title}")
    return done(t("📌 Scheduled: {what} on {when}.", what=t(NEXT_LABELS[kind]),
                  when=t.datetime(when)))


# -- lost -----------------------------------------------------------------------------------
async def lost_start(ctx: Ctx, inc: Incoming) -> Step:
    found = await _pick(ctx, _ref(ctx), "lost")
    if isinstance(found, Step):
        return found
    ctx.data["then"] = "lost"
    return await _after_pick(ctx, found)


def _ask_lost(ctx: Ctx, deal: Deal) -> Step:
    t = ctx.t
    if deal.stage in (Stage.ORDER_PLACED.value, Stage.LOST.value):
        return done(t("This deal is closed ({stage}); it cannot move any more.",
                      stage=stage_label(t, deal.stage)))
    ctx.data["deal_id"] = deal.id
    ctx.data.setdefault("version", deal.version)
    buttons = [Button(t(label), value=key) for key, label in LOST_LABELS.items()]
    return goto("lost_reason", ctx.reply(
        t("Why was {title} lost? Pick a reason or type it.", title=deal.title),
        *button_rows(buttons, 2)))


async def lost_reason(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    reason = inc.button or (inc.text or "").strip()
    if not reason:
        return goto("lost_reason", ctx.reply(t("Pick a reason or type it (or /cancel).")))
    if len(reason) > 200:
        return goto("lost_reason", ctx.reply(t(
            "That is too long: keep it under {limit} characters.", limit=200)))
    deal = _fresh(ctx)
    svc.mark_lost(ctx.session, deal.id, ctx.user, ctx.now, reason,
                  expected_version=ctx.data.get("version"))
    return done(t("{title} is closed as Lost ({reason}).", title=deal.title,
                  reason=lost_word(t, reason)))


# -- pipelines ------------------------------------------------------------------------------
async def my_pipeline(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    result = svc.my_pipeline(ctx.session, ctx.user)
    lines = [t("📊 Your pipeline")]
    for row in result.stages:
        lines.append(t("{stage}: {count} · {value}", stage=stage_label(t, row.stage),
                       count=row.count, value=t.money(row.value)))
    lines.append(t("Total {total} · weighted {weighted}", total=t.money(result.total),
                   weighted=t.money(result.weighted)))
    if result.oldest:
        lines.append("")
        lines.append(t("Untouched the longest:"))
        for deal in result.oldest:
            touched = deal.last_activity_at or deal.updated_at
            lines.append(t("#{id} {title} · {stage} · since {when}", id=deal.id,
                           title=deal.title, stage=stage_label(t, deal.stage),
                           when=t.date(touched)))
    buttons = [Button(shorten(f"#{d.id} {d.title}"), action="deal.open", arg=str(d.id))
               for d in result.oldest]
    return done(ctx.reply("\n".join(lines), *button_rows(buttons, 1)))


async def open_deal_action(ctx: Ctx, arg: str) -> Step:
    """Open a deal's card from a button (its visibility is checked when it is read)."""
    if not arg.isdigit():
        raise DomainError("deal.not_found", ref=arg[:20])
    return await ctx.begin("deal", text=arg)


TEAM_GROUPINGS = {"rep": N_("rep"), "stage": N_("stage"), "territory": N_("territory")}
_TEAM_GROUPING_WORDS = {"rep": "rep", "reps": "rep", "sales": "rep", "salesperson": "rep",
                        "orang": "rep", "stage": "stage", "stages": "stage", "tahap": "stage",
                        "territory": "territory", "territories": "territory",
                        "region": "territory", "area": "territory", "wilayah": "territory",
                        "daerah": "territory"}


def _team_grouping(text: str) -> str:
    """The grouping a manager's words name ("team pipeline by stage", "pipeline tim per
    wilayah"; "by" alone: /teampipeline stage), by rep when they name none."""
    words = text.lower().replace("-", " ").split()
    after = [w for i, w in enumerate(words) if i and words[i - 1] in ("by", "per")]
    for word in [*after, *words]:
        if word in _TEAM_GROUPING_WORDS:
            return _TEAM_GROUPING_WORDS[word]
    return "rep"


async def team_pipeline(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    if (ctx.incoming.text or "").strip().split("@")[0].lower() == "/team":  # plain: coverage
        return await ctx.begin("team_coverage")
    by = _team_grouping(ctx.args.get("by") or ctx.args.get("text") or "")
    rows = svc.team_pipeline(ctx.session, ctx.user, by=by)
    if not rows:
        return done(t("No open deals in your team."))
    lines = [t("📊 Team pipeline by {by}", by=t(TEAM_GROUPINGS[by]))]
    current = None
    for row in rows:
        if by != "stage" and row.key != current:
            current = row.key
            unnamed = t("(no owner)") if by == "rep" else t("(no territory)")
            lines.append("\n" + (row.key if row.key not in ("", "-") else unnamed))
        lines.append(t("  {stage}: {count} · {value}", stage=stage_label(t, row.stage),
                       count=row.count, value=t.money(row.value)))
    return done(Reply("\n".join(lines)))


def register(registry: Registry) -> None:
    """Register the deal card, advance, lost and pipeline flows."""
    registry.add_errors(ERRORS)
    registry.add_error_words(ERROR_WORDS)
    registry.add_phrasings(*deal_phrasings.PHRASINGS)
    picks = {"pick": pick, "card": card_button, "target": choose_target, "answer": answer,
             "next": choose_next, "when": choose_when, "lost_reason": lost_reason}
    accepts = {"pick": "button", "card": "button", "target": "button", "answer": "text",
               "next": "button", "when": "date", "lost_reason": "text"}
    registry.add_flow(Flow("deal", start=card_start, states=picks, roles=FIELD_ROLES,
                           accepts=accepts,
                           commands=("deal",), help=N_("A deal's card: /deal NAME"),
        ongoing=ongoing(N_("Still on the deal card."))))
    registry.add_flow(Flow("advance", start=advance_start, states=picks, roles=FIELD_ROLES,
                           accepts=accepts,
                           commands=("advance",),
                           help=N_("Move a deal to its next stage: /advance NAME"),
        ongoing=ongoing(N_("Still moving a deal to its next stage."))))
    registry.add_flow(Flow("lost", start=lost_start, states=picks, roles=FIELD_ROLES,
                           accepts=accepts,
                           commands=("lost",), help=N_("Close a deal as Lost: /lost NAME"),
        ongoing=ongoing(N_("Still closing a deal as lost."))))
    registry.add_flow(Flow("pipeline", start=my_pipeline, roles=FIELD_ROLES,
                           commands=("pipeline",), help=N_("My pipeline by stage")))
    registry.add_flow(Flow("team_pipeline", start=team_pipeline, roles=MANAGERS,
                           commands=("team",),
                           help=N_("Team pipeline: /team rep|stage|territory")))
    registry.add_action(Action("deal.open", open_deal_action, roles=FIELD_ROLES,
                               group_ok=False))
