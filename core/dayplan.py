"""Plan my day: up to N customer visits in an order that keeps travel short, with arrival
times inside the working hours, a maps link and an .ics.

Candidates: the rep's due and overdue follow-ups, today's planned meetings (fixed times),
their deals untouched the longest and customers near the start. The order is solved with
Google OR-Tools' routing solver (a prize-collecting route with time windows: every stop is
optional with a penalty by its priority, meetings are held to their time, pinned stops are
kept, a visit counter caps the day at N). Travel time is the straight-line distance times
a road factor of the destination's city, at an average speed (settings). The rep may drop
or pin a stop; the rest is planned again. `benchmarks/dayplan.py` measures the solver
against the best of 1,000 random orders and against nearest-neighbour.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import geo, sites
from core.errors import DomainError
from core.models import (
    OPEN_STAGES,
    Company,
    Deal,
    FollowUp,
    FollowUpStatus,
    User,
)
from core.models.fieldday import CompanySite, DayPlan
from core.notices import enqueue_notice
from core.sweeps import sweep

MEETING_KINDS = frozenset({"meeting", "demo", "visit", "presentation"})
START_FRESH = timedelta(hours=12)  # an older last location is not where the day starts
OVERDUE_LOOKBACK = timedelta(days=30)
STALE_DEALS = 5  # deals untouched the longest looked at
NEARBY = 5  # customers near the start looked at
SOLVER_LIMIT = timedelta(milliseconds=100)
# A day plan (up to ~16 candidates, 6 visits) holds the process's transaction while it is
# solved: 50 ms. On 24 seeded plans of 8, 12 and 16 candidates, 50 ms left the same
# penalties as 100 and 300 ms, road length within 0.3 % (30 ms: 4 more penalty points).
PLAN_LIMIT = timedelta(milliseconds=50)
BRIEF_BEFORE = timedelta(minutes=15)
# Priorities: what each reason is worth (a stop's penalty when left out).
PRIORITY = {"meeting": 100, "overdue": 8, "due": 6, "stale_deal": 4, "deal": 2, "nearby": 1}
DEFAULT_FACTOR_KEY = "default"


# -- settings read by the bot and handed in --------------------------------------------------
@dataclass(frozen=True)
class PlanSettings:
    """The knobs of a plan (from core.settings.Settings, see PlanSettings.from_settings)."""

    max_visits: int = 6
    visit_minutes: int = 45
    work_start: time = time(8, 30)
    work_end: time = time(17, 30)
    speed_kmh: float = 30.0
    road_factors: dict[str, float] = field(default_factory=lambda: {DEFAULT_FACTOR_KEY: 1.4})
    near_radius_km: float = 5.0

    @staticmethod
    def from_settings(s: Any) -> PlanSettings:
        return PlanSettings(
            max_visits=max(1, min(int(s.dayplan_max_visits), 12)),
            visit_minutes=max(5, int(s.dayplan_visit_minutes)),
            work_start=_clock(s.dayplan_work_start, time(8, 30)),
            work_end=_clock(s.dayplan_work_end, time(17, 30)),
            speed_kmh=max(1.0, float(s.dayplan_speed_kmh)),
            road_factors=parse_factors(s.dayplan_road_factors),
            near_radius_km=float(s.near_radius_km))

    def factor(self, city: str | None) -> float:
        return self.road_factors.get((city or "").strip().lower(),
                                     self.road_factors.get(DEFAULT_FACTOR_KEY, 1.4))


def _clock(text: str, default: time) -> time:
    try:
        hour, minute = (int(x) for x in str(text).split(":", 1))
        return time(hour, minute)
    except (ValueError, TypeError):
        return default


def parse_factors(spec: str) -> dict[str, float]:
    """"Jakarta=1.8,default=1.4" -> {"jakarta": 1.8, "default": 1.4} (bad parts skipped)."""
    out: dict[str, float] = {}
    for part in (spec or "").split(","):
        name, _, value = part.partition("=")
        try:
            factor = float(value)
        except ValueError:
            continue
        if name.strip() and 1.0 <= factor <= 5.0:
            out[name.strip().lower()] = factor
    out.setdefault(DEFAULT_FACTOR_KEY, 1.4)
    return out


# -- the route solver -------------------------------------------------------------------------
@dataclass
class Node:
    """A place the route may visit: fixed (a meeting at `fixed_min` minutes after the start),
    pinned (must be visited) or optional with `penalty` when left out."""

    lat: float
    lon: float
    factor: float = 1.4  # road factor of the city the node is in (legs arriving here)
    penalty: int = 1
    fixed_min: int | None = None
    pinned: bool = False


@dataclass
class Solved:
    order: list[int]  # node indexes, in visiting order
    arrive_min: list[int]  # minutes after the start, per visited node
    road_km: float


def road_km(a: Node | geo.Point, b: Node, ) -> float:
    """Road distance estimate from a to b: straight line x b's road factor."""
    lat, lon = (a.lat, a.lon) if isinstance(a, Node) else a
    return geo.haversine_km(lat, lon, b.lat, b.lon) * b.factor


