"""Log a visit or call in a few taps; record material sent; check in with a location.

"log visit hendro" -> outcome (tap) -> notes (typed, or Skip) -> next step (tap) -> saved.
Once the contact is chosen, the question also offers one form (kind, outcome, notes, next-step
date): Slack shows it as a modal; other doors show its button, and pressing it asks in text.
Nothing is written until the last step; a location shared afterwards checks the visit in.

```mermaid
stateDiagram-v2
    [*] --> who: no clear contact
    [*] --> kind: contact clear, kind unknown
    [*] --> outcome: contact and kind clear
    who --> kind
    who --> outcome
    kind --> outcome
    kind --> [*]: form submitted (saved)
    outcome --> notes
    outcome --> [*]: form submitted (saved)
    notes --> next
    next --> date: Pick a date
    next --> [*]: saved
    date --> [*]: saved
```
"""

from __future__ import annotations

from datetime import date, datetime, time

from bot.conversations import dates, fieldday, locations
from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.lookup import KIND_LABELS, _clean_product, company_name, match_value
from bot.conversations.messages import (
    Button,
    Form,
    FormField,
    FormReply,
    Incoming,
    Reply,
    button_rows,
    form_values,
)
from bot.conversations.phrasings import visit as visit_phrasings
from bot.conversations.registry import Registry
from bot.i18n import N_
from core import activities, geo
from core import contacts as svc
from core.errors import DomainError
from core.models import Company, Contact

ERRORS = {
    "visit.bad_kind": N_("Unknown kind {kind}: use visit, call, meeting or e-mail."),
    "visit.bad_outcome": N_("Please choose one of the outcome buttons."),
    "visit.contact_company_mismatch": N_("That contact does not work at that company."),
    "visit.notes_too_long": N_("Notes can be at most {limit} characters. Please shorten them."),
    "visit.date_in_past": N_("That date is in the past. Pick a later date."),
    "visit.bad_date": N_(
        "I could not read \"{text}\" as a date. Type it like 2026-03-10, 10/3 or friday, "
        "optionally with a time like 14:30."),
    "visit.next_too_long": N_("Say the next step in at most {limit} characters."),
    "visit.material_missing": N_("Say which material was sent."),
    "visit.bad_location": N_("That location is not valid."),
    "visit.nothing_to_check_in": N_(
        "You have no visit logged in the last hours to check in to. Log the visit first "
        "(e.g. \"log visit Hendro\"), then share your location."),
}

KIND_WORDS = {"visit": "visit", "call": "call", "meeting": "meeting", "email": "email",
              "e-mail": "email", "kunjungan": "visit", "telepon": "call", "panggilan": "call",
              "rapat": "meeting", "pertemuan": "meeting", "surel": "email"}
KIND_BUTTONS = (("visit", N_("Visit")), ("call", N_("Call")), ("meeting", N_("Meeting")),
                ("email", N_("E-mail")))
OUTCOME_BUTTONS = (("positive", N_("👍 Positive")), ("neutral", N_("😐 Neutral")),
                   ("negative", N_("👎 Not interested")), ("no_answer", N_("📵 Not reached")))
MAX_NEXT_NOTE = 200  # what the next step is ("send the quote"), kept on its follow-up
FORM_VALUE = "form"
FORM_BUTTON = N_("📝 All in one form")
NEXT_BUTTONS = (("tomorrow", N_("Tomorrow")), ("3days", N_("In 3 days")),
                ("nextweek", N_("Next week")), ("pick", N_("Pick a date")),
                ("none", N_("No next step")))


# -- choosing the contact ---------------------------------------------------------------------
async def begin(ctx: Ctx, inc: Incoming) -> Step:
    kind = KIND_WORDS.get((ctx.args.get("kind") or "").lower())
    if kind:
        ctx.data["kind"] = kind
    if ctx.args.get("contact_id"):
        contact = svc.visible_contact(ctx.session, ctx.user, int(ctx.args["contact_id"]))
        return _with_contact(ctx, contact.company, contact)
    if ctx.args.get("company_id") and not ctx.args.get("text"):
        return _ask_contact_of(ctx, svc.visible_company(ctx.session, ctx.user,
                                                        int(ctx.args["company_id"])))
    text = (ctx.args.get("text") or ctx.args.get("text2") or "").strip()
    if not text:
        return goto("who", ctx.t("Who did you meet or call? Type a name, a company or a "
                                 "phone number."))
    return _resolve(ctx, text)


