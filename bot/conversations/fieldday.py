"""The rep's day in the field: customers near me, a customer's site set from where the rep
stands, visit check-ins verified against the site, live locations (arrival briefs, a
technician's arrival) and the day plan.

Where a location is asked for, the reply carries `ask_location` (Telegram: a one-tap
"📍 Share location" keyboard); a pasted Google Maps / OpenStreetMap link or "lat, lon" is
taken as a location on every door (Slack cannot share one). No online geocoding: a typed
address is answered with what to do instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, goto, intent
from bot.conversations.lookup import company_name
from bot.conversations.messages import (
    LIVE_LOCATION_ACTION,
    Attachment,
    Button,
    Incoming,
    Reply,
    button_rows,
)
from bot.conversations.registry import Registry
from bot.conversations.understanding.intents import Phrasings
from bot.i18n import N_, Translator, register_errors
from core import contacts as svc
from core import customer_brief, dayplan, geo, sites
from core import fieldservice as fs
from core.errors import DomainError
from core.models import Company, NoticeRow, Role, User
from core.models.fieldservice import ServiceJob
from core.notices import enqueue_notice

register_errors({
    "site.bad_location": N_("That location is not valid. Share your location or paste a map "
                            "link."),
    "site.bad_kind": N_("Unknown kind of site {kind}: use head office, delivery or other."),
    "site.not_allowed": N_("Only the account's owner or a manager can set the location of "
                           "{company}."),
    "import.bad_location": N_("the location \"{value}\" is not valid (lat between -90 and 90, "
                              "lon between -180 and 180, or a Google Maps / OpenStreetMap "
                              "link)"),
    "import.short_map_link": N_("\"{value}\" is a shortened map link, which cannot be read "
                                "offline: paste the full link or the lat and lon"),
    "dayplan.not_in_plan": N_("That customer is not in today's plan any more. Send /plan for "
                              "the current one."),
})

SHARE_LABEL = N_("📍 Share location")
NO_GEOCODING = N_("I cannot look up addresses (no online maps service is used). Share your "
                  "location, or paste a Google Maps or OpenStreetMap link (or \"-6.2, 106.8\").")
SHORT_LINK = N_("That is a shortened map link, which I cannot open without going online. In "
                "the maps app, open the place and copy the full link (it contains the "
                "coordinates), or share your location.")
LIST_LIMIT = 6
# A brief is for the moment of arrival: one held longer (quiet hours) is dropped, not sent.
BRIEF_STALE = timedelta(hours=1)


# -- locations in --------------------------------------------------------------------------
def location_of(inc: Incoming, args: dict[str, str] | None = None) -> tuple[float, float] | None:
    """The location an update carries: a shared one, a pasted map link or "lat, lon" text,
    or one handed over in the flow's start arguments. Raises geo.ShortMapLink."""
    if inc.location is not None:
        return inc.location
    if args and args.get("lat") and args.get("lon"):
        try:
            return float(args["lat"]), float(args["lon"])
        except ValueError:
            return None
    return geo.parse_point(inc.text or "") if inc.text else None


def ask_location(ctx: Ctx, state: str, text: str) -> Step:
    """Ask for a location (with the one-tap share button where the door has one)."""
    return goto(state, Reply(text, ask_location=ctx.t(SHARE_LABEL)))


def _unreadable(ctx: Ctx, state: str, inc: Incoming) -> Step:
    """What to say when the answer holds no location."""
    try:
        location_of(inc)
    except geo.ShortMapLink:
        return ask_location(ctx, state, ctx.t(SHORT_LINK))
    if inc.text and geo.looks_like_point(inc.text):  # "95, 200": numbers, not a place
        return ask_location(ctx, state, ctx.t.error("site.bad_location", {}))
    if inc.text and len(inc.text.strip()) > 3:
        return ask_location(ctx, state, ctx.t(NO_GEOCODING))
    return ask_location(ctx, state, ctx.t("Share your location, or paste a map link."))


def fresh_location(ctx: Ctx) -> tuple[float, float] | None:
    """The user's last shared location when it is recent enough to stand for "here"."""
    user = ctx.user
    fresh = timedelta(minutes=ctx.services.settings.location_fresh_minutes)
    if (user.last_lat is None or user.last_lon is None or user.last_location_at is None
            or ctx.now - user.last_location_at > fresh):
        return None
    return user.last_lat, user.last_lon