def solve(nodes: Sequence[Node], start: geo.Point | None, *, horizon_min: int,
          visit_min: int, speed_kmh: float, max_visits: int,
          limit: timedelta = SOLVER_LIMIT) -> Solved:
    """Choose and order the nodes (OR-Tools routing): minimise road distance plus the
    penalties of the nodes left out, within the horizon, at most `max_visits` visits.

    The route starts at `start` (or, without one, at whichever stop it picks first) and ends
    anywhere. Returns an empty order when nothing fits.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = len(nodes)
    if n == 0 or horizon_min < visit_min or max_visits < 1:
        return Solved([], [], 0.0)
    # 0 = the start, 1..n = the stops, n + 1 = the end (free to reach from anywhere).
    metres = [[0] * (n + 2) for _ in range(n + 2)]
    minutes = [[0] * (n + 2) for _ in range(n + 2)]
    for j, b in enumerate(nodes, 1):
        if start is not None:
            km = road_km(start, b)
            metres[0][j] = round(km * 1000)
            minutes[0][j] = math.ceil(km / speed_kmh * 60)
        for i, a in enumerate(nodes, 1):
            if i != j:
                km = road_km(a, b)
                metres[i][j] = round(km * 1000)
                minutes[i][j] = visit_min + math.ceil(km / speed_kmh * 60)
        minutes[j][n + 1] = visit_min
    manager = pywrapcp.RoutingIndexManager(n + 2, 1, [0], [n + 1])
    routing = pywrapcp.RoutingModel(manager)

    def distance(i: int, j: int) -> int:
        return metres[manager.IndexToNode(i)][manager.IndexToNode(j)]

    def duration(i: int, j: int) -> int:
        return minutes[manager.IndexToNode(i)][manager.IndexToNode(j)]

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(distance))
    time_cb = routing.RegisterTransitCallback(duration)
    routing.AddDimension(time_cb, horizon_min, horizon_min + visit_min, True, "time")
    clock = routing.GetDimensionOrDie("time")
    count_cb = routing.RegisterUnaryTransitCallback(
        lambda i: 1 if 1 <= manager.IndexToNode(i) <= n else 0)
    routing.AddDimension(count_cb, 0, max_visits, True, "visits")
    for j, node in enumerate(nodes, 1):
        index = manager.NodeToIndex(j)
        if node.fixed_min is not None and not 0 <= node.fixed_min <= horizon_min - visit_min:
            routing.solver().Add(routing.ActiveVar(index) == 0)  # its time is not today's
        elif node.fixed_min is not None:
            clock.CumulVar(index).SetRange(node.fixed_min, node.fixed_min)
        else:
            clock.CumulVar(index).SetRange(0, horizon_min - visit_min)
        # Even a pinned stop may be left out when it cannot fit (at a prohibitive price).
        penalty = 10**9 if node.pinned else node.penalty * 1_000_000
        routing.AddDisjunction([index], penalty)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    # Guided local search until the time limit: greedy descent alone stopped up to 12 %
    # above the optimum on 8-stop routes; 60 ms of guided search found it on every one of
    # 30 seeded routes (7 and 8 stops, checked against all permutations).
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH)
    params.time_limit.FromMilliseconds(max(1, int(limit.total_seconds() * 1000)))
    solution = routing.SolveWithParameters(params)
    if solution is None or _visits(routing, manager, solution, n) == 0:
        # The limit ran out before the first route was built (a starved CPU: a CI run at
        # load 11 planned "nothing" for a day with a meeting; a cut-off build returns every
        # stop left out). Build the first route whole, however long it takes.
        first = pywrapcp.DefaultRoutingSearchParameters()
        first.first_solution_strategy = params.first_solution_strategy
        first.solution_limit = 1
        first.time_limit.FromSeconds(5)
        solution = routing.SolveWithParameters(first)
    if solution is None:
        return Solved([], [], 0.0)
    order: list[int] = []
    arrive: list[int] = []
    total = 0
    index = routing.Start(0)
    while not routing.IsEnd(index):
        nxt = solution.Value(routing.NextVar(index))
        node = manager.IndexToNode(nxt)
        if 1 <= node <= n:
            order.append(node - 1)
            arrive.append(solution.Min(clock.CumulVar(nxt)))
            total += metres[manager.IndexToNode(index)][node]
        index = nxt
    return Solved(order, arrive, total / 1000)


def _visits(routing: Any, manager: Any, solution: Any, n: int) -> int:
    """How many of the n stops (nodes 1..n) a solution's route visits."""
    count, index = 0, routing.Start(0)
    while not routing.IsEnd(index):
        index = solution.Value(routing.NextVar(index))
        count += 1 <= manager.IndexToNode(index) <= n
    return count


