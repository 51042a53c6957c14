"""Documents and time on demand: proposals and contract summaries from templates (PDF),
mailing suggestions ("what should I send?"), "my week" (the agenda, overdue first) and
calendar files (.ics) for meetings and follow-ups."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.conversations import progress
from bot.conversations.dates import parse_when
from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.lookup import material_label
from bot.conversations.messages import Attachment, Button, Incoming, Reply, button_rows
from bot.conversations.phrasings import documents as documents_phrasings
from bot.conversations.registry import Registry
from bot.documents.proposal_pdf import proposal_pdf
from bot.documents.words import SELLER_DETAILS, TemplateWords
from bot.i18n import N_, Translator
from core import agenda as agenda_service
from core import mailing, organisation, proposals
from core.agenda import AgendaItem
from core.mailing import Suggestion
from core.models import Deal, Role

AGENDA_ROLES = frozenset({*FIELD_ROLES, Role.TECHNICIAN})

KIND_LABELS = {
    "meeting": N_("Meeting"),
    "follow_up": N_("Follow-up"),
    "call": N_("Call"),
    "visit": N_("Visit"),
    "demo": N_("Product demo"),
    "proposal": N_("Proposal"),
    "presentation": N_("Proposal presentation"),
    "documents": N_("Send documents"),
    "configure": N_("Configure price and solution"),
    "contract": N_("Draft the contract"),
    "approval": N_("Request approval"),
    "contact_by": N_("Contact the new lead by"),
    "job": N_("Service job"),
    "complaint": N_("Complaint follow-up"),
    "reminder": N_("Reminder"),
}

ERRORS = {
    "agenda.not_found": N_("That meeting or follow-up is not in your agenda any more."),
    "proposal.template_syntax": N_("The template has an error on line {line}: {message}. "
                                   "Fix it and check it in again."),
    "proposal.template_too_long": N_("The template is too long (over {limit} characters)."),
    "proposal.template_forbidden": N_("The template tried to reach something it may not; "
                                      "only the listed placeholders can be used."),
    "proposal.template_error": N_("The template could not be filled: {message}."),
    "proposal.missing": N_("The document needs data the deal does not have yet: {names}. "
                           "Add it (e.g. create a quote) and try again."),
    "proposal.deal_not_found": N_("I could not find that deal among yours."),
    "proposal.template_not_found": N_("That template is not available any more."),
    "mailing.not_found": N_("That customer is not among yours."),
    "mailing.bad_material": N_("That suggestion is no longer valid."),
}

# Drafted messages to the customer (copy-ready), by suggestion kind.
DRAFTS = {
    "brochure": N_("Dear {contact},\n\nCompanies in {industry} like yours are getting good "
                   "results with our {product}. I attach the brochure; I would be glad to show "
                   "you how it could work for {company}.\n\nBest regards,\n{rep}"),
    "thank_you": N_("Dear {contact},\n\nThank you for your order {order}. We are preparing "
                    "the delivery and I will keep you informed of every step.\n\n"
                    "Best regards,\n{rep}"),
    "quote_reminder": N_("Dear {contact},\n\nA reminder that our quote {quote} "
                         "({currency} {total}) is valid until {valid_until}. Shall I reserve "
                         "the stock for you?\n\nBest regards,\n{rep}"),
    "delay_notice": N_("Dear {contact},\n\nI am sorry to tell you that the delivery of "
                       "{description} planned for {when} is delayed. {reason} I will confirm the "
                       "new date as soon as I have it.\n\nBest regards,\n{rep}"),
}
SUGGESTION_TITLES = {
    "brochure": N_("Brochure for {product}"),
    "thank_you": N_("Thank-you note for order {order}"),
    "quote_reminder": N_("Reminder: quote {quote} expires {valid_until}"),
    "delay_notice": N_("Delay notice: {description}"),
}
PROPOSAL_ROLES = frozenset({Role.REP, Role.MANAGER, Role.ADMIN})


def kind_label(t: Translator, kind: str) -> str:
    return t(KIND_LABELS[kind]) if kind in KIND_LABELS else kind.replace("_", " ").capitalize()


def _line(t: Translator, item: AgendaItem, with_day: bool) -> str:
    when = t.datetime(item.at) if with_day else t.time(item.at)
    note = f" — {item.note}" if item.note else ""
    return f"• {when} {kind_label(t, item.kind)}: {item.title}{note}"


# A date said with "my agenda" that spans more than a day: the week is shown.
_SPAN_WORDS = frozenset({"week", "weeks", "month", "months", "minggu", "pekan", "bulan"})


def _asked_day(ctx: Ctx) -> date | None:
    """The one day a request names ("what do I have tomorrow?", "ada kunjungan apa hari
    ini?"), today or later; None for no date, a past day or a span ("this week")."""
    said = (ctx.args.get("date") or "").strip()
    if not said or _SPAN_WORDS & set(said.lower().split()):
        return None
    when = parse_when(said, ctx.t.locale, ctx.now, ctx.user.timezone)
    if isinstance(when, datetime):
        when = when.astimezone(ZoneInfo(ctx.user.timezone)).date()
    today = ctx.now.astimezone(ZoneInfo(ctx.user.timezone)).date()
    return when if when is not None and today <= when <= today + timedelta(days=366) else None


async def my_week(ctx: Ctx, inc: Incoming) -> Step:
    """Show the week's agenda grouped by day, overdue first, with calendar buttons; or one
    day's, when the request named one (overdue items with today's)."""
    t = ctx.t
    day = _asked_day(ctx)
    coming: list[str] = []  # one day's view: the first thing after it, within a week
    if day is not None:
        today = ctx.now.astimezone(ZoneInfo(ctx.user.timezone)).date()
        agenda = agenda_service.week_agenda(ctx.session, ctx.user, ctx.now,
                                            days=(day - today).days + 8)
        later = [items[0] for d, items in agenda.days if d > day]
        if later:
            coming = ["", t("Next: {item}", item=_line(t, later[0], with_day=True)[2:])]
        agenda = agenda_service.Agenda(
            overdue=agenda.overdue if day == today else [],
            days=[(d, items) for d, items in agenda.days if d == day])
        if not agenda.overdue and not agenda.days:
            return done("\n".join([t("Nothing planned for {day}.", day=t.date(day)),
                                   *coming[1:]]))
    else:
        agenda = agenda_service.week_agenda(ctx.session, ctx.user, ctx.now)
    if not agenda.overdue and not agenda.days:
        if ctx.role == Role.TECHNICIAN:
            return done(t("No jobs for the next 7 days. New job offers come to this chat."))
        return done(t("Nothing planned for the next 7 days. Log a visit and set a next step "
                      "to fill your week."))
    lines = [t("Your week") if day is None else t("Your day: {day}", day=t.date(day))]
    calendar_buttons: list[Button] = []
    job_buttons = [Button(t("Open #{id}", id=item.job_id), action="job.show",
                          arg=str(item.job_id))
                   for item in [*agenda.overdue, *(i for _day, its in agenda.days for i in its)]
                   if item.job_id is not None][:6]
    if agenda.overdue:
        lines.append("")
        lines.append(t("Overdue ({count}):", count=len(agenda.overdue)))
        lines += [_line(t, item, with_day=True) for item in agenda.overdue]
    for on, items in agenda.days:
        lines.append("")
        if day is None:  # one day's view has its date in the title
            lines.append(t.date(on))
        lines += [_line(t, item, with_day=False) for item in items]
        for item in items:
            if item.follow_up_id is not None and len(calendar_buttons) < 8:
                calendar_buttons.append(Button(
                    f"📅 {t.time(item.at)} {item.title[:18]}", action="agenda.ics",
                    arg=str(item.follow_up_id)))
    lines += coming
    if calendar_buttons:
        lines.append("")
        lines.append(t("Tap a meeting to add it to your phone's calendar."))
    return done(Reply("\n".join(lines),
                      buttons=button_rows(job_buttons, 3) + button_rows(calendar_buttons, 2)))


async def send_ics(ctx: Ctx, arg: str) -> Step:
    """Send one meeting or follow-up as an .ics invitation."""
    if not arg.isdigit():
        return done(ctx.t("That button is no longer valid."))
    follow_up_id = int(arg)
    from core.models import FollowUp

    follow_up = ctx.session.get(FollowUp, follow_up_id)
    kind = follow_up.kind if follow_up is not None else "follow_up"
    company = follow_up.company.name if follow_up is not None and follow_up.company else ""
    summary = f"{kind_label(ctx.t, kind)}: {company}".rstrip(": ")
    seller = organisation.seller(ctx.session)
    organizer = f"{ctx.user.name} ({seller.name})" if seller.name else ctx.user.name
    data = agenda_service.follow_up_ics(ctx.session, ctx.user, follow_up_id, summary=summary,
                                        now=ctx.now, organizer_name=organizer,
                                        organizer_email=seller.email)
    return done(Reply(ctx.t("Open the file to add it to your calendar."),
                      attachment=Attachment(filename=f"sfa-{follow_up_id}.ics", data=data,
                                            mime="text/calendar")))


# -- proposals from templates ------------------------------------------------------------------
async def start_proposal(ctx: Ctx, inc: Incoming) -> Step:
    """Find the deal named in the request (or given by a deal's next step), then pick a
    template."""
    if (deal_id := ctx.args.get("deal_id", "")).isdigit():
        return _pick_template(ctx, int(deal_id))
    query = (ctx.args.get("text") or "").strip()
    if not query:
        return goto("deal", Reply(ctx.t("Which deal or customer is the document for?")))
    return _pick_deal(ctx, query)


def _pick_deal(ctx: Ctx, query: str) -> Step:
    deals = proposals.find_deals(ctx.session, ctx.user, query)
    if not deals:  # end here: the next message is routed afresh, not taken as a deal name
        return done(ctx.t("I found no deal of yours matching \"{query}\". Try the customer's "
                          "name.", query=query[:60]))
    if len(deals) == 1:
        return _pick_template(ctx, deals[0].id)

    def label(deal: Deal) -> str:
        company = deal.company.name
        title = deal.title.removeprefix(company).lstrip(" :-—")
        return f"{company[:22]}: {title[:26]}"

    buttons = [Button(label(d), value=str(d.id)) for d in deals]
    return goto("deal", Reply(ctx.t("Which deal?"), buttons=button_rows(buttons, 1)))


async def choose_deal(ctx: Ctx, inc: Incoming) -> Step:
    """Take the deal (button or typed name)."""
    if inc.button and inc.button.isdigit():
        return _pick_template(ctx, int(inc.button))
    return _pick_deal(ctx, inc.text or "")


def _pick_template(ctx: Ctx, deal_id: int) -> Step:
    ctx.data["deal_id"] = deal_id
    templates = proposals.list_templates(ctx.session)
    if not templates:
        return done(ctx.t("There is no proposal template in the knowledge base yet. Ask an "
                          "admin to add one (type: proposal template)."))
    if len(templates) == 1:
        return _generate(ctx, templates[0].id)
    buttons = [Button(t.title[:40], value=str(t.id)) for t in templates[:8]]
    return goto("template", Reply(ctx.t("Which document?"), buttons=button_rows(buttons, 1)))


async def choose_template(ctx: Ctx, inc: Incoming) -> Step:
    """Take the template and send the filled PDF."""
    if not (inc.button and inc.button.isdigit()):
        return goto("template", Reply(ctx.t("Please pick a document with the buttons.")))
    return _generate(ctx, int(inc.button))


def _generate(ctx: Ctx, template_id: int) -> Step:
    ctx.data["template_id"] = template_id
    seller = organisation.seller(ctx.session)
    try:
        document = proposals.render_proposal(
            ctx.session, ctx.user, int(ctx.data["deal_id"]), template_id, ctx.now,
            words_for=lambda language: TemplateWords(Translator(language, ctx.user.timezone)),
            seller=seller, answers=ctx.data.get("answers") or {})
    except proposals.MissingData as exc:
        return _ask_missing(ctx, exc.paths)
    # The document speaks its template's language to its footer, whatever the reader's.
    words = Translator(document.language, ctx.user.timezone)
    progress.working(progress.DOCUMENT)
    pdf = proposal_pdf(document.title, document.text,
                       footer=words("Prepared by {name} on {date}", name=ctx.user.name,
                                    date=words.date(ctx.now)),
                       seller=seller, t=words)
    filename = "".join(ch if ch.isalnum() else "-" for ch in document.title)[:60] + ".pdf"
    return done(Reply(ctx.t("Here is the document; it is noted in the deal's history."),
                      attachment=Attachment(filename=filename, data=pdf,
                                            mime="application/pdf", caption=document.title)))


# What the rep can type for a placeholder the deal's data does not fill (used for this
# document only), in words: never the placeholder's name.
ASKABLE = {
    "customer.name": N_("the customer's name"),
    "customer.legal_form": N_("the customer's legal form (PT, CV, ...)"),
    "customer.industry": N_("the customer's industry"),
    "customer.address": N_("the customer's address"),
    "customer.billing_address": N_("the address the invoices go to"),
    "customer.delivery_address": N_("the delivery address"),
    "customer.city": N_("the customer's city"),
    "contact.name": N_("the name of the person it is addressed to"),
    "contact.job_title": N_("the contact's job title"),
    "contact.department": N_("the contact's department"),
    "contact.email": N_("the contact's e-mail"),
    "contact.phone": N_("the contact's phone number"),
    "deal.need": N_("what the customer needs"),
    "deal.budget": N_("the customer's budget"),
    "deal.timeline": N_("when the customer plans to buy"),
    "deal.amount": N_("the deal's amount"),
    "rep.email": N_("your e-mail address"),
    "rep.phone": N_("your phone number"),
    "scope": N_("the scope of the offer"),
}
MAX_ANSWER = 300


def _ask_missing(ctx: Ctx, paths: list[str]) -> Step:
    """Ask for the first missing value the rep can give, or say what to do first."""
    t = ctx.t
    roots = {path.partition(".")[0] for path in paths}
    if roots & {"quote", "price_table"}:
        return goto("fill", Reply(
            t("This document lists the deal's quote, and the deal has no quote yet. Make the "
              "quote first; then ask for the document again."),
            buttons=((Button(t("Make the quote now"), value="quote"),),)))
    if "last_meeting" in roots:
        return done(t("This template thanks the customer for a meeting, and no visit or "
                      "meeting with them is in the history. Log it first (/visit), or pick "
                      "another template."))
    if "seller" in roots:
        details = ", ".join(t(SELLER_DETAILS.get(p.partition(".")[2], p.partition(".")[2]))
                            for p in paths if p.startswith("seller."))
        return done(t("Your company's {details} is not set, and the document needs it. An "
                      "admin sets it with /org (or sfa org set).", details=details))
    askable = [p for p in paths if p in ASKABLE or p.partition(".")[0] in
               ("customer", "contact", "deal", "rep")]
    if len(askable) < len(paths):
        odd = ", ".join(f"“{p}”" for p in paths if p not in askable)
        return done(t("The template asks for something no data fills ({names}). Ask an admin "
                      "to correct the template.", names=odd))
    path = askable[0]
    ctx.data["asking"] = path
    if path in ASKABLE:
        what = t(ASKABLE[path])
    else:
        what = t("“{detail}” of the {group}", detail=path.partition(".")[2].replace("_", " "),
                 group=t(GROUP_WORDS[path.partition(".")[0]]))
    return goto("fill", Reply(
        t("The document needs {what}, and the deal's data does not have it. Type it (it is "
          "used for this document only), or tap Leave out.", what=what),
        buttons=((Button(t("Leave out"), value="skip"),),)))


GROUP_WORDS = {"customer": N_("customer"), "contact": N_("contact"), "deal": N_("deal"),
               "rep": N_("rep")}


async def fill_missing(ctx: Ctx, inc: Incoming) -> Step:
    """Take the value typed for a missing placeholder (or leave it out), then try again."""
    if inc.button == "quote":
        return await ctx.begin("quote", deal_id=str(ctx.data["deal_id"]))
    path = ctx.data.get("asking")
    if not path:
        return done(ctx.t("Ask for the document again once the quote is made."))
    if inc.button == "skip":
        value = ""
    elif inc.text and inc.text.strip():
        value = " ".join(inc.text.split())
        if len(value) > MAX_ANSWER:
            return goto("fill", ctx.t("Please keep it under {limit} characters.",
                                      limit=MAX_ANSWER))
    else:
        return goto("fill", Reply(ctx.t("Type it, or tap Leave out."),
                                  buttons=((Button(ctx.t("Leave out"), value="skip"),),)))
    ctx.data["answers"] = {**(ctx.data.get("answers") or {}), path: value}
    ctx.data.pop("asking", None)
    return _generate(ctx, int(ctx.data["template_id"]))


# -- mailing suggestions -----------------------------------------------------------------------
def _draft(t: Translator, item: Suggestion, rep: str) -> str:
    params = {"contact": item.contact_name or t("Sir or Madam"), "company": item.company_name,
              "rep": rep, **item.params}
    for key in ("when", "valid_until"):
        if params.get(key):
            value = str(params[key])
            params[key] = (t.date(datetime.fromisoformat(value)) if "T" in value
                           else t.date(date.fromisoformat(value)))
    if item.kind == "brochure":
        params.setdefault("industry", "")
    return t(DRAFTS[item.kind], **params)


async def what_to_send(ctx: Ctx, inc: Incoming) -> Step:
    """List the next materials worth sending, each with a drafted message."""
    items = mailing.suggestions(ctx.session, ctx.user, ctx.now, limit=6)
    if not items:
        return done(ctx.t("Nothing to send right now: every customer has what they need."))
    replies = [Reply(ctx.t("Worth sending next ({count}):", count=len(items)))]
    for item in items:
        title = ctx.t(SUGGESTION_TITLES[item.kind], **item.params)
        who = f"{item.company_name}" + (f" — {item.contact_name}" if item.contact_name else "")
        text = f"{title}\n{who}\n\n{_draft(ctx.t, item, ctx.user.name)}"
        arg = f"{item.company_id}~{item.material}"
        label = ctx.t("Mark sent: {company}", company=item.company_name[:24])
        buttons = (((Button(label, action="mail.sent", arg=arg),),)
                   if len(arg.encode()) <= 50 else ())
        replies.append(Reply(text, buttons=buttons))
    return Step("__end__", replies)


async def mark_sent(ctx: Ctx, arg: str) -> Step:
    """Record a suggested material as sent (button)."""
    company_text, _, material = arg.partition("~")
    if not company_text.isdigit():
        return done(ctx.t("That suggestion is no longer valid."))
    row = mailing.mark_sent(ctx.session, ctx.user, int(company_text), material, ctx.now)
    return done(ctx.t("Noted: {material} sent on {date}.",
                      material=material_label(ctx.t, row.material, session=ctx.session),
                      date=ctx.t.date(row.sent_at)))


def register(registry: Registry) -> None:
    """Register proposals, mailing suggestions, "my week" and the calendar-file action."""
    registry.add_errors(ERRORS)
    registry.add_phrasings(*documents_phrasings.PHRASINGS)
    registry.add_flow(Flow(
        "proposal", start=start_proposal, roles=PROPOSAL_ROLES,
        commands=("proposal",), states={"deal": choose_deal, "template": choose_template,
                                        "fill": fill_missing},
        accepts={"deal": "button", "template": "button", "fill": "text"},
        help=N_("A proposal or contract summary for a deal, as a PDF"),
        ongoing=ongoing(N_("Still preparing the proposal."))))
    registry.add_flow(Flow("what_to_send", start=what_to_send, roles=PROPOSAL_ROLES,
                           commands=("mailing",),
                           help=N_("What should I send? Brochures, thank-yous, reminders")))
    registry.add_action(Action("mail.sent", mark_sent, roles=PROPOSAL_ROLES, group_ok=False))
    registry.add_flow(Flow("my_week", start=my_week, roles=AGENDA_ROLES, commands=("week",),
                           help=N_("Your week: meetings, follow-ups and contact-by dates")))
    registry.add_action(Action("agenda.ics", send_ics, roles=AGENDA_ROLES, group_ok=False))