def remember(ctx: Ctx, point: tuple[float, float]) -> tuple[float, float]:
    """Keep a shared location as the user's last known one."""
    lat, lon = sites.check_point(*point)
    ctx.user.last_lat, ctx.user.last_lon, ctx.user.last_location_at = lat, lon, ctx.now
    return lat, lon


def distance_text(t: Translator, km: float) -> str:
    metres = int(round(km * 1000, -1))
    return t("{m} m", m=metres) if metres < 1000 else t("{km} km", km=f"{km:.1f}")


# -- customers near me -----------------------------------------------------------------------
async def near_start(ctx: Ctx, inc: Incoming) -> Step:
    """List the nearest customers the user may see, from a shared or recent location."""
    try:
        point = location_of(inc, ctx.args)
    except geo.ShortMapLink:
        return ask_location(ctx, "where", ctx.t(SHORT_LINK))
    if point is not None:
        return near_list(ctx, remember(ctx, point))
    point = fresh_location(ctx)
    if point is not None:
        return near_list(ctx, point)
    return ask_location(ctx, "where", ctx.t(
        "Where are you? Share your location and I will list the customers near you."))


async def near_where(ctx: Ctx, inc: Incoming) -> Step:
    """Take the location asked for."""
    try:
        point = location_of(inc)
    except geo.ShortMapLink:
        return ask_location(ctx, "where", ctx.t(SHORT_LINK))
    if point is None:  # a request typed instead was answered by the engine before this step
        return _unreadable(ctx, "where", inc)
    return near_list(ctx, remember(ctx, point))


def near_list(ctx: Ctx, point: tuple[float, float], *, prefix: str | None = None) -> Step:
    """The nearest customers with distance, last contact, open deals, visit/directions."""
    t = ctx.t
    radius = ctx.services.settings.near_radius_km
    found = sites.near(ctx.session, ctx.user, point[0], point[1], radius_km=radius,
                       limit=LIST_LIMIT)
    head = [prefix] if prefix else []
    if not found:
        return done("\n".join([*head, t(
            "No customer of yours has a site within {km} km of here. Sites come from the "
            "import (lat/lon columns) or from \"set this as CUSTOMER's location\".",
            km=f"{radius:g}")]))
    info = sites.near_info(ctx.session, [n.company for n in found])
    lines = [*head, t("Customers near you:")]
    rows: list[tuple[Button, ...]] = []
    for i, n in enumerate(found, 1):
        data = info[n.company.id]
        last = (t("last contact {date}", date=t.date(data.last_contacted_at))
                if data.last_contacted_at else t("never contacted"))
        deals = t.n("{count} open deal", "{count} open deals", data.open_deals)
        lines.append(f"{i}. {company_name(n.company)} — {distance_text(t, n.km)} · {last} · "
                     f"{deals}")
        rows.append((Button(t("📝 Visit {n}", n=i), action="field.visit",
                            arg=str(n.company.id)),
                     Button(t("🧭 Directions {n}", n=i), action="field.directions",
                            arg=str(n.site.id))))
    return done(Reply("\n".join(lines), buttons=tuple(rows)))


async def act_visit(ctx: Ctx, arg: str) -> Step:
    """Log a visit at a listed customer."""
    company = svc.visible_company(ctx.session, ctx.user, _int(arg))
    return await ctx.begin("log_visit", company_id=str(company.id), kind="visit")


async def act_directions(ctx: Ctx, arg: str) -> Step:
    """A maps link to a customer's site (from the last known location when recent)."""
    site = ctx.session.get(sites.CompanySite, _int(arg))
    if site is None:
        raise DomainError("contacts.not_found")
    company = svc.visible_company(ctx.session, ctx.user, site.company_id)
    origin = fresh_location(ctx)
    link = geo.directions_link([(site.lat, site.lon)], origin)
    lines = [t_line for t_line in (
        ctx.t("🧭 {company}", company=company_name(company)),
        site.address or "", link) if t_line]
    return done("\n".join(lines))