def route_km(points: Sequence[geo.Point], start: geo.Point | None = None) -> float:
    """Straight-line length of visiting the points in this order (from `start` if given)."""
    path = ([start] if start is not None else []) + list(points)
    return sum(geo.haversine_km(a[0], a[1], b[0], b[1]) for a, b in itertools.pairwise(path))


def order_points(points: Sequence[geo.Point], start: geo.Point | None = None,
                 limit: timedelta = SOLVER_LIMIT) -> list[int]:
    """The visiting order of all `points` that keeps the route short (the day plan's solver
    without times or priorities; used by the benchmark)."""
    nodes = [Node(lat, lon, factor=1.0, pinned=True) for lat, lon in points]
    solved = solve(nodes, start, horizon_min=10**6, visit_min=0, speed_kmh=60,
                   max_visits=len(nodes), limit=limit)
    return solved.order


def nearest_neighbour(points: Sequence[geo.Point], start: geo.Point | None = None) -> list[int]:
    """The greedy order (always the closest unvisited next): the benchmark's peer."""
    left = list(range(len(points)))
    here = start if start is not None else points[0]
    order: list[int] = []
    while left:
        best = min(left, key=lambda i: (geo.haversine_km(here[0], here[1], *points[i]), i))
        order.append(best)
        left.remove(best)
        here = points[best]
    return order


# -- candidates ------------------------------------------------------------------------------
@dataclass
class Candidate:
    """A customer the day may include, with why."""

    company: Company
    site: CompanySite | None
    reasons: list[str] = field(default_factory=list)
    fixed_at: datetime | None = None  # a meeting's time
    followup_id: int | None = None
    deal_id: int | None = None

    @property
    def priority(self) -> int:
        return sum(PRIORITY.get(r, 1) for r in set(self.reasons))


def _local(tz: str, day: date, at: time) -> datetime:
    return datetime.combine(day, at, ZoneInfo(tz)).astimezone(UTC)


