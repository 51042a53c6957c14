"""Geography (links, distances, the grid prefilter) and customer sites: set with the right
permission and logged, found near a point within the user's scope, check-ins verified."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from core import activities, geo, sites
from core.clock import ManualClock
from core.db import Database
from core.demo import DemoWorld
from core.errors import DomainError, Forbidden
from core.models import Company, User
from core.models.fieldday import CompanySite, SiteChange


@pytest.mark.parametrize(("link", "point"), [
    ("https://www.google.com/maps/place/Monas/@-6.1753924,106.8271528,17z/data=!3m1!4b1"
     "!4m6!3m5!1s0x2e69f5d2e764b12d:0x3d2ad6e1e0e9bcc8!8m2!3d-6.1753871!4d106.8271638",
     (-6.1753871, 106.8271638)),
    ("https://www.google.com/maps/@-6.2088,106.8456,15z", (-6.2088, 106.8456)),
    ("https://maps.google.com/?q=-6.2,106.8", (-6.2, 106.8)),
    ("https://www.google.co.id/maps/search/?api=1&query=-7.2575%2C112.7521",
     (-7.2575, 112.7521)),
    ("https://www.google.com/maps/dir/?api=1&destination=-6.9175,107.6191",
     (-6.9175, 107.6191)),
    ("https://www.openstreetmap.org/?mlat=-6.9175&mlon=107.6191#map=17/-6.9175/107.6191",
     (-6.9175, 107.6191)),
    ("https://www.openstreetmap.org/#map=18/3.59520/98.67220", (3.5952, 98.6722)),
    ("geo:-5.1477,119.4327?z=16", (-5.1477, 119.4327)),
    ("-6.2088, 106.8456", (-6.2088, 106.8456)),
    ("here: https://maps.google.com/?ll=-6.5,106.9 thanks", (-6.5, 106.9)),
])
def test_points_from_map_links(link: str, point: tuple[float, float]) -> None:
    assert geo.parse_point(link) == pytest.approx(point)


@pytest.mark.parametrize("bad", [
    "", "Jl. Sudirman No. 5, Jakarta", "https://example.com/@-6.2,106.8,15z",
    "https://www.google.com/maps/place/Monas", "95.0, 106.8", "-6.2, 190", "0, 0",
    "https://www.openstreetmap.org/", "geo:abc",
])
def test_no_point_where_there_is_none(bad: str) -> None:
    assert geo.parse_point(bad) is None


def test_short_links_are_refused_not_fetched() -> None:
    for link in ("https://maps.app.goo.gl/AbCdEf123", "https://goo.gl/maps/xyz"):
        with pytest.raises(geo.ShortMapLink):
            geo.parse_point(link)
    assert geo.looks_like_map_link("https://maps.app.goo.gl/AbCdEf123")


def test_distances_box_and_links() -> None:
    # Jakarta to Bandung, about 120 km as the crow flies
    assert geo.haversine_km(-6.2088, 106.8456, -6.9175, 107.6191) == pytest.approx(116, abs=3)
    min_lat, max_lat, min_lon, max_lon = geo.bounding_box(-6.2, 106.8, 5)
    for bearing in range(0, 360, 15):  # every point 5 km away is inside the box
        import math
        lat = -6.2 + 4.99 / 111.2 * math.cos(math.radians(bearing))
        lon = 106.8 + 4.99 / (111.2 * math.cos(math.radians(-6.2))) * math.sin(
            math.radians(bearing))
        assert geo.haversine_km(-6.2, 106.8, lat, lon) < 5
        assert min_lat <= lat <= max_lat and min_lon <= lon <= max_lon
    link = geo.directions_link([(-6.1, 106.8), (-6.2, 106.9), (-6.3, 107.0)], (-6.0, 106.7))
    assert link.startswith("https://www.google.com/maps/dir/?api=1&travelmode=driving")
    assert "origin=-6.000000,106.700000" in link
    assert "destination=-6.300000,107.000000" in link
    assert "waypoints=-6.100000,106.800000%7C-6.200000,106.900000" in link


def _company(session, name: str) -> Company:
    return session.scalars(select(Company).where(Company.name == name)).one()


def _user(session, login: str) -> User:
    return session.scalars(select(User).where(User.login == login)).one()


def test_demo_sites_and_near_within_scope(database: Database, world: DemoWorld) -> None:
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(CompanySite).where(
            CompanySite.kind == "head_office")) == s.scalar(select(func.count()).select_from(
                Company).where(Company.lat.is_not(None)))
        assert s.scalar(select(func.count()).select_from(CompanySite).where(
            CompanySite.kind == "delivery")) > 0
        sinar = _company(s, "Sinar Jaya Abadi")
        budi, dewi = _user(s, "budi"), _user(s, "dewi")
        found = sites.near(s, budi, sinar.lat + 0.001, sinar.lon, radius_km=5)
        assert found[0].company.id == sinar.id and found[0].km == pytest.approx(0.111, abs=0.01)
        assert [n.km for n in found] == sorted(n.km for n in found)
        assert all(n.km <= 5 for n in found)
        assert len({n.company.id for n in found}) == len(found)
        # everything in the radius the rep may see is there: compare with a full scan
        every = [c for c in s.scalars(select(Company)) if c.lat is not None
                 and geo.haversine_km(sinar.lat, sinar.lon, c.lat, c.lon) <= 5
                 and c.territory_id in {t.id for t in budi.territories}]
        near_ids = {n.company.id for n in sites.near(s, budi, sinar.lat, sinar.lon,
                                                     radius_km=5, limit=500)}
        assert {c.id for c in every} <= near_ids
        # dewi (Surabaya) sees none of Jakarta's customers
        assert sites.near(s, dewi, sinar.lat, sinar.lon, radius_km=5) == []


def test_setting_a_site_is_for_the_owner_or_a_manager_and_is_logged(
        database: Database, world: DemoWorld, clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        sinar = _company(s, "Sinar Jaya Abadi")
        owner = s.get(User, sinar.owner_id)
        other = next(u for u in (_user(s, "budi"), _user(s, "sari")) if u.id != owner.id)
        with pytest.raises(Forbidden):
            sites.set_site_from_chat(s, other, sinar.id, -6.2, 106.8, now=now)
        with pytest.raises(DomainError):
            sites.set_site_from_chat(s, owner, sinar.id, 91.0, 106.8, now=now)
        site = sites.set_site_from_chat(s, owner, sinar.id, -6.2001, 106.8002, now=now)
        assert (site.lat, site.lon, site.source, site.set_by_id) == (
            -6.2001, 106.8002, "chat", owner.id)
        assert (sinar.lat, sinar.lon) == (-6.2001, 106.8002)  # field service uses it
        maya = _user(s, "maya")
        sites.set_site_from_chat(s, maya, sinar.id, -6.2005, 106.8005,
                                 now=now + timedelta(minutes=1))
        log = sites.site_history(s, sinar.id)
        assert [(c.user_id, c.new_lat) for c in log[:2]] == [(maya.id, -6.2005),
                                                             (owner.id, -6.2001)]
        assert log[0].old_lat == -6.2001
        assert s.scalar(select(func.count()).select_from(CompanySite).where(
            CompanySite.company_id == sinar.id, CompanySite.kind == "head_office")) == 1
        with pytest.raises(DomainError):  # dewi cannot even see it
            sites.set_site_from_chat(s, _user(s, "dewi"), sinar.id, -6.2, 106.8, now=now)


def test_check_in_verified_far_and_without_site(database: Database, world: DemoWorld,
                                                clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        sinar = _company(s, "Sinar Jaya Abadi")
        budi = _user(s, "budi")
        visit = activities.log_activity(s, budi, company=sinar, contact=None, kind="visit",
                                        outcome="positive", notes=None, now=now).activity
        site = sites.main_site(s, sinar.id)
        near = sites.verify_check_in(s, budi, visit, site.lat + 0.002, site.lon,
                                     radius_m=300, now=now)
        assert near.verified and 200 < near.distance_m < 240 and near.site_id == site.id
        far = sites.verify_check_in(s, budi, visit, site.lat + 0.02, site.lon,
                                    radius_m=300, now=now)  # a second share replaces it
        assert not far.verified and 2150 < far.distance_m < 2300
        assert (visit.lat, budi.last_lat) == (site.lat + 0.02, site.lat + 0.02)
        s.execute(text("DELETE FROM company_sites WHERE company_id = :c"), {"c": sinar.id})
        s.expire_all()
        none = sites.verify_check_in(s, budi, s.get(type(visit), visit.id), -6.2, 106.8,
                                     radius_m=300, now=now)
        assert none.distance_m is None and not none.verified and none.site_id is None


def test_site_changes_are_kept(database: Database, world: DemoWorld) -> None:
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(SiteChange)) == s.scalar(
            select(func.count()).select_from(CompanySite))


def test_import_takes_lat_lon_and_map_links(database: Database, clock: ManualClock) -> None:
    from core.csv_files import read_csv
    from core.imports import import_companies

    csv_text = (
        "external_id,name,city,lat,lon,map_link\n"
        "A1,PT Utama Indah,Jakarta,-6.2001,106.8001,\n"
        'A2,CV Baru Jaya,Bandung,,,"https://www.google.com/maps/@-6.9175,107.6191,17z"\n'
        "A3,PT Tanpa Lokasi,Medan,,,\n"
        "A4,PT Salah,Medan,95,106.8,\n"
        "A5,PT Pendek,Medan,,,https://maps.app.goo.gl/xyz\n"
        "A6,PT Alamat,Medan,,,Jl. Sudirman 5\n")
    now = clock.now()
    with database.session() as s:
        _, rows = read_csv(csv_text)
        report = import_companies(s, rows, now)
        assert (report.created, [(e.line, e.code) for e in report.errors]) == (
            3, [(5, "import.bad_location"), (6, "import.short_map_link"),
                (7, "import.bad_location")])
        by_name = {c.name: c for c in s.scalars(select(Company))}
        assert (by_name["Utama Indah"].lat, by_name["Utama Indah"].lon) == (-6.2001, 106.8001)
        site = sites.main_site(s, by_name["Baru Jaya"].id)
        assert (site.lat, site.lon, site.source) == (-6.9175, 107.6191, "import")
        assert sites.main_site(s, by_name["Tanpa Lokasi"].id) is None
    with database.session() as s:  # the same file again: nothing changes
        _, rows = read_csv(csv_text)
        report = import_companies(s, rows, now + timedelta(days=1))
        assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    with database.session() as s:  # a moved site is an update, logged
        _, rows = read_csv("external_id,name,lat,lon\nA1,PT Utama Indah,-6.3,106.9\n")
        report = import_companies(s, rows, now + timedelta(days=2))
        assert report.updated == 1
        cid = s.scalars(select(Company.id).where(Company.external_id == "A1")).one()
        assert [(c.old_lat, c.new_lat) for c in sites.site_history(s, cid)] == [
            (-6.2001, -6.3), (None, -6.2001)]


def test_demo_customers_stand_on_land(database: Database, world: DemoWorld) -> None:
    from core.demo.fieldday import COASTS

    with database.session() as s:
        for city, (side, limit) in COASTS.items():
            rows = s.execute(select(CompanySite.lat, CompanySite.lon).join(
                Company, Company.id == CompanySite.company_id).where(Company.city == city)).all()
            for lat, lon in rows:
                assert (lat <= limit) if side == "lat_max" else (lon >= limit), (city, lat, lon)


def test_near_across_the_antimeridian_and_without_territories(
        database: Database, world: DemoWorld, clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        fiji = Company(name="Suva Trading", created_at=now, updated_at=now)
        tonga = Company(name="Dateline Foods", created_at=now, updated_at=now)
        s.add_all([fiji, tonga])
        s.flush()
        sites.put_site(s, fiji, -17.0, 179.99, now=now, source="import")
        sites.put_site(s, tonga, -17.0, -179.99, now=now, source="import")
        found = sites.near(s, None, -17.0, 179.995, radius_km=5)
        assert {n.company.name for n in found} == {"Suva Trading", "Dateline Foods"}
        # a rep with no territory sees only the accounts they own
        budi = _user(s, "budi")
        from core.models import TerritoryRep
        s.execute(TerritoryRep.__table__.delete().where(TerritoryRep.user_id == budi.id))
        tonga.owner_id = budi.id
        s.flush()
        assert [n.company.name for n in sites.near(s, budi, -17.0, 179.995,
                                                   radius_km=5)] == ["Dateline Foods"]