def _int(text: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        raise DomainError("contacts.not_found") from None


# -- set a customer's site from where the rep stands --------------------------------------
async def setsite_start(ctx: Ctx, inc: Incoming) -> Step:
    """Set a customer's location: which customer, then where (a share, a link, or here)."""
    text = (ctx.args.get("text") or "").strip()
    try:
        point = location_of(inc, ctx.args) if inc.location or ctx.args.get("lat") else None
        if point is None and text:
            link = geo.parse_point(text)
            if link is not None:
                point = link
                text = geo.without_links(text)
    except geo.ShortMapLink:
        return ask_location(ctx, "where", ctx.t(SHORT_LINK))
    if point is not None:
        ctx.data["lat"], ctx.data["lon"] = point
    if ctx.args.get("company_id"):
        return _setsite_company(ctx, svc.visible_company(ctx.session, ctx.user,
                                                         _int(ctx.args["company_id"])))
    if not text:
        return goto("company", ctx.t("Which customer's location do you want to set?"))
    return _setsite_find(ctx, text)


def _setsite_find(ctx: Ctx, text: str) -> Step:
    matches = [m for m in svc.find_any(ctx.session, ctx.user, text, 6,
                                       index=ctx.services.contacts) if m.kind == "company"]
    if not matches:
        return goto("company", ctx.t("I found no customer matching \"{query}\" that you can "
                                     "see. Type another name, or /cancel.", query=text[:60]))
    if svc.is_clear(matches):
        return _setsite_company(ctx, matches[0].record)
    buttons = [Button(company_name(m.record)[:60], value=f"c{m.record.id}") for m in matches]
    return goto("company", ctx.reply(ctx.t("Which customer?"), *button_rows(buttons, 1)))


async def setsite_company(ctx: Ctx, inc: Incoming) -> Step:
    """Take the customer."""
    if inc.button and inc.button.startswith("c"):
        return _setsite_company(ctx, svc.visible_company(ctx.session, ctx.user,
                                                         _int(inc.button[1:])))
    text = (inc.text or "").strip()
    if not text:
        return goto("company", ctx.t("Type the customer's name, or /cancel."))
    return _setsite_find(ctx, text)


def _setsite_company(ctx: Ctx, company: Company) -> Step:
    if not sites.may_set_site(ctx.session, ctx.user, company):
        raise DomainError("site.not_allowed", company=company_name(company))
    ctx.data["company_id"] = company.id
    if ctx.data.get("lat") is not None:
        return _setsite_save(ctx, (float(ctx.data["lat"]), float(ctx.data["lon"])))
    here = fresh_location(ctx)
    if here is not None:
        return _setsite_save(ctx, here)
    return ask_location(ctx, "where", ctx.t(
        "Share your location at {company} (or paste a map link) to set it as its location.",
        company=company_name(company)))


async def setsite_where(ctx: Ctx, inc: Incoming) -> Step:
    """Take the location."""
    try:
        point = location_of(inc)
    except geo.ShortMapLink:
        return ask_location(ctx, "where", ctx.t(SHORT_LINK))
    if point is None:  # a request typed instead was answered by the engine before this step
        return _unreadable(ctx, "where", inc)
    if inc.location is not None:
        remember(ctx, point)
    if ctx.data.get("company_id") is None:
        ctx.data["lat"], ctx.data["lon"] = point
        return goto("company", ctx.t("Which customer's location do you want to set?"))
    return _setsite_save(ctx, point)


def _setsite_save(ctx: Ctx, point: tuple[float, float]) -> Step:
    t = ctx.t
    before = sites.main_site(ctx.session, int(ctx.data["company_id"]))
    old = (before.lat, before.lon) if before is not None else None
    site = sites.set_site_from_chat(ctx.session, ctx.user, int(ctx.data["company_id"]),
                                    point[0], point[1], now=ctx.now)
    company = site.company
    lines = [t("📍 Saved as the location of {company}: {lat}, {lon}.",
               company=company_name(company), lat=f"{site.lat:.5f}", lon=f"{site.lon:.5f}")]
    if old is not None:
        moved = geo.haversine_km(old[0], old[1], site.lat, site.lon)
        lines.append(t("It moved {distance} from where it was.", distance=distance_text(t, moved)))
    lines.append(t("Check-ins there are now verified within {radius} m.",
                   radius=ctx.services.settings.checkin_radius_m))
    return done("\n".join(lines))


async def act_setsite(ctx: Ctx, arg: str) -> Step:
    """"Set this as X's location" from a check-in: the location just shared."""
    return await ctx.begin("set_site", company_id=str(_int(arg)))


# -- check-in on a location share (the registry's location flow goes through here) ---------
def checkin_reply(ctx: Ctx, company: Company, checkin: sites.VisitCheckin) -> Step:
    """The words for a verified / distant / site-less check-in."""
    t = ctx.t
    name = company_name(company)
    radius = ctx.services.settings.checkin_radius_m
    if checkin.verified:
        return done(t("✅ Checked in at your visit to {company}: verified, {distance} from its "
                      "site.", company=name,
                      distance=distance_text(t, (checkin.distance_m or 0) / 1000)))
    buttons: list[Button] = []
    if sites.may_set_site(ctx.session, ctx.user, company):
        buttons.append(Button(t("📍 Set this as {company}'s location", company=name)[:60],
                              action="field.setsite", arg=str(company.id)))
    if checkin.distance_m is None:
        text = t("Checked in at your visit to {company}. It has no location on file, so the "
                 "check-in is not verified.", company=name)
    else:
        text = t("⚠️ Checked in at your visit to {company}, but {distance} from its site "
                 "(verified means within {radius} m). Kept, marked with the distance.",
                 company=name, distance=distance_text(t, checkin.distance_m / 1000),
                 radius=radius)
    return done(Reply(text, buttons=(tuple(buttons),) if buttons else ()))


async def check_in_or_near(ctx: Ctx, point: tuple[float, float]) -> Step:
    """A location shared outside any flow: it checks in the latest visit not checked in
    yet (logged in the last hours); otherwise it lists the customers near here."""
    point = remember(ctx, point)
    visit = sites.latest_visit(ctx.session, ctx.user, ctx.now)
    if visit is not None and sites.checkin_of(ctx.session, visit.id) is None:
        checkin = sites.verify_check_in(ctx.session, ctx.user, visit, point[0], point[1],
                                        radius_m=ctx.services.settings.checkin_radius_m,
                                        now=ctx.now)
        return checkin_reply(ctx, visit.company, checkin)
    return near_list(ctx, point)


# -- a pasted map link, outside any flow -----------------------------------------------------
async def link_start(ctx: Ctx, inc: Incoming) -> Step:
    """A pasted map link is a location share (Slack cannot share one)."""
    try:
        point = geo.parse_point(ctx.args.get("link") or inc.text or "")
    except geo.ShortMapLink:
        return done(ctx.t(SHORT_LINK))
    if point is None:
        return done(ctx.t("I could not read coordinates in that link. Open the place in the "
                          "maps app and copy its full link, or share your location."))
    flow = (ctx.engine.registry.location_flow if ctx.role != Role.TECHNICIAN
            else "job_location")
    if flow is None:
        return done(ctx.t("Location noted."))
    return await ctx.begin(flow, lat=repr(point[0]), lon=repr(point[1]))


NEAR_EN = (
    "customers near me", "who is near me", "which customers are nearby", "near me",
    "customers around here", "any customers close by?", "show me customers nearby",
    "who can I visit around here", "nearby accounts", "which clients are near",
    "list customers near my location", "who's close to me", "clients near here",
    "customers within walking distance", "what customers are around me",
    "find customers near where I am", "accounts near my location", "who can I drop in on nearby",
)
NEAR_ID = (
    "pelanggan di dekat saya", "siapa pelanggan terdekat", "pelanggan sekitar sini",
    "ada pelanggan dekat sini?", "tunjukkan pelanggan terdekat", "customer dekat sini siapa aja",
    "pelanggan di sekitar lokasi saya", "klien terdekat", "siapa yg deket sini",
    "pelanggan mana yang dekat", "daftar pelanggan di dekat saya", "akun terdekat",
    "cari pelanggan di sekitar sini", "pelanggan terdekat dari lokasi saya",
    "ada customer deket sini ga", "siapa aja pelanggan sekitar sini",
)
SETSITE_EN = (
    "set this as {company}'s location", "this is {company}'s location",
    "save my location as {company}", "set location of {company} here",
    "I am at {company}, save this location", "mark this spot as {company}",
    "update {company}'s location to here", "use my location for {company}",
    "pin {company} here", "set {company} site to my location", "{company} is here",
    "save {company}'s address as this location", "set the location of {company}",
    "record {company}'s coordinates here", "change {company}'s location to where I am",
    "pin {company} here",
    "I'm at {company}, save the spot",
)
SETSITE_ID = (
    "jadikan ini lokasi {company}", "ini lokasi {company}", "simpan lokasi saya sebagai {company}",
    "set lokasi {company} di sini", "saya di {company}, simpan lokasinya",
    "tandai titik ini sebagai {company}", "perbarui lokasi {company} ke sini",
    "pakai lokasi saya untuk {company}", "pin {company} di sini", "{company} ada di sini",
    "simpan titik lokasi {company}", "atur lokasi {company}", "catat koordinat {company} di sini",
    "ubah lokasi {company} ke tempat saya sekarang", "lokasi {company} disini ya",
    "simpan titik {company}",
    "tandai posisi ini {company}",
)


def register(registry: Registry) -> None:
    """Register near me, set site, the map-link intent and the field actions."""
    registry.add_flow(Flow(
        "near_me", start=near_start, roles=FIELD_ROLES, commands=("near",),
        help=N_("Customers near you (share your location)"), states={"where": near_where},
        accepts={"where": "any"}))
    registry.add_flow(Flow(
        "set_site", start=setsite_start, roles=FIELD_ROLES, commands=("setsite",),
        help=N_("Set a customer's location from where you stand"),
        states={"company": setsite_company, "where": setsite_where},
        accepts={"company": "customer", "where": "any"}))
    registry.add_flow(Flow("map_link", start=link_start,
                           roles=FIELD_ROLES | {Role.TECHNICIAN}))
    registry.add_action(Action("field.visit", act_visit, roles=FIELD_ROLES, group_ok=False))
    registry.add_action(Action("field.directions", act_directions, roles=FIELD_ROLES,
                               group_ok=False))
    registry.add_action(Action("field.setsite", act_setsite, roles=FIELD_ROLES,
                               group_ok=False))
    # A map link is fixed syntax: a regex, not an example-trained intent.
    registry.add_intent(intent(
        "map_link", r"^\s*(?P<link>(?:https?://\S*(?:google\.[a-z.]+/maps|maps\.google\.[a-z.]+"
        r"|goo\.gl/maps|maps\.app\.goo\.gl|openstreetmap\.org|osm\.org)\S*|geo:\S+))\s*$",
        priority=5))
    registry.add_phrasings(Phrasings("near_me", flow="near_me", en=NEAR_EN, id=NEAR_ID,
                                     label=N_("Customers near you")))
    registry.add_phrasings(Phrasings("set_site", flow="set_site", slots=("company",),
                                     en=SETSITE_EN, id=SETSITE_ID,
                                     label=N_("Set a customer's location")))
    register_plan(registry)
    register_live(registry)


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
    "plan my day", "plan today", "what should my route be today", "make me a route for today",
    "which customers should I visit today", "plan my visits", "route for today please",
    "organise my day", "who do I visit today and in what order", "optimise my route",
    "build my visit plan", "day plan", "what's the best order for my visits today",
    "plan the day for me", "can you plan my customer visits", "schedule my visits today",
    "what's my visit route today", "route my customer visits", "which customers should I see "
    "today", "customers to visit today in order", "give me today's visit route",
    "plan my route for today's visits", "where should I go today", "best route for my visits",
    "best route for today",
    "order my visits today",
)
PLAN_ID = (
    "rencanakan hari saya", "rencana kunjungan hari ini", "buatkan rute hari ini",
    "pelanggan mana yang harus saya kunjungi hari ini", "atur kunjungan saya hari ini",
    "rute kunjungan hari ini dong", "susun jadwal kunjungan saya", "rencana hari ini",
    "urutan kunjungan terbaik hari ini", "tolong rencanakan kunjungan saya",
    "hari ini ke mana aja ya", "bikin rute buat hari ini", "jadwalkan kunjungan saya hari ini",
    "optimalkan rute saya", "plan kunjungan hari ini", "rencanain hari aku dong",
    "rute kunjungan saya hari ini", "bikinin rute kunjungan dong", "atur rute kunjungan",
    "pelanggan yang dikunjungi hari ini", "hari ini kunjungi siapa aja", "rute terbaik kunjungan",
    "mau ke mana aja hari ini", "urutkan kunjungan pelanggan hari ini",
    "urutan kunjungan saya",
    "susun jadwal kunjungan hari ini",
    "rute kunjungan saya hari ini",
)