def _resolve(ctx: Ctx, text: str) -> Step:
    matches = svc.find_any(ctx.session, ctx.user, text, 5, index=ctx.services.contacts)
    if not matches and (elsewhere := svc.handled_elsewhere(
            ctx.session, ctx.user, text, ctx.services.contacts)) is not None:
        return done(ctx.t("{company} is handled by another team, so you cannot log a visit "
                          "there. Ask your manager if you need it.",
                          company=company_name(elsewhere)))
    if not matches:
        return goto("who", ctx.t("I found nobody matching \"{query}\" that you can see. Type "
                                 "another name, or /cancel.", query=text[:60]))
    if svc.is_clear(matches, query=text):
        m = matches[0]
        if m.kind == "contact":
            return _with_contact(ctx, m.record.company, m.record)
        return _ask_contact_of(ctx, m.record)
    buttons = []
    for m in matches:
        label = (f"{m.record.name} · {company_name(m.record.company)}" if m.kind == "contact"
                 else company_name(m.record))
        buttons.append(Button(label[:60], value=match_value(m)))
    return goto("who", ctx.reply(ctx.t("Did you mean…?"), *button_rows(buttons, 1)))


async def on_who(ctx: Ctx, inc: Incoming) -> Step:
    value = inc.button or ""
    if not value:
        text = (inc.text or "").strip()
        if not text:
            return goto("who", ctx.t("Type a name, a company or a phone number."))
        return _resolve(ctx, text)
    if value.startswith("c"):
        return _ask_contact_of(ctx, svc.visible_company(ctx.session, ctx.user, int(value[1:])))
    if value.startswith("p"):
        contact = svc.visible_contact(ctx.session, ctx.user, int(value[1:]))
        return _with_contact(ctx, contact.company, contact)
    if value.startswith("n"):  # a company, nobody in particular
        company = svc.visible_company(ctx.session, ctx.user, int(value[1:]))
        return _with_contact(ctx, company, None)
    raise DomainError("contacts.not_found")


def _ask_contact_of(ctx: Ctx, company: Company) -> Step:
    people = svc.contacts_of(ctx.session, company)[:6]
    buttons = [Button(p.name[:40], value=f"p{p.id}") for p in people]
    buttons.append(Button(ctx.t("Nobody in particular"), value=f"n{company.id}"))
    return goto("who", ctx.reply(ctx.t("Whom at {company}?", company=company_name(company)),
                                 *button_rows(buttons, 2)))


def _with_contact(ctx: Ctx, company: Company, contact: Contact | None) -> Step:
    ctx.data["company_id"] = company.id
    ctx.data["contact_id"] = contact.id if contact else None
    ctx.data["who"] = (f"{contact.name} ({company_name(company)})" if contact
                       else company_name(company))
    if ctx.data.get("kind"):
        return _ask_outcome(ctx)
    return _ask_kind(ctx, with_form=True)


def _ask_kind(ctx: Ctx, *, with_form: bool) -> Step:
    buttons = [Button(ctx.t(label), value=value) for value, label in KIND_BUTTONS]
    text = ctx.t("{who}: what kind of contact?", who=ctx.data["who"])
    if not with_form:
        return goto("kind", ctx.reply(text, button_rows(buttons, 4)[0]))
    return goto("kind", _with_form(ctx, text, (button_rows(buttons, 4)[0],)))


def _with_form(ctx: Ctx, text: str, rows: tuple[tuple[Button, ...], ...],
               values: dict[str, str] | None = None) -> FormReply:
    """The question with its buttons, plus the form (filled with `values` after a refusal)."""
    form_row = (Button(ctx.t(FORM_BUTTON), value=FORM_VALUE),)
    return FormReply(text=text, buttons=(*rows, form_row), form=_visit_form(ctx, values or {}))


