"""Customers and contacts created with a duplicate check, edited, and merged (every record
that pointed at the duplicate moves to the kept one; the merge is in the history)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import customers as svc
from core.activities import log_activity
from core.clock import ManualClock
from core.contact_index import ContactIndex
from core.contacts import find_contacts
from core.db import Database
from core.demo import DemoWorld
from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.models import (
    Activity,
    Company,
    Contact,
    Deal,
    FollowUp,
    MaterialSent,
    Territory,
    User,
)
from core.models.customers import MergeRecord


def user(s: Session, login: str) -> User:
    return s.scalars(select(User).where(User.login == login)).one()


def company(s: Session, name: str) -> Company:
    return s.scalars(select(Company).where(Company.name == name)).one()


def contact(s: Session, name: str) -> Contact:
    return s.scalars(select(Contact).where(Contact.name == name)).one()


def test_a_new_company_is_checked_for_duplicates_first(
        database: Database, world: DemoWorld, clock: ManualClock, contacts: ContactIndex) -> None:
    now = clock.now()
    with database.session() as s:
        budi = user(s, "budi")
        # a typo of an existing name
        data = svc.check_company({"name": "PT Sinar Jaya Abadii"})
        created, dupes = svc.create_company(s, budi, data, now=now, index=contacts)
        assert created is None and dupes[0].name == "PT Sinar Jaya Abadi"
        assert dupes[0].reasons == ("name",) and dupes[0].visible
        # the example: shares two words only, so it is not a duplicate
        data = svc.check_company({"name": "Baru Sejahtera Abadi Jaya", "city": "Jakarta"})
        created, dupes = svc.create_company(s, budi, data, now=now, index=contacts)
        assert dupes == [] and created is not None
        assert created.territory.name == "Jakarta" and created.owner_id == budi.id
        # the same phone number, typed another way, is a duplicate whatever the name
        data = svc.check_company({"name": "Toko Lain", "phone": "021 844 8005"})
        _created, dupes = svc.create_company(s, budi, data, now=now, index=contacts)
        assert [d.name for d in dupes] == ["PT Sinar Jaya Abadi"] and dupes[0].reasons == (
            "phone",)
        # the same e-mail
        data = svc.check_company({"name": "Another One",
                                  "email": "INFO@majubersama.co.id"})
        _created, dupes = svc.create_company(s, budi, data, now=now, index=contacts)
        assert dupes[0].name == "CV Maju Bersama" and dupes[0].reasons == ("email",)
        # Create anyway
        created, dupes = svc.create_company(s, budi, data, now=now, force=True, index=contacts)
        assert created is not None and created.email == "info@majubersama.co.id"


def test_a_duplicate_outside_the_reps_scope_is_reported_without_details(
        database: Database, world: DemoWorld, clock: ManualClock, contacts: ContactIndex) -> None:
    with database.session() as s:
        budi = user(s, "budi")  # Jakarta only
        data = svc.check_company({"name": "Nusantara Logistik"})  # Surabaya
        created, dupes = svc.create_company(s, budi, data, now=clock.now(), index=contacts)
        assert created is None and len(dupes) == 1 and not dupes[0].visible
        maya = user(s, "admin")
        _created, dupes = svc.create_company(s, maya, data, now=clock.now(), index=contacts)
        assert dupes[0].visible


def test_company_territory_and_owner_follow_the_import_rules(
        database: Database, world: DemoWorld, clock: ManualClock, contacts: ContactIndex) -> None:
    with database.session() as s:
        admin = user(s, "admin")
        data = svc.check_company({"name": "CV Toko Bandung Baru", "city": "bandung",
                                  "industry": "Retail"})
        created, _ = svc.create_company(s, admin, data, now=clock.now(), index=contacts)
        assert created is not None and created.legal_form == "CV"
        assert created.name == "Toko Bandung Baru"
        assert created.territory.name == "Bandung" and created.owner_id is None
        data = svc.check_company({"name": "Somewhere Far", "city": "Jayapura",
                                  "territory": "Medan"})
        created, _ = svc.create_company(s, admin, data, now=clock.now(), index=contacts)
        assert created is not None and created.territory.name == "Medan"
        with pytest.raises(NotFound):
            svc.create_company(s, admin, svc.check_company(
                {"name": "X Y Z", "territory": "Atlantis"}), now=clock.now(), index=contacts)
        with pytest.raises(Forbidden):
            svc.create_company(s, user(s, "tono"), data, now=clock.now(), force=True,
                               index=contacts)


@pytest.mark.parametrize("values, code", [
    ({"name": "  "}, "customers.bad_name"),
    ({"name": "..."}, "customers.bad_name"),
    ({"name": "x" * 201}, "customers.too_long"),
    ({"name": "Ok", "phone": "12"}, "customers.bad_phone"),
    ({"name": "Ok", "phone": "call me"}, "customers.bad_phone"),
    ({"name": "Ok", "email": "not-an-email"}, "customers.bad_email"),
])
def test_bad_company_input_is_refused_before_anything_is_written(
        values: dict[str, str], code: str) -> None:
    with pytest.raises(DomainError) as err:
        svc.check_company(values)
    assert err.value.code == code


def test_a_new_contact_is_checked_and_a_mobile_number_goes_to_mobile(
        database: Database, world: DemoWorld, clock: ManualClock, contacts: ContactIndex) -> None:
    now = clock.now()
    with database.session() as s:
        budi = user(s, "budi")
        sinar = company(s, "Sinar Jaya Abadi")
        # a like name at the same company
        data = svc.check_contact({"name": "Hendro Wibisno"})
        created, dupes = svc.create_contact(s, budi, sinar.id, data, now=now, index=contacts)
        assert created is None and dupes[0].name == "Hendro Wibisono"
        assert dupes[0].company_name == "PT Sinar Jaya Abadi"
        # the same mobile number anywhere
        data = svc.check_contact({"name": "Someone Else", "phone": "0857 5564 6183"})
        _created, dupes = svc.create_contact(s, budi, sinar.id, data, now=now, index=contacts)
        assert dupes[0].name == "Hendro Wibisono" and dupes[0].reasons == ("phone",)
        # the same e-mail
        data = svc.check_contact({"name": "Ratna K", "email": "ratna.kusumawati@"
                                  "sinarjayaabadi.co.id"})
        _created, dupes = svc.create_contact(s, budi, sinar.id, data, now=now, index=contacts)
        assert dupes[0].name == "Ratna Kusumawati"
        # a new person
        data = svc.check_contact({"name": "Hadi Effendi", "phone": "0812 3456 789",
                                  "department": "pembelian", "job_title": "Buyer"})
        created, dupes = svc.create_contact(s, budi, sinar.id, data, now=now, index=contacts)
        assert dupes == [] and created is not None
        assert created.mobile == "+628123456789" and created.phone is None
        assert created.department == "Purchasing" and created.owner_id == budi.id
        s.flush()
        # found by the lookup at once
        hits = find_contacts(s, budi, "hadi efendi", index=contacts)
        assert hits and hits[0].contact.id == created.id
        # the same name at another company is somebody else
        other = company(s, "Harapan Jaya")
        created2, dupes = svc.create_contact(s, budi, other.id,
                                             svc.check_contact({"name": "Hadi Effendi"}),
                                             now=now, index=contacts)
        assert dupes == [] and created2 is not None


def test_a_contact_of_a_company_out_of_scope_cannot_be_added(
        database: Database, world: DemoWorld, clock: ManualClock, contacts: ContactIndex) -> None:
    with database.session() as s:
        budi = user(s, "budi")
        far = company(s, "Nusantara Logistik")
        with pytest.raises(NotFound):
            svc.create_contact(s, budi, far.id, svc.check_contact({"name": "A B"}),
                               now=clock.now(), index=contacts)


def test_editing_a_contact_checks_each_value_and_concurrent_changes(
        database: Database, world: DemoWorld, clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        budi = user(s, "budi")
        joko = contact(s, "Joko Susilo")
        version = joko.version
        svc.update_contact(s, budi, joko.id, "email", "Joko@Example.COM", now=now,
                           version=version)
        svc.update_contact(s, budi, joko.id, "job_title", "IT Manager", now=now)
        svc.update_contact(s, budi, joko.id, "is_decision_maker", True, now=now)
        svc.update_contact(s, budi, joko.id, "department", "keuangan", now=now)
        svc.update_contact(s, budi, joko.id, "mobile", "0811-222-3333", now=now)
        s.flush()
        joko = contact(s, "Joko Susilo")
        assert (joko.email, joko.job_title, joko.is_decision_maker, joko.department,
                joko.mobile) == ("joko@example.com", "IT Manager", True, "Finance",
                                 "+628112223333")
        with pytest.raises(Conflict):  # the version the user saw is gone
            svc.update_contact(s, budi, joko.id, "email", "x@y.co", now=now, version=version)
        with pytest.raises(DomainError):
            svc.update_contact(s, budi, joko.id, "email", "nope", now=now)
        with pytest.raises(DomainError):
            svc.update_contact(s, budi, joko.id, "owner_id", 1, now=now)
        with pytest.raises(NotFound):
            svc.update_contact(s, budi, contact(s, "Lina Halim").id, "email", "a@b.co",
                               now=now)


def _duplicate_with_history(s: Session, now, contacts: ContactIndex
                            ) -> tuple[Contact, Contact]:
    """Hendro Wibisono and a duplicate 'Hendro W.' with an activity, a follow-up, a
    material sent and a deal of their own."""
    budi = user(s, "budi")
    sinar = company(s, "Sinar Jaya Abadi")
    keep = contact(s, "Hendro Wibisono")
    drop, _ = svc.create_contact(s, budi, sinar.id, svc.check_contact(
        {"name": "Hendro W.", "email": "hendro@gmail.com", "job_title": "Head of Purchasing"}),
        now=now, force=True, index=contacts)
    assert drop is not None
    log_activity(s, budi, company=sinar, contact=drop, kind="call", outcome="positive",
                 notes="called the duplicate", now=now)
    s.add(FollowUp(user_id=budi.id, company_id=sinar.id, contact_id=drop.id, kind="call",
                   due_at=now + timedelta(days=1), status="open", created_at=now))
    s.add(MaterialSent(material="brochure:SRV-X1", product_sku="SRV-X1", company_id=sinar.id,
                       contact_id=drop.id, sent_by_id=budi.id, sent_at=now, channel="email"))
    s.add(Deal(title="Dup deal", company_id=sinar.id, contact_id=drop.id, stage="contacted",
               facts={"decision_maker_contact_id": drop.id}, created_at=now, updated_at=now))
    s.flush()
    return keep, drop


def test_merging_contacts_keeps_every_record_and_the_history(
        database: Database, world: DemoWorld, clock: ManualClock, contacts: ContactIndex) -> None:
    now = clock.now()
    with database.session() as s:
        keep, drop = _duplicate_with_history(s, now, contacts)
        keep_id, drop_id = keep.id, drop.id
        before = {m: s.scalar(select(func.count()).select_from(m).where(
            m.contact_id == keep_id)) for m in (Activity, FollowUp, MaterialSent, Deal)}
        with pytest.raises(Forbidden):
            svc.merge_contacts(s, user(s, "budi"), keep_id, drop_id, now=now)
        record = svc.merge_contacts(s, user(s, "maya"), keep_id, drop_id, now=now)
        s.flush()
        assert s.get(Contact, drop_id) is None
        for model, count in before.items():
            assert s.scalar(select(func.count()).select_from(model).where(
                model.contact_id == keep_id)) == count + 1, model
        deal = s.scalars(select(Deal).where(Deal.title == "Dup deal")).one()
        assert deal.facts["decision_maker_contact_id"] == keep_id
        kept = s.get(Contact, keep_id)
        assert kept.job_title == "Purchasing Manager"  # not overwritten
        history = svc.merge_history(s, "contact", keep_id)
        assert [h.id for h in history] == [record.id]
        assert history[0].merged_name == "Hendro W."
        assert history[0].snapshot["email"] == "hendro@gmail.com"
        assert history[0].moved["activities"] == 1 and history[0].moved["deals"] == 1
        assert history[0].merged_by_id == user(s, "maya").id
        # the lookup no longer finds the duplicate
        hits = find_contacts(s, user(s, "budi"), "Hendro W.", index=contacts)
        assert drop_id not in [h.contact.id for h in hits]


def test_a_merge_is_refused_cleanly(
        database: Database, world: DemoWorld, clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        maya = user(s, "maya")
        hendro, ratna = contact(s, "Hendro Wibisono"), contact(s, "Ratna Kusumawati")
        with pytest.raises(DomainError) as err:
            svc.merge_contacts(s, maya, hendro.id, hendro.id, now=now)
        assert err.value.code == "customers.merge_same"
        other = s.scalars(select(Contact).where(Contact.company_id != hendro.company_id,
                                                Contact.company_id.in_(select(Company.id).where(
                                                    Company.territory_id == hendro.company
                                                    .territory_id)))).first()
        with pytest.raises(DomainError) as err:
            svc.merge_contacts(s, maya, hendro.id, other.id, now=now)
        assert err.value.code == "customers.merge_other_company"
        with pytest.raises(NotFound):  # Surabaya is not Maya's team
            svc.merge_contacts(s, maya, hendro.id, contact(s, "Lina Halim").id, now=now)
        assert s.get(Contact, ratna.id) is not None
        assert s.scalar(select(func.count()).select_from(MergeRecord)) == 0


def test_merging_companies_moves_contacts_deals_and_quotes(
        database: Database, world: DemoWorld, clock: ManualClock, contacts: ContactIndex) -> None:
    now = clock.now()
    with database.session() as s:
        admin = user(s, "admin")
        keep = company(s, "Sinar Jaya Abadi")
        dup, _ = svc.create_company(s, user(s, "budi"), svc.check_company(
            {"name": "PT Sinar Jaya Abadi Tbk Jakarta", "city": "Jakarta",
             "email": "sales@sinarjaya.example"}), now=now, force=True, index=contacts)
        assert dup is not None
        c, _ = svc.create_contact(s, admin, dup.id, svc.check_contact({"name": "Wati Dup"}),
                                  now=now, index=contacts)
        assert c is not None
        s.add(Deal(title="Dup company deal", company_id=dup.id, stage="contacted",
                   created_at=now, updated_at=now))
        s.flush()
        contacts_before = s.scalar(select(func.count(Contact.id)).where(
            Contact.company_id == keep.id))
        keep_id, dup_id = keep.id, dup.id
        record = svc.merge_companies(s, admin, keep_id, dup_id, now=now)
        s.flush()
        assert s.get(Company, dup_id) is None
        assert s.get(Contact, c.id).company_id == keep_id
        assert s.scalar(select(func.count(Contact.id)).where(
            Contact.company_id == keep_id)) == contacts_before + 1
        assert s.scalars(select(Deal).where(Deal.title == "Dup company deal")).one() \
            .company_id == keep_id
        assert record.moved["contacts"] == 1 and record.moved["deals"] == 1
        assert s.get(Company, keep_id).email == "info@sinarjayaabadi.co.id"
        assert [r.merged_name for r in svc.company_merges(s, keep_id)] == [
            "PT Sinar Jaya Abadi Tbk Jakarta"]


def test_references_cover_every_table_pointing_at_contacts() -> None:
    tables = {t.name for t, _c in svc._references("contacts")}
    assert {"activities", "deals", "follow_ups", "materials_sent"} <= tables
    assert "merge_records" not in tables
    territory_refs = {t.name for t, _c in svc._references("territories")}
    assert "companies" in territory_refs and Territory.__tablename__ == "territories"