def register_plan(registry: Registry) -> None:
    """Register plan my day with its buttons."""
    registry.add_flow(Flow("plan_day", start=plan_start, roles=FIELD_ROLES, commands=("plan",),
                           help=N_("Plan my day: visits in order, arrival times, a route")))
    registry.add_action(Action("field.plan", act_plan, roles=FIELD_ROLES, group_ok=False))
    registry.add_action(Action("field.drop", act_drop, roles=FIELD_ROLES, group_ok=False))
    registry.add_action(Action("field.pin", act_pin, roles=FIELD_ROLES, group_ok=False))
    registry.add_phrasings(Phrasings("plan_day", flow="plan_day", en=PLAN_EN, id=PLAN_ID,
                                     label=N_("Plan my day")))


# -- live locations ------------------------------------------------------------------------
def _technician_live(ctx: Ctx, point: tuple[float, float]) -> Step:
    """A technician on the way: at a job's site it is "arrived" (the rep is told); on the
    way to an en-route job, the rep is told the ETA once."""
    from bot.conversations.jobs import technician_buttons

    settings = ctx.services.settings
    for job in fs.route_for_today(ctx.session, ctx.user, ctx.now):
        if job.status not in ("assigned", "en_route"):
            continue
        dist = fs.distance_to_site(job, point[0], point[1])
        if dist is None:
            continue
        rep = fs.customer_rep(ctx.session, job)
        if dist <= fs.ARRIVAL_RADIUS_KM:  # arrived: the rep hears it (core.fieldservice)
            job = fs.arrive(ctx.session, job_id=job.id, user=ctx.user, lat=point[0],
                            lon=point[1], now=ctx.now)
            return done(Reply.with_buttons(
                ctx.t("📍 You reached the site of job #{id}: on site since {time}. Press "
                      "Done when finished.", id=job.id, time=ctx.t.time(ctx.now)),
                *technician_buttons(ctx.t, job)))
        if job.status == "en_route" and rep is not None:
            factor = dayplan.PlanSettings.from_settings(settings).factor(None)
            minutes = max(1, round(dist * factor / settings.dayplan_speed_kmh * 60))
            eta = ctx.now + timedelta(minutes=minutes)
            enqueue_notice(ctx.session, kind="fieldday.tech_eta",
                           reason=f"job:{job.id}:live-eta", recipient_user_id=rep.id,
                           due_at=ctx.now, now=ctx.now,
                           params={"job_id": job.id, "eta": eta.isoformat(),
                                   "technician": ctx.user.name})
    return done()


