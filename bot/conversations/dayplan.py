"""Plan my day: the day's visits in order with arrival times, drop / pin buttons, a maps
route and an .ics (core.dayplan makes the plan)."""

from __future__ import annotations

from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done
from bot.conversations.lookup import company_name
from bot.conversations.messages import (
    Attachment,
    Button,
    Incoming,
    Reply,
)
from bot.conversations.registry import Registry
from bot.conversations.understanding.intents import Phrasings
from bot.i18n import N_, Translator
from core import dayplan
from core.errors import DomainError
from core.models import Company

# -- plan my day ---------------------------------------------------------------------------
REASON_WORDS = {
    "overdue": N_("follow-up overdue"), "due": N_("follow-up due"), "meeting": N_("meeting"),
    "stale_deal": N_("deal untouched for weeks"), "deal": N_("open deal"),
    "nearby": N_("nearby"),
}


def plan_settings(ctx: Ctx) -> dayplan.PlanSettings:
    return dayplan.PlanSettings.from_settings(ctx.services.settings)


def plan_replies(ctx: Ctx, plan: dayplan.Plan, prefix: str | None = None) -> list[Reply]:
    """The plan in words, its drop / pin buttons, a maps link and the .ics."""
    t = ctx.t
    head = [prefix] if prefix else []
    if not plan.stops:
        lines = [*head, t("Nothing to plan for {day}: no follow-ups due, meetings or open deals "
                          "at customers with a location. Share your location to see the "
                          "customers near you.", day=t.date(plan.day))]
        lines += _no_site_lines(t, plan)
        return [Reply("\n".join(lines))]
    lines = [*head, t.n("🗺 Your day, {day}: {count} visit, about {km} km on the road.",
                        "🗺 Your day, {day}: {count} visits, about {km} km on the road.",
                        len(plan.stops), day=t.date(plan.day), km=f"{plan.road_km:.0f}")]
    if plan.start is None:
        lines.append(t("(No recent location: the route starts at the first stop. Share your "
                       "location first for a route from where you are.)"))
    rows: list[tuple[Button, ...]] = []
    for i, stop in enumerate(plan.stops, 1):
        why = ", ".join(t(REASON_WORDS[r]) for r in stop.reasons if r in REASON_WORDS)
        travel = (t("{minutes} min drive ({km} km)", minutes=stop.travel_min,
                    km=f"{stop.road_km:.1f}") if stop.road_km else "")
        pin = " 📌" if stop.pinned else ""
        name = company_name(Company(name=stop.name, legal_form=stop.legal_form))
        lines.append(f"{i}. {t.time(stop.arrive_at)} {name}{pin} — "
                     + " · ".join(x for x in (why, travel) if x))
        rows.append((Button(t("❌ Drop {n}", n=i), action="field.drop",
                            arg=str(stop.company_id)),
                     Button(t("📌 Pin {n}", n=i), action="field.pin",
                            arg=str(stop.company_id))))
    if plan.left_out:
        lines.append(t("No room today for: {names}.", names=", ".join(
            c.company.name for c in plan.left_out[:5])))
    lines += _no_site_lines(t, plan)
    link = plan.maps_link()
    if link:
        lines.append(t("🧭 Route: {link}", link=link))
    lines.append(t("Drop a stop or pin one to keep it; the rest is planned again."))
    ics = Attachment(filename=f"day-{plan.day.isoformat()}.ics", mime="text/calendar",
                     data=dayplan.plan_ics(plan, ctx.user),
                     caption=t("Your visits as calendar entries."))
    return [Reply("\n".join(lines), buttons=tuple(rows)), Reply(attachment=ics)]


def _no_site_lines(t: Translator, plan: dayplan.Plan) -> list[str]:
    if not plan.no_site:
        return []
    return [t("No location on file (set it when you are there): {names}.",
              names=", ".join(c.company.name for c in plan.no_site[:5]))]