def _visit_form(ctx: Ctx, values: dict[str, str]) -> Form:
    """Kind, outcome, notes and the next-step date at once (the contact is already chosen)."""
    t = ctx.t
    return Form(
        title=t("Log a contact"), submit_label=t("Save"), value=FORM_VALUE, fields=(
            FormField("kind", t("Kind"), kind="choice",
                      options=tuple((v, t(label)) for v, label in KIND_BUTTONS),
                      initial=values.get("kind") or ctx.data.get("kind") or "visit"),
            FormField("outcome", t("How did it go?"), kind="choice",
                      options=tuple((v, t(label)) for v, label in OUTCOME_BUTTONS),
                      initial=values.get("outcome", "")),
            FormField("notes", t("Notes"), kind="long_text", required=False,
                      max_length=activities.MAX_NOTES, initial=values.get("notes", "")),
            FormField("next_date", t("Next step on"), kind="date", required=False,
                      hint=t("Leave it empty for no next step."),
                      initial=values.get("next_date", "")),
        ))


def _from_form(ctx: Ctx, values: dict[str, str], question: Step) -> Step:
    """Save the visit from the submitted form; a value only the core can refuse (a date in
    the past, notes too long) answers with the reason and the form again, filled in."""
    kind, outcome = values.get("kind", ""), values.get("outcome", "")
    if kind not in {k for k, _ in KIND_BUTTONS} or outcome not in {
            v for v, _ in OUTCOME_BUTTONS}:
        raise DomainError("visit.bad_outcome")  # a door always checks choices; a forged one
    notes = (values.get("notes") or "").strip() or None
    try:
        if notes and len(notes) > activities.MAX_NOTES:
            raise DomainError("visit.notes_too_long", limit=activities.MAX_NOTES)
        due = typed_due(ctx, values["next_date"]) if values.get("next_date") else None
    except DomainError as exc:
        rows = question.replies[-1].buttons[:-1] if question.replies else ()
        text = "\n".join([ctx.t.error(exc.code, exc.params),
                          ctx.t("Correct it in the form, or answer here step by step.")])
        return goto(question.next, _with_form(ctx, text, rows, values))
    ctx.data.update(kind=kind, outcome=outcome, notes=notes)
    return _save(ctx, due)


async def on_kind(ctx: Ctx, inc: Incoming) -> Step:
    values = form_values(inc)
    if values is not None:
        return _from_form(ctx, values, _ask_kind(ctx, with_form=True))
    if inc.button == FORM_VALUE:  # a door without forms: ask in text
        return _ask_kind(ctx, with_form=False)
    value = inc.button or KIND_WORDS.get((inc.text or "").strip().lower())
    if value not in {k for k, _ in KIND_BUTTONS}:
        buttons = [Button(ctx.t(label), value=v) for v, label in KIND_BUTTONS]
        return goto("kind", ctx.reply(ctx.t("Please tap one: visit, call, meeting or e-mail."),
                                      buttons))
    ctx.data["kind"] = value
    return _ask_outcome(ctx)


def _ask_outcome(ctx: Ctx, *, with_form: bool = True) -> Step:
    buttons = [Button(ctx.t(label), value=value) for value, label in OUTCOME_BUTTONS]
    kind = ctx.t(KIND_LABELS[ctx.data["kind"]])
    text = ctx.t("How did the {kind} with {who} go?", kind=kind, who=ctx.data["who"])
    if not with_form:
        return goto("outcome", ctx.reply(text, *button_rows(buttons, 2)))
    return goto("outcome", _with_form(ctx, text, button_rows(buttons, 2)))


OUTCOME_WORDS = {"positive": "positive", "good": "positive", "positif": "positive",
                 "baik": "positive", "neutral": "neutral", "netral": "neutral",
                 "ok": "neutral", "negative": "negative", "not interested": "negative",
                 "tidak tertarik": "negative", "negatif": "negative",
                 "not reached": "no_answer", "no answer": "no_answer",
                 "tidak terhubung": "no_answer", "tidak diangkat": "no_answer"}


async def on_outcome(ctx: Ctx, inc: Incoming) -> Step:
    values = form_values(inc)
    if values is not None:
        return _from_form(ctx, values, _ask_outcome(ctx))
    if inc.button == FORM_VALUE:  # a door without forms: ask in text
        return _ask_outcome(ctx, with_form=False)
    typed = OUTCOME_WORDS.get((inc.text or "").strip().lower().strip(".!"))
    if typed:
        inc = Incoming(inc.platform, inc.chat_id, inc.user_id, button=typed)
    if inc.button not in {v for v, _ in OUTCOME_BUTTONS}:
        buttons = [Button(ctx.t(label), value=value) for value, label in OUTCOME_BUTTONS]
        return goto("outcome", ctx.reply(ctx.t("Please tap one of the outcomes."),
                                         *button_rows(buttons, 2)))
    ctx.data["outcome"] = inc.button
    return goto("notes", ctx.reply(ctx.t("Any notes? Type them, or tap Skip."),
                                   [Button(ctx.t("Skip"), value="skip")]))