def day_window(user: User, now: datetime, cfg: PlanSettings) -> tuple[date, datetime, datetime]:
    """(local day, start, end) of the day to plan: today from now (rounded up to 5 minutes)
    or from the start of the working hours; tomorrow when today's hours are over."""
    tz = ZoneInfo(user.timezone)
    today = now.astimezone(tz).date()
    start = _local(user.timezone, today, cfg.work_start)
    end = _local(user.timezone, today, cfg.work_end)
    if now >= end - timedelta(minutes=cfg.visit_minutes):
        day = today + timedelta(days=1)
        return (day, _local(user.timezone, day, cfg.work_start),
                _local(user.timezone, day, cfg.work_end))
    if now > start:
        start = now + timedelta(minutes=(-now.minute) % 5, seconds=-now.second,
                                microseconds=-now.microsecond)
    return today, start, end


def candidates(session: Session, user: User, *, start: datetime, end: datetime,
               origin: geo.Point | None, cfg: PlanSettings) -> list[Candidate]:
    """Everything worth a visit today, one entry per customer (its reasons merged)."""
    found: dict[int, Candidate] = {}

    def add(company: Company, reason: str, **kw: Any) -> Candidate:
        cand = found.get(company.id)
        if cand is None:
            cand = found[company.id] = Candidate(company, None)
        cand.reasons.append(reason)
        for key, value in kw.items():
            if getattr(cand, key) is None:
                setattr(cand, key, value)
        return cand

    due = func.coalesce(FollowUp.snoozed_until, FollowUp.due_at)
    rows = session.execute(
        select(FollowUp, Company).join(Company, Company.id == FollowUp.company_id)
        .where(FollowUp.user_id == user.id, FollowUp.status == FollowUpStatus.OPEN.value,
               due < end, due >= start - OVERDUE_LOOKBACK)
        .order_by(due).limit(40)).all()
    for fu, company in rows:
        when = fu.snoozed_until or fu.due_at
        if fu.kind in MEETING_KINDS:
            if start <= when <= end - timedelta(minutes=cfg.visit_minutes):
                add(company, "meeting", fixed_at=when, followup_id=fu.id)
            continue
        add(company, "overdue" if when < start else "due", followup_id=fu.id)
    stale = session.execute(
        select(Deal, Company).join(Company, Company.id == Deal.company_id)
        .where(Deal.owner_id == user.id, Deal.stage.in_([s.value for s in OPEN_STAGES]))
        .order_by(func.coalesce(Deal.last_activity_at, Deal.created_at), Deal.id)
        .limit(STALE_DEALS)).all()
    for deal, company in stale:
        touched = deal.last_activity_at or deal.created_at
        add(company, "stale_deal" if start - touched > timedelta(days=14) else "deal",
            deal_id=deal.id)
    if origin is not None:
        for near in sites.near(session, user, origin[0], origin[1],
                               radius_km=cfg.near_radius_km, limit=NEARBY):
            cand = add(near.company, "nearby")
            cand.site = near.site
    for cand in found.values():
        if cand.site is None:
            cand.site = sites.main_site(session, cand.company.id)
    return sorted(found.values(), key=lambda c: (-c.priority, c.company.id))