async def plan_start(ctx: Ctx, inc: Incoming) -> Step:
    """Plan the day: the visits in order, arrival times, a maps link and an .ics."""
    plan = dayplan.plan_day(ctx.session, ctx.user, ctx.now, plan_settings(ctx))
    return done(*plan_replies(ctx, plan))


def _int(text: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        raise DomainError("contacts.not_found") from None


async def act_plan(ctx: Ctx, arg: str) -> Step:
    """The morning message's "plan my day" button."""
    return await ctx.begin("plan_day")


async def act_drop(ctx: Ctx, arg: str) -> Step:
    """Drop a stop and plan the rest again."""
    plan = dayplan.plan_day(ctx.session, ctx.user, ctx.now, plan_settings(ctx),
                            drop=_int(arg))
    return done(*plan_replies(ctx, plan, ctx.t("Dropped; planned again.")))


async def act_pin(ctx: Ctx, arg: str) -> Step:
    """Pin a stop (it stays whatever else changes) and plan again."""
    plan = dayplan.plan_day(ctx.session, ctx.user, ctx.now, plan_settings(ctx), pin=_int(arg))
    return done(*plan_replies(ctx, plan, ctx.t("Pinned; planned again.")))

PLAN_EN = (
    "plan my day", "plan today's route", "what should my route be today",
    "make me a route for today",
    "which customers should I visit today", "plan my visits", "route for today please",
    "organise my day", "who do I visit today and in what order", "optimise my route",
    "build my visit plan", "day plan", "what's the best order for my visits today",
    "plan the day for me", "can you plan my customer visits", "schedule my visits today",
    "what's my visit route today", "route my customer visits", "which customers should I see "
    "today", "customers to visit today in order", "give me today's visit route",
    "plan my route for today's visits", "where should I go today", "best route for my visits",
    "best route for today",
    "order my visits today",
    "shortest drive for my visits today", "in what order should I see my customers today",
    "optimize today's visits",
)

PLAN_ID = (
    "rencanakan hari saya", "rencana kunjungan hari ini", "buatkan rute hari ini",
    "pelanggan mana yang harus saya kunjungi hari ini", "atur kunjungan saya hari ini",
    "rute kunjungan hari ini dong", "susun jadwal kunjungan saya", "rencanakan rute hari ini",
    "urutan kunjungan terbaik hari ini", "tolong rencanakan kunjungan saya",
    "hari ini ke mana aja ya", "bikin rute buat hari ini", "jadwalkan kunjungan saya hari ini",
    "optimalkan rute saya", "plan kunjungan hari ini", "rencanain hari aku dong",
    "rute kunjungan saya hari ini", "bikinin rute kunjungan dong", "atur rute kunjungan",
    "pelanggan yang dikunjungi hari ini", "hari ini kunjungi siapa aja", "rute terbaik kunjungan",
    "mau ke mana aja hari ini", "urutkan kunjungan pelanggan hari ini",
    "urutan kunjungan saya",
    "susun jadwal kunjungan hari ini",
    "rute tercepat hari ini", "urutin kunjungan hari ini dong", "susun rute kunjunganku",
    "rute kunjungan saya hari ini",
)


def register(registry: Registry) -> None:
    """Register plan my day with its buttons."""
    registry.add_flow(Flow("plan_day", start=plan_start, roles=FIELD_ROLES, commands=("plan",),
                           help=N_("Plan my day: visits in order, arrival times, a route")))
    registry.add_action(Action("field.plan", act_plan, roles=FIELD_ROLES, group_ok=False))
    registry.add_action(Action("field.drop", act_drop, roles=FIELD_ROLES, group_ok=False))
    registry.add_action(Action("field.pin", act_pin, roles=FIELD_ROLES, group_ok=False))
    registry.add_phrasings(Phrasings("plan_day", flow="plan_day", en=PLAN_EN, id=PLAN_ID,
                                     label=N_("Plan my day")))
