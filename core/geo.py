"""Geography without a network: distances, bounding boxes, a lat/lon grid for indexed
prefilters, coordinates read from pasted map links, and map links written for a route.

No online geocoding: an address typed as text is never turned into coordinates here (the
product says so); coordinates come from a shared location, a pasted Google Maps /
OpenStreetMap link, `geo:` URI or "lat, lon" text, an import's lat/lon columns, or the demo.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from urllib.parse import parse_qs, quote, unquote, urlsplit

EARTH_RADIUS_KM = 6371.0088
# Grid rows for the spatial prefilter: a site's `grid_row` is floor(lat * GRID_PER_DEGREE).
# 100 rows per degree = 1.1 km rows; a "near me" query reads a few rows, each an index range
# on (grid_row, lon), never every company.
GRID_PER_DEGREE = 100

Point = tuple[float, float]


def valid_point(lat: float, lon: float) -> bool:
    """True for a finite latitude in [-90, 90] and longitude in [-180, 180]."""
    return (math.isfinite(lat) and math.isfinite(lon) and -90.0 <= lat <= 90.0
            and -180.0 <= lon <= 180.0)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def grid_row(lat: float) -> int:
    """The grid row of a latitude (the indexed prefilter column)."""
    return math.floor(lat * GRID_PER_DEGREE)


def bounding_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) of a box holding every point within `radius_km`
    (the longitude span widens towards the poles; clamped to valid ranges)."""
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    cos_lat = max(math.cos(math.radians(min(89.9, abs(lat) + dlat))), 1e-6)
    dlon = min(180.0, math.degrees(radius_km / (EARTH_RADIUS_KM * cos_lat)))
    return (max(-90.0, lat - dlat), min(90.0, lat + dlat), lon - dlon, lon + dlon)


def grid_rows(min_lat: float, max_lat: float) -> list[int]:
    """Every grid row a latitude band touches."""
    return list(range(grid_row(min_lat), grid_row(max_lat) + 1))


# -- reading coordinates from text -------------------------------------------------------------
_NUM = r"[-+]?\d{1,3}(?:\.\d+)?"
_PAIR = re.compile(rf"^\s*\(?\s*({_NUM})\s*[,;\s]\s*({_NUM})\s*\)?\s*$")
_AT = re.compile(rf"@({_NUM}),({_NUM})(?:,|$|/|\?)")
_BANG = re.compile(rf"!3d({_NUM})!4d({_NUM})")
_GEO_URI = re.compile(rf"^geo:({_NUM}),({_NUM})", re.IGNORECASE)
_OSM_HASH = re.compile(rf"map=\d{{1,2}}(?:\.\d+)?/({_NUM})/({_NUM})")
_URL = re.compile(r"(?:https?://|geo:)\S+", re.IGNORECASE)
# Hosts whose links we read (a short link needs a network call to expand: refused).
MAP_HOSTS = ("google.", "openstreetmap.org", "osm.org")
SHORT_LINK_HOSTS = ("goo.gl", "maps.app.goo.gl", "g.co")


class ShortMapLink(ValueError):
    """A shortened map link (goo.gl ...): it cannot be expanded without going online."""


def _point(lat_text: str, lon_text: str) -> Point | None:
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        return None
    return (lat, lon) if valid_point(lat, lon) and (lat, lon) != (0.0, 0.0) else None


def point_from_url(url: str) -> Point | None:
    """Coordinates from a Google Maps or OpenStreetMap link, or a `geo:` URI.

    Raises ShortMapLink for a shortened link (goo.gl, maps.app.goo.gl): reading it would
    need the network.
    """
    url = url.strip().rstrip(".,;)>")
    m = _GEO_URI.match(url)
    if m:
        return _point(m.group(1), m.group(2))
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if any(host == h or host.endswith("." + h) for h in SHORT_LINK_HOSTS):
        raise ShortMapLink(host)
    if not any(h in host for h in MAP_HOSTS):
        return None
    path = unquote(parts.path)
    query = parse_qs(parts.query)
    if "openstreetmap.org" in host or "osm.org" in host:
        if "mlat" in query and "mlon" in query:
            return _point(query["mlat"][0], query["mlon"][0])
        m = _OSM_HASH.search(parts.fragment) or _OSM_HASH.search(parts.query)
        return _point(m.group(1), m.group(2)) if m else None
    # Google: a pin (!3d..!4d..) is the place itself; @lat,lon is the view's centre.
    m = _BANG.search(url)
    if m:
        return _point(m.group(1), m.group(2))
    for key in ("q", "query", "ll", "destination", "daddr", "center"):
        if key in query:
            found = parse_point(query[key][0].replace("loc:", ""))
            if found is not None:
                return found
    m = _AT.search(path + "/")
    return _point(m.group(1), m.group(2)) if m else None


def parse_point(text: str) -> Point | None:
    """Coordinates from "lat, lon" text, a map link or a geo: URI (None when there are none).

    Raises ShortMapLink for a shortened map link.
    """
    text = (text or "").strip()
    if not text or len(text) > 2000:
        return None
    m = _PAIR.match(text)
    if m:
        return _point(m.group(1), m.group(2))
    url = _URL.search(text)
    if url:
        return point_from_url(url.group(0))
    return None


def looks_like_point(text: str) -> bool:
    """True for two numbers like "lat, lon" (valid or not)."""
    return bool(_PAIR.match(text or ""))


def without_links(text: str) -> str:
    """The text with its links (and geo: URIs) taken out."""
    return " ".join(_URL.sub(" ", text or "").split())


def looks_like_map_link(text: str) -> bool:
    """True when the text is (mostly) a map link or a geo: URI."""
    url = _URL.search(text or "")
    if not url:
        return False
    link = url.group(0).lower()
    return link.startswith("geo:") or any(h in link for h in (*MAP_HOSTS, *SHORT_LINK_HOSTS))


# -- writing links --------------------------------------------------------------------------
def _fmt(p: Point) -> str:
    return f"{p[0]:.6f},{p[1]:.6f}"


def place_link(lat: float, lon: float) -> str:
    """A link that opens the point in any maps app (Google Maps' search URL)."""
    return f"https://www.google.com/maps/search/?api=1&query={_fmt((lat, lon))}"


def directions_link(stops: Sequence[Point], origin: Point | None = None) -> str:
    """A Google Maps directions link through `stops` in order (driving), starting at
    `origin` when given (else at the phone's current location). Google takes up to nine
    waypoints between origin and destination; longer routes keep the first stops."""
    if not stops:
        raise ValueError("a route needs at least one stop")
    destination = stops[-1]
    between = list(stops[:-1])[:9]
    url = "https://www.google.com/maps/dir/?api=1&travelmode=driving"
    if origin is not None:
        url += "&origin=" + _fmt(origin)
    url += "&destination=" + _fmt(destination)
    if between:
        url += "&waypoints=" + quote("|".join(_fmt(p) for p in between), safe=",")
    return url
