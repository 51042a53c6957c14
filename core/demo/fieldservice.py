"""Demo data of this area: technician profiles (tono, agus, wayan) and service jobs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from core import fieldservice, technicians
from core.demo.world import DemoWorld
from core.models import Company

# login -> (skills, shift minutes, work days, load cap, home base, offset from the anchor)
PROFILES = {
    "tono": (("installation", "repair", "network", "maintenance"), (8 * 60, 17 * 60),
             "012345", 4, "Jakarta workshop", (0.004, 0.003)),
    "agus": (("installation", "repair", "electrical", "hvac", "maintenance"),
             (7 * 60, 16 * 60), "01234", 4, "Jakarta east depot", (0.06, 0.07)),
    "wayan": (("installation", "repair", "hvac", "maintenance"), (8 * 60, 17 * 60),
              "012345", 3, "Surabaya workshop", None),
}
ANCHOR = "Sinar Jaya Abadi"  # tono's last location is near it, agus's about 10 km away


def _company(world: DemoWorld, city: str, skip: int = 0) -> Company | None:
    found = [c for c in world.companies if c.city == city and c.name != ANCHOR]
    return found[skip] if len(found) > skip else None


def seed(session: Session, world: DemoWorld) -> None:
    """Technician profiles with skills and last locations, and a few jobs for today."""
    now = world.now
    anchor = next((c for c in world.companies if c.name == ANCHOR), None)
    for login, (skills, shift, days, cap, base, offset) in PROFILES.items():
        user = world.users.get(login)
        if user is None:
            continue
        technicians.set_profile(session, user, skills=skills, now=now, shift=shift,
                                work_days=days, load_cap=cap, home_base=base)
        if offset is not None and anchor is not None and anchor.lat is not None \
                and anchor.lon is not None:
            technicians.record_location(user, anchor.lat + offset[0],
                                        anchor.lon + offset[1], now - timedelta(hours=1))
        elif login == "wayan":
            technicians.record_location(user, -7.2575, 112.7521, now - timedelta(hours=2))
    manager = world.users.get("maya")
    # One job each for tono and agus today, one finished yesterday, one open in Surabaya.
    plan = (
        ("tono", "Jakarta", 0, "maintenance", 3, "Quarterly maintenance of the server rack",
         "assigned", (2, 6)),
        ("agus", "Jakarta", 1, "electrical", 2, "Check the UPS wiring after a power cut",
         "assigned", (1, 4)),
        ("tono", "Bandung", 0, "installation", 3, "Install two access points", "done",
         (-26, -22)),
        ("wayan", "Surabaya", 0, "hvac", 3, "Air conditioner leaking in the meeting room",
         "assigned", (3, 7)),
    )
    for login, city, skip, skill, priority, text, status, (h0, h1) in plan:
        company = _company(world, city, skip)
        tech = world.users.get(login)
        if company is None or tech is None:
            continue
        job = fieldservice.create_job(
            session, company=company, skill=skill, priority=priority, description=text,
            now=now + timedelta(hours=min(h0, 0)), created_by=manager,
            window=(now + timedelta(hours=h0), now + timedelta(hours=h1)))
        job.status = "assigned" if status != "done" else "done"
        job.technician_id = tech.id
        job.assigned_at = job.created_at
        job.assigned_by_id = manager.id if manager else None
        if status == "done":
            job.en_route_at = now + timedelta(hours=h0)
            job.arrived_at = now + timedelta(hours=h0, minutes=40)
            job.finished_at = now + timedelta(hours=h1)
            job.notes = "Installed and tested; signal good in every room."
            job.parts = [{"qty": 2, "item": "access point AP-200"}]
    session.flush()
