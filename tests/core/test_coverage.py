"""Territories by region and industry (matching on import and creation, areas read from free
words), the coverage view's figures, and "optimise my team": moves with reasons, applied one
by one or all at once with both reps told and the history kept; a move never goes to a rep
outside the territory of what it moves, nor past a cap (checked over 40 random teams)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import coverage as cov
from core import team_moves
from core import territory as svc
from core.activities import log_activity
from core.clock import ManualClock
from core.db import Database
from core.demo import DemoWorld
from core.errors import Conflict, DomainError, Forbidden
from core.imports import import_companies
from core.models import (
    Base,
    Company,
    Contact,
    Deal,
    FollowUp,
    NoticeRow,
    Role,
    Stage,
    Team,
    Territory,
    TerritoryRep,
    User,
)
from core.models.coverage import OwnershipMove, TerritoryIndustry


def user(s: Session, login: str) -> User:
    return s.scalars(select(User).where(User.login == login)).one()


def territory(s: Session, name: str) -> Territory:
    return s.scalars(select(Territory).where(Territory.name == name)).one()


# -- industries and matching -----------------------------------------------------------------
def test_territories_carry_industries_and_accounts_are_matched(
        database: Database, world: DemoWorld, clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        admin = user(s, "admin")
        hotels = svc.upsert_territory(s, admin, "Jakarta Hospitality", region="Jakarta",
                                      industries=["Hospitality", " hospitality ", "Education"],
                                      team="Java West")
        assert svc.industries_of(s, [hotels.id])[hotels.id] == ["Education", "Hospitality"]
        # the same industry twice in one region, or a second "every industry" one: refused
        with pytest.raises(Conflict):
            svc.upsert_territory(s, admin, "Jakarta Schools", region="jakarta",
                                 industries=["education"])
        with pytest.raises(Conflict):
            svc.upsert_territory(s, admin, "Jakarta Two", region="Jakarta")
        with pytest.raises(DomainError):
            svc.set_industries(s, admin, "Jakarta Hospitality", ["x" * 81])
        with pytest.raises(Forbidden):
            svc.set_industries(s, user(s, "maya"), "Jakarta Hospitality", ["Retail"])
        # created in chat or code: matched on flush by city, then industry
        hotel = Company(name="Hotel Baru", city="jakarta", industry="HOSPITALITY",
                        created_at=now, updated_at=now)
        shop = Company(name="Toko Baru", city="Jakarta", industry="Retail", created_at=now,
                       updated_at=now)
        given = Company(name="Given Ltd", city="Jakarta", industry="Hospitality",
                        territory_id=territory(s, "Bandung").id, created_at=now,
                        updated_at=now)
        s.add_all([hotel, shop, given])
        s.flush()
        assert hotel.territory_id == hotels.id
        assert shop.territory_id == territory(s, "Jakarta").id  # the "every industry" one
        assert given.territory_id == territory(s, "Bandung").id  # a given one is kept
        # moved to another city without a territory: matched again
        shop.city, shop.territory_id = "Surabaya", None
        s.flush()
        assert shop.territory_id == territory(s, "Surabaya").id
        # an industry territory only (no general one): other industries are not matched
        svc.upsert_territory(s, admin, "Bali Hotels", region="Denpasar",
                             industries=["Hospitality"])
        other = Company(name="Bali Shop", city="Denpasar", industry="Retail", created_at=now,
                        updated_at=now)
        s.add(other)
        s.flush()
        assert other.territory_id is None
        # industries emptied: the territory covers every industry of its region again
        svc.set_industries(s, admin, "Bali Hotels", [])
        assert svc.match_territory(s, other) is not None
        assert territory(s, "Bali Hotels").industry is None


def test_import_matches_territory_by_region_and_industry(
        database: Database, world: DemoWorld, clock: ManualClock) -> None:
    with database.session() as s:
        report = import_companies(s, [
            (2, {"name": "PT Pabrik Baja", "industry": "Manufacturing", "city": "Surabaya"}),
            (3, {"name": "PT Toko Surabaya", "industry": "Retail", "city": "Surabaya"}),
            (4, {"name": "PT Nowhere", "industry": "Retail", "city": "Atlantis"}),
        ], now=clock.now())
        assert report.created == 3
        names = {c.name: c.territory_id for c in s.scalars(select(Company).where(
            Company.name.in_(["Pabrik Baja", "Toko Surabaya", "Nowhere"])))}
        assert names["Pabrik Baja"] == territory(s, "Surabaya Industrial").id
        assert names["Toko Surabaya"] == territory(s, "Surabaya").id
        assert names["Nowhere"] is None
        # the same file again changes nothing
        again = import_companies(s, [
            (2, {"name": "PT Pabrik Baja", "industry": "Manufacturing", "city": "Surabaya"})],
            now=clock.now())
        assert again.unchanged == 1


def test_demo_splits_surabaya_by_industry(database: Database, world: DemoWorld) -> None:
    with database.session() as s:
        industrial = territory(s, "Surabaya Industrial")
        assert svc.industries_of(s, [industrial.id])[industrial.id] == ["Logistics",
                                                                        "Manufacturing"]
        nusantara = s.scalars(select(Company).where(
            Company.name == "Nusantara Logistik")).one()
        assert nusantara.territory_id == industrial.id
        reps = set(s.scalars(select(TerritoryRep.user_id).where(
            TerritoryRep.territory_id == industrial.id)))
        assert user(s, "dewi").id in reps and user(s, "budi").id not in reps


AREAS = (
    ("contacts in Jakarta", "Jakarta", "region", None),
    ("kontak di wilayah Bandung", "Bandung", "region", None),
    ("customers in manufacturing in Java West", "Java West", "team", "Manufacturing"),
    ("pelanggan manufaktur di Java West", "Java West", "team", "Manufacturing"),
    ("customers in manufactring in jakrta", "Jakarta", "region", "Manufacturing"),
    ("accounts of Surabaya Industrial", "Surabaya Industrial", "territory", None),
    ("hotels", None, None, "Hospitality"),
)


def test_areas_are_read_from_free_words(database: Database, world: DemoWorld) -> None:
    with database.session() as s:
        for text, place, kind, industry in AREAS:
            area = svc.resolve_area(s, text)
            assert (area.place, area.place_kind, area.industry) == (place, kind, industry), text
        assert svc.resolve_area(s, "contacts in Atlantis please").empty


def test_area_lists_only_what_the_asker_may_see(database: Database, world: DemoWorld) -> None:
    with database.session() as s:
        area = svc.resolve_area(s, "customers in Java West")
        maya, budi, dewi = user(s, "maya"), user(s, "budi"), user(s, "dewi")
        everyone = svc.area_counts(s, user(s, "admin"), area)
        expected = s.scalar(select(func.count()).select_from(Company).join(
            Territory, Territory.id == Company.territory_id).join(
            Team, Team.id == Territory.team_id).where(Team.name == "Java West"))
        assert everyone.companies == expected and expected > 0
        assert svc.area_counts(s, maya, area).companies == expected
        mine = svc.area_counts(s, budi, area)  # budi covers Jakarta only
        jakarta = s.scalar(select(func.count()).select_from(Company).where(
            Company.territory_id == territory(s, "Jakarta").id))
        assert mine.companies == jakarta < expected
        assert all(c.territory_id == territory(s, "Jakarta").id
                   for c in svc.area_companies(s, budi, area))
        assert svc.area_counts(s, dewi, area).companies == 0
        contacts = list(svc.area_contacts(s, budi, area))
        assert len(contacts) == mine.contacts > 0


# -- coverage --------------------------------------------------------------------------------
def _deal(s: Session, rep: User, company: Company, stage: Stage, now: datetime,
          amount: str = "100000000") -> Deal:
    deal = Deal(title=f"{company.name}: servers", company_id=company.id, owner_id=rep.id,
                team_id=rep.team_id, territory_id=company.territory_id, stage=stage.value,
                amount=Decimal(amount), currency="IDR", facts={}, created_at=now,
                updated_at=now, allocated_at=now - timedelta(days=3))
    s.add(deal)
    s.flush()
    return deal


def test_coverage_figures_per_rep_and_territory(database: Database, world: DemoWorld,
                                               clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        maya, budi = user(s, "maya"), user(s, "budi")
        before = {r.login: r for r in cov.coverage(s, maya, now).reps}
        company = s.scalars(select(Company).where(Company.owner_id == budi.id)
                            .order_by(Company.id)).first()
        assert company is not None
        _deal(s, budi, company, Stage.QUALIFIED, now, "200000000")
        s.add(FollowUp(user_id=budi.id, company_id=company.id, kind="call", due_at=now -
                       timedelta(hours=2), status="open", created_at=now))
        log_activity(s, budi, company=company, contact=None, kind="visit", outcome="positive",
                     notes=None, now=now)
        view = cov.coverage(s, maya, now)
        after = {r.login: r for r in view.reps}
        assert set(after) == {"budi", "sari", "andi"}  # the reps of Java West
        b, was = after["budi"], before["budi"]
        assert b.open_deals == was.open_deals + 1
        assert b.weighted - was.weighted == Decimal("200000000") * 40 / 100  # qualified: 40%
        assert b.overdue == was.overdue + 1 and b.visits_week == was.visits_week + 1
        assert b.idle[30] == was.idle[30] - 1  # just contacted
        assert view.visit_norm == 8 and view.week_start.weekday() == 0
        jakarta = next(t for t in view.territories if t.name == "Jakarta")
        accounts = s.scalar(select(func.count()).select_from(Company).where(
            Company.territory_id == jakarta.id))
        assert jakarta.accounts == accounts
        assert jakarta.never_visited == accounts - 1  # the visit above
        assert sorted(jakarta.reps) == sorted([budi.id, user(s, "sari").id])
        with pytest.raises(Forbidden):
            cov.coverage(s, budi, now)
        with pytest.raises(Forbidden):
            cov.coverage(s, maya, now, "Java East")


# -- optimisation ----------------------------------------------------------------------------
def _overload(s: Session, login: str, territory_name: str, accounts: int, deals_each: int,
              now: datetime) -> list[Company]:
    """Give `login` uncontacted accounts in a territory, each with open deals."""
    rep = user(s, login)
    terr = territory(s, territory_name)
    made = []
    for i in range(accounts):
        company = Company(name=f"Idle {login} {i}", city=terr.region, territory_id=terr.id,
                          owner_id=rep.id, created_at=now, updated_at=now)
        s.add(company)
        s.flush()
        s.add(Contact(company_id=company.id, name=f"Buyer {i}", owner_id=rep.id,
                      created_at=now, updated_at=now))
        for _ in range(deals_each):
            _deal(s, rep, company, Stage.CONTACTED, now)
        made.append(company)
    return made


def test_optimise_moves_idle_accounts_and_narrows_the_spread(
        database: Database, world: DemoWorld, clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        maya = user(s, "maya")
        idle = _overload(s, "sari", "Jakarta", accounts=4, deals_each=2, now=now)
        proposal = team_moves.propose(s, maya, now)
        accounts = [m for m in proposal.moves if m.kind == "account"]
        assert accounts and all(m.from_id == user(s, "sari").id for m in accounts)
        assert {m.to_id for m in accounts} <= {user(s, "budi").id}  # Jakarta's other rep
        assert all(m.ref_id in {c.id for c in idle} for m in accounts)
        high, low = proposal.before
        assert proposal.after[0] - proposal.after[1] < high - low
        assert accounts[0].params["days"] is None and accounts[0].params["from"] == \
            "Sari Purnamasari"
        digest = proposal.digest
        # one move applied: the account, its contacts and its open deals change hands
        first = accounts[0]
        applied = team_moves.apply_move(s, maya, first.key, now)
        company = s.get(Company, first.ref_id)
        assert company.owner_id == first.to_id
        assert {c.owner_id for c in s.scalars(select(Contact).where(
            Contact.company_id == company.id))} == {first.to_id}
        assert {d.owner_id for d in s.scalars(select(Deal).where(
            Deal.company_id == company.id))} == {first.to_id}
        assert len(applied.deals) == 2
        history = s.scalars(select(OwnershipMove)).one()
        assert (history.kind, history.from_user_id, history.to_user_id, history.by_user_id) \
            == ("account", first.from_id, first.to_id, maya.id)
        notices = {n.recipient_user_id: n for n in s.scalars(select(NoticeRow).where(
            NoticeRow.kind == "coverage.moved"))}
        assert set(notices) == {first.from_id, first.to_id}
        # the same button again: the account changed hands, nothing moves twice
        with pytest.raises(Conflict):
            team_moves.apply_move(s, maya, first.key, now)
        # "apply all" of the old proposal: refused, nothing moves
        with pytest.raises(Conflict):
            team_moves.apply_all(s, maya, digest, now)
        assert s.scalar(select(func.count()).select_from(OwnershipMove)) == 1
        fresh = team_moves.propose(s, maya, now)
        done = team_moves.apply_all(s, maya, fresh.digest, now)
        assert len(done) == len([m for m in fresh.moves if m.kind != "flag"])
        assert cov.coverage(s, maya, now).spread == fresh.after


def test_leads_go_to_the_less_loaded_rep_and_uncovered_territories_get_one(
        database: Database, world: DemoWorld, clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        maya, admin = user(s, "maya"), user(s, "admin")
        sari, budi = user(s, "sari"), user(s, "budi")
        jakarta = territory(s, "Jakarta")
        company = s.scalars(select(Company).where(Company.territory_id == jakarta.id)
                            .order_by(Company.id)).first()
        assert company is not None
        for _ in range(6):
            _deal(s, sari, company, Stage.QUALIFIED, now)
        lead = _deal(s, sari, company, Stage.LEAD_ALLOCATED, now)
        # a territory of the team nobody covers
        svc.upsert_territory(s, admin, "Bogor", region="Bogor", team="Java West")
        proposal = team_moves.propose(s, maya, now)
        kinds = {(m.kind, m.ref_id): m for m in proposal.moves}
        move = kinds[("lead", lead.id)]
        assert move.from_id == sari.id and move.to_id == budi.id
        cover = kinds[("cover", territory(s, "Bogor").id)]
        assert cover.to_id in {budi.id, user(s, "andi").id}
        team_moves.apply_move(s, maya, move.key, now)
        assert s.get(Deal, lead.id).owner_id == budi.id
        told = {n.kind: n.recipient_user_id for n in s.scalars(select(NoticeRow).where(
            NoticeRow.kind.in_(["lead.assigned", "coverage.moved"])))}
        assert told == {"lead.assigned": budi.id, "coverage.moved": sari.id}
        team_moves.apply_move(s, maya, cover.key, now)
        assert s.get(TerritoryRep, (territory(s, "Bogor").id, cover.to_id)) is not None
        with pytest.raises(Conflict):  # covered now
            team_moves.apply_move(s, maya, cover.key, now)
        # another team's manager cannot apply it; forged keys are refused
        with pytest.raises(Forbidden):
            team_moves.apply_move(s, user(s, "hendra"), move.key.replace(
                f":{sari.id}:", f":{budi.id}:").replace(f":{budi.id}", f":{sari.id}", 1), now)
        for bad in ("x:1:2:3", "a:1:2", "a:-1:2:3", "a:1:2:99999999999", ""):
            with pytest.raises(DomainError):
                team_moves.apply_move(s, maya, bad, now)


def test_a_balanced_team_gets_no_moves(database: Database, world: DemoWorld,
                                       clock: ManualClock) -> None:
    with database.session() as s:
        proposal = team_moves.propose(s, user(s, "hendra"), clock.now())
        high, low = proposal.before
        assert high - low < 2  # the demo's Java East: nothing to even out
        assert proposal.moves == [] and proposal.after == proposal.before


# -- the invariant, over random teams ---------------------------------------------------------
def _random_team(s: Session, rng: random.Random, now: datetime) -> User:
    from core.models.pipeline import PipelineSetting

    team = Team(name="T", approval_threshold=Decimal(1), currency="IDR")
    s.add(team)
    s.flush()
    boss = User(login="boss", name="Boss", role=Role.MANAGER.value, team_id=team.id,
                created_at=now)
    s.add(boss)
    terrs = [Territory(name=f"R{i}", region=f"R{i}", team_id=team.id) for i in range(3)]
    s.add_all(terrs)
    reps = [User(login=f"rep{i}", name=f"Rep {i}", role=Role.REP.value, team_id=team.id,
                 created_at=now, active=rng.random() > 0.1,
                 away_until=now + timedelta(days=2) if rng.random() < 0.1 else None,
                 lead_cap=rng.choice([None, 2, 5, 30])) for i in range(rng.randint(2, 7))]
    s.add_all(reps)
    s.flush()
    team.manager_id = boss.id
    for key, low, high in (("deal_cap", 3, 30), ("account_cap", 3, 40)):
        s.add(PipelineSetting(key=key, value={"v": rng.randint(low, high)}, updated_at=now))
    for rep in reps:
        for terr in rng.sample(terrs, rng.randint(0, 3)):
            s.add(TerritoryRep(territory_id=terr.id, user_id=rep.id))
    s.flush()
    members = {t.id: [r for r in reps if s.get(TerritoryRep, (t.id, r.id))] for t in terrs}
    for i in range(rng.randint(5, 40)):
        terr = rng.choice(terrs)
        owner = rng.choice(members[terr.id] or reps) if rng.random() < 0.9 else None
        last = rng.choice([None, now - timedelta(days=rng.randint(1, 200))])
        company = Company(name=f"C{i}", city=terr.region, territory_id=terr.id,
                          owner_id=owner.id if owner else None, last_contacted_at=last,
                          created_at=now, updated_at=now)
        s.add(company)
        s.flush()
        for _ in range(rng.randint(0, 4)):
            stage = rng.choice([Stage.OPPORTUNITY, Stage.LEAD_ALLOCATED, Stage.CONTACTED,
                                Stage.QUALIFIED, Stage.ORDER_PLACED, Stage.LOST])
            deal_owner = owner if rng.random() < 0.8 else rng.choice([*reps, None])
            s.add(Deal(title=f"D{i}", company_id=company.id,
                       owner_id=deal_owner.id if deal_owner else None, team_id=team.id,
                       territory_id=terr.id, stage=stage.value, amount=Decimal(1000),
                       currency="IDR", facts={}, created_at=now, updated_at=now,
                       allocated_at=now - timedelta(days=1),
                       closed_at=now - timedelta(days=3) if stage in (
                           Stage.ORDER_PLACED, Stage.LOST) else None))
    s.flush()
    return boss


@pytest.mark.parametrize("seed", range(40))
def test_moves_stay_in_territory_and_under_capacity(seed: int, tmp_path, clock) -> None:
    rng = random.Random(seed)
    now = clock.now()
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    Base.metadata.create_all(db.engine)
    try:
        with db.session() as s:
            boss = _random_team(s, rng, now)
            deal_cap = svc.setting(s, "deal_cap")
            account_cap = svc.setting(s, "account_cap")
            load0 = {r.id: r.open_deals for r in cov.coverage(s, boss, now).reps}
            proposal = team_moves.propose(s, boss, now)
            load = dict(load0)
            accounts = {r.id: r.accounts for r in cov.coverage(s, boss, now).reps}
            for move in proposal.moves:
                if move.kind == "flag":
                    continue
                target = s.get(User, move.to_id)
                assert target is not None and target.active and target.role == "rep"
                assert target.away_until is None or target.away_until <= now
                if move.kind == "cover":
                    assert target.team_id == boss.team_id
                    continue
                record = s.get(Company if move.kind == "account" else Deal, move.ref_id)
                assert record is not None
                # never outside the territory of what is moved
                assert s.get(TerritoryRep, (record.territory_id, target.id)) is not None \
                    or any(m.kind == "cover" and m.ref_id == record.territory_id
                           and m.to_id == target.id for m in proposal.moves)
                if move.from_id is not None:  # between reps: it narrows their gap
                    assert load[move.to_id] + move.deals <= load[move.from_id] - move.deals
                    load[move.from_id] -= move.deals
                load[move.to_id] += move.deals
                if move.kind == "account":
                    accounts[move.to_id] += 1
                    accounts[move.from_id] -= 1
                    assert accounts[move.to_id] <= account_cap
                # never past a cap (a rep already past it receives nothing)
                assert load[move.to_id] <= deal_cap
            team_moves.apply_all(s, boss, proposal.digest, now)
            after = {r.id: r for r in cov.coverage(s, boss, now).reps}
            for rep_id, row in after.items():
                if row.open_deals > load0[rep_id]:
                    assert row.open_deals <= deal_cap
            for move in proposal.moves:
                if move.kind == "account":
                    company = s.get(Company, move.ref_id)
                    assert company is not None and company.owner_id == move.to_id
                    assert s.get(TerritoryRep, (company.territory_id, move.to_id)) is not None
    finally:
        db.dispose()


def test_industry_rows_follow_the_territory(database: Database, world: DemoWorld) -> None:
    with database.session() as s:
        row = territory(s, "Surabaya Industrial")
        s.delete(row)
        s.flush()
        assert s.scalar(select(func.count()).select_from(TerritoryIndustry)) == 0


@pytest.mark.process
def test_matching_holds_for_any_writer(tmp_path) -> None:
    """A script that imports only core.imports (no service of this area) still gets its
    accounts matched: the rule lives with the models."""
    import subprocess
    import sys

    script = f"""
import sys
from datetime import UTC, datetime
from core.db import Database
from core.imports import import_companies
from core.models import Base, Company, Territory
from core.models.coverage import TerritoryIndustry
db = Database("sqlite:///{tmp_path / 'm.db'}")
Base.metadata.create_all(db.engine)
now = datetime(2026, 3, 2, tzinfo=UTC)
with db.session() as s:
    s.add_all([Territory(id=1, name="Bali", region="Denpasar"),
               Territory(id=2, name="Bali Hotels", region="Denpasar")])
    s.flush()
    s.add(TerritoryIndustry(territory_id=2, industry="Hospitality"))
with db.session() as s:
    import_companies(s, [(2, {{"name": "Hotel Kuta", "city": "Denpasar",
                               "industry": "Hospitality"}})], now=now)
with db.session() as s:
    print("territory", s.query(Company).one().territory_id,
          "core.territory" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "territory 2 False"
