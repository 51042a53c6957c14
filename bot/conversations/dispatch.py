"""/newjob: a manager creates a service job (customer, skill, priority, time window,
description, equipment) and dispatches it; core.fieldservice offers it to the best
technician."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from bot.conversations import dates
from bot.conversations.flow import Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.jobs import (
    DISPATCHERS,
    PRIORITY_LABELS,
    SKILL_LABELS,
    SKIP_WORDS,
    assign_rows,
    company_name,
    escalation_text,
)
from bot.conversations.messages import Button, Incoming, Reply, button_rows
from bot.conversations.registry import Registry
from bot.i18n import N_
from core import fieldservice as fs
from core.contacts import find_companies
from core.errors import DomainError
from core.models import Company, User


# -- /newjob ----------------
async def newjob_start(ctx: Ctx, inc: Incoming) -> Step:
    """Create a service job: customer, skill, priority, window, work, equipment."""
    text = ctx.args.get("text", "").strip()
    if text:
        return await _pick_company(ctx, text)
    return goto("company", ctx.t("New service job. Which customer? Type part of the name."))


async def _pick_company(ctx: Ctx, text: str) -> Step:
    matches = find_companies(ctx.session, ctx.user, text, limit=6,
                             index=ctx.services.contacts)
    if not matches:
        return goto("company", ctx.t("No customer of yours matches “{text}”. Type another part "
                                     "of the name, or /cancel.", text=text[:60]))
    wanted = text.strip().lower()
    exact = [m.company for m in matches
             if wanted in (m.company.name.lower(), company_name(m.company).lower())]
    if len(matches) == 1 or len(exact) == 1:
        return _ask_skill(ctx, exact[0] if exact else matches[0].company)
    buttons = [Button(company_name(m.company), value=f"c{m.company.id}") for m in matches]
    return goto("company", Reply.with_buttons(ctx.t("Which one?"), *button_rows(buttons, 1)))


async def newjob_company(ctx: Ctx, inc: Incoming) -> Step:
    """Take the customer (a button from the list, or more of the name)."""
    if inc.button and inc.button.startswith("c") and inc.button[1:].isdigit():
        company = ctx.session.get(Company, int(inc.button[1:]))
        if company is not None:
            return _ask_skill(ctx, company)
    if inc.text:
        return await _pick_company(ctx, inc.text)
    return goto("company", ctx.t("Type part of the customer's name, or /cancel."))


def _ask_skill(ctx: Ctx, company: Company) -> Step:
    ctx.data["company_id"] = company.id
    buttons = [Button(ctx.t(label), value=key) for key, label in SKILL_LABELS.items()]
    return goto("skill", Reply.with_buttons(
        ctx.t("{company}. Which skill does the job need?", company=company_name(company)),
        *button_rows(buttons, 3)))


def _match_choice(ctx: Ctx, inc: Incoming, labels: dict[Any, str]) -> str | None:
    if inc.button:
        return inc.button
    text = (inc.text or "").strip().lower()
    for key, label in labels.items():
        if text in (str(key).lower(), ctx.t(label).lower(), label.lower()):
            return str(key)
    return None


async def newjob_skill(ctx: Ctx, inc: Incoming) -> Step:
    """Take the skill."""
    skill = _match_choice(ctx, inc, SKILL_LABELS)
    if skill not in SKILL_LABELS:
        return goto("skill", ctx.t("Pick one of the skill buttons."))
    ctx.data["skill"] = skill
    buttons = [Button(ctx.t(label), value=str(p)) for p, label in PRIORITY_LABELS.items()]
    return goto("priority", Reply.with_buttons(ctx.t("How urgent is it?"),
                                               *button_rows(buttons, 2)))


async def newjob_priority(ctx: Ctx, inc: Incoming) -> Step:
    """Take the priority."""
    choice = _match_choice(ctx, inc, PRIORITY_LABELS)
    if choice is None and inc.text:
        choice = inc.text.strip().upper().lstrip("P")
    if choice not in ("1", "2", "3", "4"):
        return goto("priority", ctx.t("Pick P1, P2, P3 or P4."))
    priority = int(choice)
    ctx.data["priority"] = priority
    t, now = ctx.t, ctx.now
    asap_end = now + fs.RESPONSE_WINDOW[priority]
    buttons = [Button(t("As soon as possible (by {time})", time=t.datetime(asap_end)),
                      value="asap")]
    local = t.local(now)
    if local.hour < 16:
        buttons.append(Button(t("Today until 17:00"), value="today"))
    buttons.append(Button(t("Tomorrow 08:00–17:00"), value="tomorrow"))
    return goto("window", Reply.with_buttons(t("When should the technician be there?"),
                                             *button_rows(buttons, 1)))


def _window_for(ctx: Ctx, choice: str) -> tuple[datetime, datetime] | None:
    now = ctx.now
    local = ctx.t.local(now)
    if choice == "asap":
        return now, now + fs.RESPONSE_WINDOW[int(ctx.data["priority"])]
    if choice == "today" and local.hour < 16:
        return now, local.replace(hour=17, minute=0, second=0, microsecond=0).astimezone(
            now.tzinfo)
    if choice == "tomorrow":
        day = local.replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=1)
        return day.astimezone(now.tzinfo), (day + timedelta(hours=9)).astimezone(now.tzinfo)
    return None


def _typed_window(ctx: Ctx, text: str) -> tuple[datetime, datetime] | None:
    """A typed day (08:00-17:00 that day) or time (two hours from it) as a window."""
    value = dates.parse_when(text, ctx.t.locale, ctx.now, ctx.user.timezone)
    if value is None:
        return None
    if isinstance(value, datetime):
        return value, value + timedelta(hours=2)
    start = dates.moment(value, ctx.user.timezone, time(8, 0))
    return max(start, ctx.now), start + timedelta(hours=9)


async def newjob_window(ctx: Ctx, inc: Incoming) -> Step:
    """Take the time window."""
    choice = inc.button or {"asap": "asap", "now": "asap", "today": "today", "hari ini": "today",
                            "tomorrow": "tomorrow", "besok": "tomorrow"}.get(
                                (inc.text or "").strip().lower(), "")
    window = _window_for(ctx, choice)
    if window is None and not inc.button and inc.text:
        window = _typed_window(ctx, inc.text)
    if window is None:
        return goto("window", ctx.t("Pick one of the time buttons, or type a day or time "
                                    "(e.g. friday, tomorrow 13:00, 15 Dec)."))
    if window[1] <= ctx.now:
        return goto("window", ctx.t("That time has already passed. Give a time in the future, "
                                    "e.g. tomorrow 10:00, Friday 14:00 or in 3 days."))
    ctx.data["window"] = [window[0].isoformat(), window[1].isoformat()]
    return goto("description", ctx.t("What is the work? Describe it in a sentence or two."))


async def newjob_description(ctx: Ctx, inc: Incoming) -> Step:
    """Take the description."""
    text = (inc.text or "").strip()
    if not 3 <= len(text) <= 2000:
        return goto("description", ctx.t("Describe the job in 3 to 2000 characters."))
    ctx.data["description"] = text
    return goto("equipment", Reply.with_buttons(
        ctx.t("Which equipment is involved (model, serial)? Or press Skip."),
        [Button(ctx.t("Skip"), value="skip")]))


async def newjob_equipment(ctx: Ctx, inc: Incoming) -> Step:
    """Take the equipment (optional) and show the summary."""
    text = (inc.text or "").strip()
    if inc.button == "skip" or text.lower() in SKIP_WORDS:
        ctx.data["equipment"] = None
    elif text:
        if len(text) > 300:
            return goto("equipment", ctx.t("Keep the equipment under 300 characters."))
        ctx.data["equipment"] = text
    else:
        return goto("equipment", ctx.t("Type the equipment, or press Skip."))
    t = ctx.t
    company = ctx.session.get(Company, ctx.data["company_id"])
    start, end = (datetime.fromisoformat(x) for x in ctx.data["window"])
    summary = [
        t("Create this job?"),
        t("Customer: {company}", company=company_name(company)),
        t("Skill: {skill} · {priority}", skill=t(SKILL_LABELS[ctx.data["skill"]]),
          priority=t(PRIORITY_LABELS[ctx.data["priority"]])),
        t("Window: {start} – {end}", start=t.datetime(start), end=t.datetime(end)),
        t("Work: {description}", description=ctx.data["description"]),
    ]
    if ctx.data["equipment"]:
        summary.append(t("Equipment: {equipment}", equipment=ctx.data["equipment"]))
    return goto("confirm", Reply.with_buttons("\n".join(summary), [
        Button(t("Create and dispatch"), value="yes"), Button(t("Cancel"), value="no")]))


async def newjob_confirm(ctx: Ctx, inc: Incoming) -> Step:
    """Create the job and dispatch it."""
    answer = inc.button or (inc.text or "").strip().lower()
    if answer in ("no", "cancel", "batal"):
        return done(ctx.t("Cancelled; no job was created."))
    if answer not in ("yes", "ok", "create", "ya", "buat"):
        return goto("confirm", ctx.t("Press Create and dispatch, or Cancel."))
    company = ctx.session.get(Company, ctx.data["company_id"])
    if company is None:
        raise DomainError("job.not_found")
    start, end = (datetime.fromisoformat(x) for x in ctx.data["window"])
    job = fs.create_job(
        ctx.session, company=company, skill=ctx.data["skill"],
        priority=int(ctx.data["priority"]), description=ctx.data["description"], now=ctx.now,
        created_by=ctx.user, equipment=ctx.data.get("equipment"), window=(start, end))
    offer = fs.dispatch(ctx.session, job, ctx.now)
    t = ctx.t
    if offer is not None:
        tech = ctx.session.get(User, offer.technician_id)
        where = (t(" ({km} km away)", km=f"{offer.distance_km:.1f}")
                 if offer.distance_km is not None else "")
        return done(t("Job #{id} created and offered to {tech}{where}; they have until {time} "
                      "to answer. You will hear when it is taken or if nobody takes it.",
                      id=job.id, tech=tech.name if tech else "?", where=where,
                      time=t.time(offer.expires_at)))
    ctx.session.info["now"] = ctx.now
    return done(Reply.with_buttons(escalation_text(t, ctx.session, job),
                                   *assign_rows(t, ctx.session, job)))


def register(registry: Registry) -> None:
    """Register /newjob."""
    registry.add_flow(Flow(
        "newjob", start=newjob_start, roles=DISPATCHERS, commands=("newjob",),
        help=N_("Create a service job and dispatch it"),
        accepts={"company": "customer", "skill": "button", "priority": "button",
                 "window": "button", "description": "text", "equipment": "text",
                 "confirm": "button"},
        states={"company": newjob_company, "skill": newjob_skill,
                "priority": newjob_priority, "window": newjob_window,
                "description": newjob_description, "equipment": newjob_equipment,
                "confirm": newjob_confirm},
        ongoing=ongoing(N_("Still creating the service job."))))