# -- the plan -------------------------------------------------------------------------------
@dataclass
class PlannedStop:
    company_id: int
    site_id: int
    name: str
    legal_form: str | None
    address: str | None
    lat: float
    lon: float
    arrive_at: datetime
    depart_at: datetime
    travel_min: int
    road_km: float
    reasons: list[str]
    fixed: bool
    pinned: bool

    def to_json(self) -> dict[str, Any]:
        return {"company_id": self.company_id, "site_id": self.site_id, "name": self.name,
                "legal_form": self.legal_form,
                "address": self.address, "lat": self.lat, "lon": self.lon,
                "arrive_at": self.arrive_at.isoformat(), "depart_at": self.depart_at.isoformat(),
                "travel_min": self.travel_min, "road_km": round(self.road_km, 2),
                "reasons": self.reasons, "fixed": self.fixed, "pinned": self.pinned}

    @staticmethod
    def from_json(d: dict[str, Any]) -> PlannedStop:
        return PlannedStop(
            company_id=int(d["company_id"]), site_id=int(d["site_id"]), name=str(d["name"]),
            legal_form=d.get("legal_form"),
            address=d.get("address"), lat=float(d["lat"]), lon=float(d["lon"]),
            arrive_at=datetime.fromisoformat(d["arrive_at"]),
            depart_at=datetime.fromisoformat(d["depart_at"]),
            travel_min=int(d["travel_min"]), road_km=float(d["road_km"]),
            reasons=list(d.get("reasons") or []), fixed=bool(d.get("fixed")),
            pinned=bool(d.get("pinned")))


@dataclass
class Plan:
    row: DayPlan
    day: date
    start: geo.Point | None
    stops: list[PlannedStop]
    left_out: list[Candidate]  # worth a visit, but no room today
    no_site: list[Candidate]  # worth a visit, but no coordinates
    road_km: float

    def maps_link(self) -> str | None:
        if not self.stops:
            return None
        return geo.directions_link([(s.lat, s.lon) for s in self.stops], self.start)


def start_point(user: User, now: datetime) -> geo.Point | None:
    """Where the day starts: the user's last location when it is recent enough."""
    if (user.last_lat is None or user.last_lon is None or user.last_location_at is None
            or now - user.last_location_at > START_FRESH):
        return None
    return user.last_lat, user.last_lon


def _plan_row(session: Session, user: User, day: date, now: datetime) -> DayPlan:
    """The user's plan of the day, locked; created when missing (a concurrent creation by
    another worker is taken, not an error)."""
    query = (select(DayPlan).where(DayPlan.user_id == user.id, DayPlan.day == day)
             .with_for_update())
    row = session.scalar(query)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = DayPlan(user_id=user.id, day=day, stops=[], pinned=[], dropped=[],
                          created_at=now, updated_at=now)
            session.add(row)
    except IntegrityError:
        row = session.scalar(query)
        assert row is not None
    return row


