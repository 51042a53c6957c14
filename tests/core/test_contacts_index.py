"""The fuzzy contact index: normalisation, incremental updates, cross-process sync, scope;
and the generic import engine's row report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from core import contacts as svc
from core.contact_index import ContactIndex
from core.contact_records import CONTACT, normalise, phone_key
from core.csv_files import import_rows, read_csv
from core.db import Database
from core.demo import DemoWorld
from core.errors import DomainError
from core.models import Company, Contact, User


def _user(s, login: str) -> User:
    return s.scalar(select(User).where(User.login == login))


def test_normalise_and_phone_key() -> None:
    assert normalise("PT. Sinar Jaya Abadi Tbk") == ["sinar", "jaya", "abadi"]
    assert normalise("dr. Yusuf Éffendi") == ["yusuf", "effendi"]
    assert normalise("Café Nusantara, Ltd.") == ["cafe", "nusantara"]
    same = {phone_key(p) for p in ("+62 812-3456-7890", "0812 3456 7890", "081234567890",
                                   "(0812) 3456-7890", "6281234567890")}
    assert same == {"6281234567890"}
    assert phone_key("12") is None


def test_search_survives_typos_order_diacritics_and_scope(database: Database,
                                                          world: DemoWorld) -> None:
    index = ContactIndex(min_sync_interval=0)
    with database.session() as s:
        budi, admin = _user(s, "budi"), _user(s, "admin")
        for query in ("hendro wibisono", "wibisono hendro", "hendor wibisono", "Hendro Wibisóno",
                      "HENDRO", "wibiso"):
            found = svc.find_contacts(s, budi, query, index=index)
            assert found and found[0].contact.name == "Hendro Wibisono", query
        assert svc.find_companies(s, budi, "PT Sinar Jaya", index=index)[0].company.name == \
            "Sinar Jaya Abadi"
        assert svc.find_companies(s, budi, "sinar jaya abadi tbk", index=index)[0].score >= 90
        # Nusantara Logistik (Surabaya) exists, but not for budi (Jakarta)
        assert all(m.company.name != "Nusantara Logistik"
                   for m in svc.find_companies(s, budi, "Nusantara Logistik", index=index))
        assert svc.find_companies(s, admin, "Nusantara Logistik",
                                  index=index)[0].company.name == "Nusantara Logistik"
        assert svc.find_any(s, budi, "", index=index) == []


def test_incremental_update_and_cross_process_sync(database: Database,
                                                   world: DemoWorld, clock) -> None:
    mine = ContactIndex(min_sync_interval=0)
    mine.watch(database.sessionmaker)  # as the composition root wires it
    other = ContactIndex(min_sync_interval=0)  # another worker process
    with database.session() as s:
        admin = _user(s, "admin")
        mine.sync(s)
        other.sync(s)
        size = len(mine)
        hendro = s.scalar(select(Contact).where(Contact.name == "Hendro Wibisono"))
        hendro.name = "Hendrik Wirawan"
        hendro.updated_at = clock.now() + timedelta(seconds=1)
        s.flush()  # the flush hook marks it: this process's index updates this one record
        assert svc.find_contacts(s, admin, "hendrik wirawan", index=mine)[0].contact.id == \
            hendro.id
        assert all(m.contact.id != hendro.id
                   for m in svc.find_contacts(s, admin, "hendro wibisono", index=mine))
        company = s.scalar(select(Company).where(Company.name == "Sinar Jaya Abadi"))
        s.add(Contact(company_id=company.id, name="Zulkifli Marpaung", is_decision_maker=False,
                      created_at=clock.now(), updated_at=clock.now(), version=1))
    with database.session() as s:
        mine.sync(s)
    assert len(mine) == size + 1
    # A separate index sees the committed changes by polling the tables' fingerprint.
    assert not other._touched  # not watched: it learns of changes by polling only
    with database.session() as s:
        admin = _user(s, "admin")
        assert svc.find_contacts(s, admin, "zulkifli", index=other)[0].contact.name == \
            "Zulkifli Marpaung"
        assert svc.find_contacts(s, admin, "hendrik wirawan", index=other)
        s.execute(delete(Contact).where(Contact.name == "Zulkifli Marpaung"))
    assert not other._touched  # not watched: it learns of changes by polling only
    with database.session() as s:
        other.sync(s, force=True)
        assert len(other) == size
        assert not other.search("zulkifli marpaung", kinds=(CONTACT,))


def test_phone_lookup_any_format(database: Database, world: DemoWorld) -> None:
    index = ContactIndex(min_sync_interval=0)
    with database.session() as s:
        budi = _user(s, "budi")
        hendro = s.scalar(select(Contact).where(Contact.name == "Hendro Wibisono"))
        digits = "".join(ch for ch in hendro.mobile if ch.isdigit())
        for typed in ("0" + digits[2:], "+" + digits, f"(0{digits[2:5]}) {digits[5:]}"):
            assert svc.find_contacts(s, budi, typed, index=index)[0].contact.id == hendro.id


def test_import_rows_generic_report_and_savepoints(database: Database, world: DemoWorld,
                                                   clock) -> None:
    header, rows = read_csv("\ufeffname;size\nAlpha;1\n\nBeta;x\nGamma;3;extra\nAlpha;1\n")
    assert header == ["name", "size"]
    assert [line for line, _ in rows] == [2, 4, 5, 6]
    seen: dict[str, int] = {}

    def parse(row):
        if not row["size"].isdigit():
            raise DomainError("import.bad_number", column="size", value=row["size"])
        return row["name"], int(row["size"])

    def upsert(session, item):
        name, size = item
        if name in seen:
            return "unchanged" if seen[name] == size else "updated"
        seen[name] = size
        return "created"

    with database.session() as s:
        report = import_rows(s, rows, parse, upsert)
    assert (report.total, report.created, report.unchanged) == (4, 1, 1)
    assert [(e.line, e.code) for e in report.errors] == [(4, "import.bad_number"),
                                                         (5, "import.extra_columns")]


def test_a_refused_row_leaves_nothing(database: Database, world: DemoWorld, clock) -> None:
    def upsert(session, name):
        session.add(Company(name=name, created_at=clock.now(), updated_at=clock.now()))
        session.flush()
        if name == "Bad":
            raise DomainError("import.conflict")
        return "created"

    with database.session() as s:
        report = import_rows(s, [(2, {"n": "Good"}), (3, {"n": "Bad"})],
                             lambda r: r["n"], upsert)
    assert report.created == 1 and len(report.errors) == 1
    with database.session() as s:
        names = set(s.scalars(select(Company.name).where(Company.name.in_(["Good", "Bad"]))))
    assert names == {"Good"}


@pytest.mark.parametrize("text", ["2026-03-10", "10/3", "10-03-2026", "tuesday", "selasa"])
def test_parse_due_formats(text: str, clock) -> None:
    from core.activities import parse_due

    due = parse_due(text, "Asia/Jakarta", clock.now())
    assert due > clock.now() and due.hour == 2  # 09:00 Jakarta


def test_parse_due_refuses_past_and_nonsense(clock) -> None:
    from core.activities import parse_due

    for bad in ("2026-02-01", "31/2/2026", "soon", "25:00"):
        with pytest.raises(DomainError):
            parse_due(bad, "Asia/Jakarta", clock.now())