async def on_notes(ctx: Ctx, inc: Incoming) -> Step:
    if inc.button == "skip":
        ctx.data["notes"] = None
    elif inc.text:
        if len(inc.text) > activities.MAX_NOTES:
            raise DomainError("visit.notes_too_long", limit=activities.MAX_NOTES)
        ctx.data["notes"] = inc.text
    else:
        return goto("notes", ctx.reply(ctx.t("Type your notes, or tap Skip."),
                                       [Button(ctx.t("Skip"), value="skip")]))
    return _ask_next(ctx)


def _ask_next(ctx: Ctx, prefix: str | None = None) -> Step:
    buttons = [Button(ctx.t(label), value=value) for value, label in NEXT_BUTTONS]
    what = ctx.data.get("next_note")
    if what:  # what to do is known ("send the quote"): only the day is asked
        text = ctx.t("Next step: {what}. When?", what=what)
    else:
        text = ctx.t("Next step: when should you follow up?")
    return goto("next", ctx.reply(f"{prefix}\n{text}" if prefix else text,
                                  *button_rows(buttons, 3)))


async def on_next(ctx: Ctx, inc: Incoming) -> Step:
    value = inc.button
    if value is None and inc.text:
        return _typed_next(ctx, inc.text)
    if value == "pick":
        return goto("date", ctx.t("Type the date, e.g. friday, 15 Dec, next friday 10:00, "
                                  "in 2 weeks or 2026-03-10 14:30."))
    if value == "none":
        ctx.data.pop("next_note", None)
        return _save(ctx, None)
    if value in activities.NEXT_CHOICES:
        return _save(ctx, activities.due_for(value, ctx.user.timezone, ctx.now))
    return _ask_next(ctx, ctx.t("Please tap one of the choices."))


def _typed_next(ctx: Ctx, text: str) -> Step:
    """The next step typed in words: its day, and what to do when more is said ("send the
    quote next week", "telepon lagi hari jumat"); what to do without a day asks the day."""
    when, rest = _when_and_what(ctx, text)
    if rest:
        if len(rest) > MAX_NEXT_NOTE:
            raise DomainError("visit.next_too_long", limit=MAX_NEXT_NOTE)
        ctx.data["next_note"] = rest
    if when is None:
        if not rest:
            raise DomainError("visit.bad_date", text=text.strip()[:40])
        return _ask_next(ctx)
    return _save(ctx, _due(ctx, when))


async def on_date(ctx: Ctx, inc: Incoming) -> Step:
    text = (inc.text or "").strip()
    if not text:
        return goto("date", ctx.t("Type the date, e.g. friday, 15 Dec, next friday 10:00, "
                                  "in 2 weeks or 2026-03-10 14:30."))
    when, rest = _when_and_what(ctx, text)
    if when is None:
        return goto("date", ctx.t.error("visit.bad_date", {"text": text[:40]}))
    if rest and len(rest) <= MAX_NEXT_NOTE:
        ctx.data["next_note"] = rest
    try:
        due = _due(ctx, when)
    except DomainError as exc:
        return goto("date", ctx.t.error(exc.code, exc.params))
    return _save(ctx, due)


def _when_and_what(ctx: Ctx, text: str) -> tuple[datetime | date | None, str]:
    """A typed answer to "when?": the whole of it as a date ("minggu", "besok jam 10"), else
    the date inside it and the rest ("send the quote next week")."""
    whole = dates.parse_when(text, ctx.t.locale, ctx.now, ctx.user.timezone)
    if whole is not None:
        return whole, ""
    when, rest = dates.find_when(text, ctx.t.locale, ctx.now, ctx.user.timezone)
    return when, " ".join(rest.split())


def typed_due(ctx: Ctx, text: str) -> datetime:
    """A next step's typed date (one understanding: bot.conversations.dates), a day alone at
    09:00; refused when it is not a date or is past."""
    value = dates.parse_when(text, ctx.t.locale, ctx.now, ctx.user.timezone)
    if value is None:
        raise DomainError("visit.bad_date", text=text.strip()[:40])
    return _due(ctx, value)