def plan_day(session: Session, user: User, now: datetime, cfg: PlanSettings, *,
             pin: int | None = None, drop: int | None = None) -> Plan:
    """Plan (or re-plan) the user's day and keep it; `pin` / `drop` a customer first."""
    day, start, end = day_window(user, now, cfg)
    row = _plan_row(session, user, day, now)
    pinned = [int(x) for x in row.pinned or []]
    dropped = [int(x) for x in row.dropped or []]
    if drop is not None:
        if drop not in [int(s["company_id"]) for s in row.stops or []] + pinned:
            raise DomainError("dayplan.not_in_plan")
        dropped = sorted(set(dropped) | {drop})
        pinned = [p for p in pinned if p != drop]
    if pin is not None:
        if pin not in [int(s["company_id"]) for s in row.stops or []]:
            raise DomainError("dayplan.not_in_plan")
        pinned = sorted(set(pinned) | {pin})
    origin = start_point(user, now)
    found = [c for c in candidates(session, user, start=start, end=end, origin=origin, cfg=cfg)
             if c.company.id not in dropped]
    placed = [c for c in found if c.site is not None]
    no_site = [c for c in found if c.site is None]
    horizon = max(0, int((end - start).total_seconds() // 60))
    nodes = [Node(c.site.lat, c.site.lon, factor=cfg.factor(c.company.city),  # type: ignore[union-attr]
                  penalty=c.priority,
                  fixed_min=(int((c.fixed_at - start).total_seconds() // 60)
                             if c.fixed_at is not None else None),
                  pinned=c.company.id in pinned) for c in placed]
    solved = solve(nodes, origin, horizon_min=horizon, visit_min=cfg.visit_minutes,
                   speed_kmh=cfg.speed_kmh, max_visits=cfg.max_visits, limit=PLAN_LIMIT)
    stops: list[PlannedStop] = []
    here = origin
    for i, minute in zip(solved.order, solved.arrive_min, strict=True):
        cand, node = placed[i], nodes[i]
        site = cand.site
        assert site is not None
        km = road_km(here, node) if here is not None else 0.0
        arrive = start + timedelta(minutes=minute)
        stops.append(PlannedStop(
            company_id=cand.company.id, site_id=site.id, name=cand.company.name,
            legal_form=cand.company.legal_form,
            address=site.address, lat=site.lat, lon=site.lon, arrive_at=arrive,
            depart_at=arrive + timedelta(minutes=cfg.visit_minutes),
            travel_min=math.ceil(km / cfg.speed_kmh * 60), road_km=km,
            reasons=sorted(set(cand.reasons), key=lambda r: -PRIORITY.get(r, 0)),
            fixed=cand.fixed_at is not None, pinned=cand.company.id in pinned))
        here = (site.lat, site.lon)
    chosen = {s.company_id for s in stops}
    row.stops = [s.to_json() for s in stops]
    row.pinned, row.dropped = pinned, dropped
    row.start_lat, row.start_lon = origin if origin is not None else (None, None)
    row.updated_at = now
    session.flush()
    return Plan(row, day, origin, stops, [c for c in placed if c.company.id not in chosen],
                no_site, sum(s.road_km for s in stops))


def saved_plan(session: Session, user: User, day: date) -> DayPlan | None:
    return session.scalar(select(DayPlan).where(DayPlan.user_id == user.id, DayPlan.day == day))


def plan_ics(plan: Plan, user: User) -> bytes:
    """The day's visits as an iCalendar file (one event per stop, with its place)."""
    from icalendar import Calendar, Event, vGeo, vText

    cal = Calendar()
    cal.add("prodid", "-//SFA Assistant//day plan//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-timezone", user.timezone)
    for i, stop in enumerate(plan.stops, 1):
        event = Event()
        event.add("uid", f"dayplan-{user.id}-{plan.day.isoformat()}-{stop.company_id}@sfa")
        event.add("dtstamp", plan.row.updated_at)
        event.add("dtstart", stop.arrive_at)
        event.add("dtend", stop.depart_at)
        event.add("summary", vText(f"{i}. {stop.name}"))
        if stop.address:
            event.add("location", vText(stop.address))
        event.add("geo", vGeo((stop.lat, stop.lon)))
        event.add("description", vText(geo.place_link(stop.lat, stop.lon)))
        cal.add_component(event)
    return bytes(cal.to_ical())


# -- a brief 15 minutes before a planned visit -------------------------------------------
def brief_reason(company_id: int, day: date) -> str:
    """The notice reason of a customer's brief: one per customer per (local) day."""
    return f"brief:{company_id}:{day.isoformat()}"


@sweep("fieldday.plan_briefs", every=timedelta(minutes=1))
def plan_briefs(session: Session, now: datetime) -> int:
    """Planned visits starting within 15 minutes: the rep gets the customer's brief (once
    per customer per day, whatever triggered it; quiet hours apply)."""
    count = 0
    yesterday = (now - timedelta(days=1)).date()
    for row in session.scalars(select(DayPlan).where(DayPlan.day >= yesterday)):
        for data in row.stops or []:
            arrive = datetime.fromisoformat(data["arrive_at"])
            if not arrive - BRIEF_BEFORE <= now < arrive:
                continue
            if enqueue_notice(session, kind="fieldday.brief",
                              reason=brief_reason(int(data["company_id"]), row.day),
                              recipient_user_id=row.user_id, due_at=now, now=now,
                              params={"company_id": int(data["company_id"]),
                                      "why": "planned", "at": data["arrive_at"]}):
                count += 1
    return count
