"""The rep's day in the field: customers near me, a customer's site set from where the rep
stands, visit check-ins verified against the site and a pasted map link outside any flow.
Locations in are bot.conversations.locations, plan my day bot.conversations.dayplan, live
locations bot.conversations.live_location.
"""

from __future__ import annotations

from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, goto, intent
from bot.conversations.locations import (
    SHORT_LINK,
    ask_location,
    distance_text,
    fresh_location,
    location_of,
    remember,
    unreadable,
)
from bot.conversations.lookup import company_name
from bot.conversations.messages import (
    Button,
    Incoming,
    Reply,
    button_rows,
)
from bot.conversations.registry import Registry
from bot.conversations.understanding.intents import Phrasings
from bot.i18n import N_
from core import contacts as svc
from core import geo, sites
from core.errors import DomainError
from core.models import Company, Role

ERRORS = {
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
}

LIST_LIMIT = 6


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
        return unreadable(ctx, "where", inc)
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
        return unreadable(ctx, "where", inc)
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
    registry.add_errors(ERRORS)
    registry.add_flow(Flow(
        "near_me", start=near_start, roles=FIELD_ROLES, commands=("near",),
        help=N_("Customers near you (share your location)"), states={"where": near_where},
        accepts={"where": "text"}))
    registry.add_flow(Flow(
        "set_site", start=setsite_start, roles=FIELD_ROLES, commands=("setsite",),
        help=N_("Set a customer's location from where you stand"),
        states={"company": setsite_company, "where": setsite_where},
        accepts={"company": "customer", "where": "text"}))
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