def _due(ctx: Ctx, value: datetime | date) -> datetime:
    """A next step's moment: a day alone at 09:00 in the rep's zone; refused when past."""
    due = dates.moment(value, ctx.user.timezone, time(activities.DEFAULT_HOUR))
    if due <= ctx.now:
        raise DomainError("visit.date_in_past")
    return due


def _save(ctx: Ctx, due) -> Step:
    t = ctx.t
    company = svc.visible_company(ctx.session, ctx.user, int(ctx.data["company_id"]))
    contact = (svc.visible_contact(ctx.session, ctx.user, int(ctx.data["contact_id"]))
               if ctx.data.get("contact_id") else None)
    logged = activities.log_activity(
        ctx.session, ctx.user, company=company, contact=contact, kind=ctx.data["kind"],
        outcome=ctx.data.get("outcome"), notes=ctx.data.get("notes"), now=ctx.now,
        next_due=due, next_note=ctx.data.get("next_note") if due is not None else None)
    kind = t(KIND_LABELS[ctx.data["kind"]])
    lines = [t("Saved: {kind} with {who}.", kind=kind, who=ctx.data["who"])]
    if logged.follow_up is not None and logged.follow_up.note:
        lines.append(t("Next step on {when}: {what}. I will remind you.",
                       when=t.datetime(logged.follow_up.due_at), what=logged.follow_up.note))
    elif logged.follow_up is not None:
        lines.append(t("Next step on {when}; I will remind you.",
                       when=t.datetime(logged.follow_up.due_at)))
    buttons = []
    if contact is not None:
        buttons.append(Button(t("Brochure sent"), action="visit.material",
                              arg=str(contact.id)))
    saved = ctx.reply("\n".join(lines), buttons)
    if ctx.data["kind"] != "visit":
        return done(saved)
    # A message of its own: it carries the one-tap "share location" where a door has one.
    return done(saved, Reply(t("Share your location now to check in (optional)."),
                             ask_location=t(locations.SHARE_LABEL)))


# -- material sent ----------------------------------------------------------------------------
async def material_begin(ctx: Ctx, inc: Incoming) -> Step:
    if ctx.args.get("contact_id"):
        contact = svc.visible_contact(ctx.session, ctx.user, int(ctx.args["contact_id"]))
        ctx.data["company_id"], ctx.data["contact_id"] = contact.company_id, contact.id
    else:
        text = (ctx.args.get("text") or "").strip()
        if not text:
            return goto("mwho", ctx.t("Sent to whom? Type a name or a company."))
        step = _material_who(ctx, text)
        if step is not None:
            return step
    product = _clean_product(ctx.args.get("product") or "")
    if product:
        return _material_save(ctx, product)
    return goto("product", ctx.t("Which product's brochure (or which material)? Type its SKU "
                                 "or name."))


def _material_who(ctx: Ctx, text: str) -> Step | None:
    matches = svc.find_any(ctx.session, ctx.user, text, 5, index=ctx.services.contacts)
    if not matches:
        return goto("mwho", ctx.t("I found nobody matching \"{query}\" that you can see. Type "
                                  "another name, or /cancel.", query=text[:60]))
    if svc.is_clear(matches, query=text):
        m = matches[0]
        ctx.data["company_id"] = m.company.id
        ctx.data["contact_id"] = m.record.id if m.kind == "contact" else None
        return None
    buttons = [Button(((f"{m.record.name} · {company_name(m.record.company)}")
                       if m.kind == "contact" else company_name(m.record))[:60],
                      value=match_value(m)) for m in matches]
    return goto("mwho", ctx.reply(ctx.t("Did you mean…?"), *button_rows(buttons, 1)))


async def on_material_who(ctx: Ctx, inc: Incoming) -> Step:
    value = inc.button or ""
    if value.startswith("p"):
        contact = svc.visible_contact(ctx.session, ctx.user, int(value[1:]))
        ctx.data["company_id"], ctx.data["contact_id"] = contact.company_id, contact.id
    elif value.startswith("c"):
        company = svc.visible_company(ctx.session, ctx.user, int(value[1:]))
        ctx.data["company_id"], ctx.data["contact_id"] = company.id, None
    else:
        step = _material_who(ctx, (inc.text or "").strip() or "?")
        if step is not None:
            return step
    if ctx.data.get("product"):
        return _material_save(ctx, ctx.data["product"])
    return goto("product", ctx.t("Which product's brochure (or which material)? Type its SKU "
                                 "or name."))