async def act_live(ctx: Ctx, arg: str) -> Step:
    """One live-location update: remember it; a technician may arrive at a job; a rep
    within a customer's site radius gets its brief (once a day). Silent otherwise."""
    inc = ctx.incoming
    if inc.location is None or inc.chat_is_group:
        return done()
    try:
        point = remember(ctx, inc.location)
    except DomainError:
        return done()
    if ctx.role == Role.TECHNICIAN:
        return _technician_live(ctx, point)
    radius_km = ctx.services.settings.checkin_radius_m / 1000
    here = sites.near(ctx.session, ctx.user, point[0], point[1], radius_km=radius_km, limit=3)
    customer_brief.offer_arrival_briefs(ctx.session, ctx.user,
                                        [n.company.id for n in here], ctx.now)
    return done()


# -- pushed messages ------------------------------------------------------------------------
def brief_text(t: Translator, brief: customer_brief.CustomerBrief) -> str:
    """The brief in a few lines."""
    from bot.conversations.deal import req_label, stage_label

    lines = [t("📋 Brief: {company}", company=company_name(brief.company))]
    for c in brief.contacts:
        role = " · ".join(x for x in (c.job_title, c.department) if x)
        dm = t(" (decision maker)") if c.is_decision_maker else ""
        lines.append(f"• {c.name}" + (f" — {role}" if role else "") + dm)
    for note in brief.deals:
        deal = note.deal
        lines.append(t("Deal: {title} — {stage}, {amount}", title=deal.title,
                       stage=stage_label(t, deal.stage), amount=t.money(deal.amount,
                                                                        deal.currency)))
        if note.next_stage and note.missing:
            lines.append("  " + t("To reach {stage} it still needs: {needs}.",
                                  stage=stage_label(t, note.next_stage),
                                  needs=", ".join(req_label(t, r) for r in note.missing)))
    if brief.last_visit is not None:
        lines.append(t("Last visit {date}: {notes}", date=t.date(brief.last_visit.occurred_at),
                       notes=(brief.last_visit.notes or t("no notes"))[:160]))
    for complaint in brief.complaints:
        lines.append(t("⚠️ Open complaint ({severity}): {issue}",
                       severity=complaint.severity, issue=complaint.issue[:100]))
    for f in brief.followups:
        lines.append(t("⏰ Follow-up due {when}: {note}", when=t.datetime(f.due_at),
                       note=(f.note or "-")[:80]))
    if brief.unsent:
        lines.append(t("Not sent yet: the brochure for {products}.",
                       products=", ".join(p.name for p in brief.unsent[:3])))
    for doc in brief.documents:
        if doc.seen_version is None:
            lines.append(t("📄 {title} (version {version}): you have not opened it yet.",
                           title=doc.document.title, version=doc.document.version))
        elif not doc.changes:
            lines.append(t("📄 {title}: no change since you last opened it.",
                           title=doc.document.title))
        else:
            notes = "; ".join(f"v{v.version}: {v.note or '—'}" for v in doc.changes[-3:])
            lines.append(t("📄 {title} changed since you opened version {seen}: {notes}",
                           title=doc.document.title, seen=doc.seen_version, notes=notes))
    return "\n".join(lines)


