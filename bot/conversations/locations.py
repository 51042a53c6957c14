"""Locations in: a shared location, a pasted Google Maps / OpenStreetMap link or "lat, lon"
(Slack cannot share one), asked for with `ask_location` (Telegram: a one-tap "📍 Share
location" keyboard). No online geocoding: a typed address is answered with what to do
instead. The rep's last known location is kept a while (`remember`, `fresh_location`).
"""

from __future__ import annotations

from datetime import timedelta

from bot.conversations.flow import Ctx, Step, goto
from bot.conversations.messages import (
    Incoming,
    Reply,
)
from bot.i18n import N_, Translator
from core import geo, sites

SHARE_LABEL = N_("📍 Share location")
NO_GEOCODING = N_("I cannot look up addresses (no online maps service is used). Share your "
                  "location, or paste a Google Maps or OpenStreetMap link (or \"-6.2, 106.8\").")
SHORT_LINK = N_("That is a shortened map link, which I cannot open without going online. In "
                "the maps app, open the place and copy the full link (it contains the "
                "coordinates), or share your location.")


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


def unreadable(ctx: Ctx, state: str, inc: Incoming) -> Step:
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