async def on_material_product(ctx: Ctx, inc: Incoming) -> Step:
    text = _clean_product(inc.text or "")
    if not text:
        return goto("product", ctx.t("Type the product's SKU or name."))
    return _material_save(ctx, text)


def _material_save(ctx: Ctx, text: str) -> Step:
    product = svc.resolve_product(ctx.session, text)
    company = svc.visible_company(ctx.session, ctx.user, int(ctx.data["company_id"]))
    contact = (svc.visible_contact(ctx.session, ctx.user, int(ctx.data["contact_id"]))
               if ctx.data.get("contact_id") else None)
    activities.record_material(ctx.session, ctx.user, company=company, contact=contact,
                               material=f"brochure:{product.sku}", product_sku=product.sku,
                               now=ctx.now)
    who = f"{contact.name} ({company_name(company)})" if contact else company_name(company)
    return done(ctx.t("Recorded: brochure for {product} sent to {who}.", product=product.name,
                      who=who))


# -- check-in and actions ---------------------------------------------------------------------
async def checkin(ctx: Ctx, inc: Incoming) -> Step:
    """A location shared outside a flow: check in the latest visit against the customer's
    site (verified within the radius), or else list the customers near here."""
    point = locations.location_of(inc, ctx.args)
    if point is None:
        return locations.ask_location(ctx, "where", ctx.t(
            "Share your location to check in to your latest visit."))
    return await fieldday.check_in_or_near(ctx, point)


async def checkin_where(ctx: Ctx, inc: Incoming) -> Step:
    """Take the location asked for."""
    try:
        point = locations.location_of(inc)
    except geo.ShortMapLink:
        return locations.ask_location(ctx, "where", ctx.t(locations.SHORT_LINK))
    if point is None:
        return done(ctx.t("Share your location to check in to your latest visit."))
    return await fieldday.check_in_or_near(ctx, point)


async def visit_action(ctx: Ctx, arg: str) -> Step:
    try:
        contact_id = str(int(arg))
    except ValueError:
        raise DomainError("contacts.not_found") from None
    return await ctx.begin("log_visit", contact_id=contact_id)


async def material_action(ctx: Ctx, arg: str) -> Step:
    try:
        contact_id = str(int(arg))
    except ValueError:
        raise DomainError("contacts.not_found") from None
    return await ctx.begin("send_material", contact_id=contact_id)


def register(registry: Registry) -> None:
    """Register the visit, material and check-in flows with their intents (EN + ID)."""
    registry.add_errors(ERRORS)
    registry.add_phrasings(*visit_phrasings.PHRASINGS)
    registry.add_flow(Flow(
        "log_visit", start=begin, roles=FIELD_ROLES, commands=("visit", "log"),
        help=N_("Log a visit, call, meeting or e-mail with its next step"),
        accepts={"who": "customer", "kind": "button", "outcome": "button", "notes": "text",
                 "next": "date", "date": "date"},
        states={"who": on_who, "kind": on_kind, "outcome": on_outcome, "notes": on_notes,
                "next": on_next, "date": on_date},
        ongoing=ongoing(N_("Still logging the visit with {who}."), N_("Still logging a visit."))))
    registry.add_flow(Flow(
        "send_material", start=material_begin, roles=FIELD_ROLES, commands=("brochure",),
        help=N_("Record a brochure or other material sent to a contact"),
        states={"mwho": on_material_who, "product": on_material_product},
        accepts={"mwho": "customer", "product": "any"},
        ongoing=ongoing(N_("Still recording the material sent."))))
    registry.add_flow(Flow("visit_checkin", start=checkin, roles=FIELD_ROLES,
                           states={"where": checkin_where}, accepts={"where": "any"}))
    registry.location_flow = "visit_checkin"
    registry.add_action(Action("visit.contact", visit_action, roles=FIELD_ROLES,
                               group_ok=False))
    registry.add_action(Action("visit.material", material_action, roles=FIELD_ROLES,
                               group_ok=False))