def render_brief(session: Session, row: NoticeRow, user: User | None, t: Translator
                 ) -> Reply | None:
    """The customer brief (arrival or 15 minutes before a planned visit)."""
    if user is None or row.due_at - row.created_at > BRIEF_STALE:
        return None  # held by the quiet hours past the moment it was for: not sent late
    company_id = int(row.params.get("company_id", 0))
    now = row.due_at
    brief = customer_brief.customer_brief(session, user, company_id, now)
    if brief is None:
        return None
    head = (t("You are at {company}.", company=company_name(brief.company))
            if row.params.get("why") == "arrived" else
            t("Your visit to {company} is planned at {time}.",
              company=company_name(brief.company),
              time=t.time(datetime.fromisoformat(str(row.params.get("at"))))
              if row.params.get("at") else "—"))
    buttons = [Button(t("📄 Open {title}", title=d.document.title)[:60], action="kb.open",
                      arg=str(d.document.id)) for d in brief.documents]
    buttons.append(Button(t("📝 Log the visit"), action="field.visit", arg=str(company_id)))
    return Reply("\n".join([head, brief_text(t, brief)]),
                 buttons=tuple((b,) for b in buttons))


def render_tech_eta(session: Session, row: NoticeRow, user: User | None, t: Translator
                    ) -> Reply | None:
    """A technician on the way (live location): the account's rep hears the ETA."""
    job = session.get(ServiceJob, int(row.params.get("job_id", 0)))
    if job is None or job.status != "en_route":
        return None
    company = session.get(Company, job.company_id)
    eta = datetime.fromisoformat(str(row.params.get("eta")))
    return Reply(t("🚐 {tech} is on the way to job #{id} at {company}, expected about {eta}.",
                   tech=str(row.params.get("technician") or "—"), id=job.id,
                   company=company_name(company) if company else "—", eta=t.time(eta)))


def register_live(registry: Registry) -> None:
    """Register the live-location action and the field day's pushed messages."""
    registry.add_action(Action(LIVE_LOCATION_ACTION, act_live,
                               roles=FIELD_ROLES | {Role.TECHNICIAN}))
    registry.add_notice("fieldday.brief", render_brief)
    registry.add_notice("fieldday.tech_eta", render_tech_eta)
