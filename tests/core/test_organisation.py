"""The company's identity (core.organisation): checked values, one bad value changes
nothing, per-language terms with the other language as fallback, a draft until the seller
can be reached, admins only, a logo that is really a small PNG or JPEG, and the quote
validity every new quote uses."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from core import organisation
from core.clock import ManualClock
from core.db import Database
from core.errors import DomainError, Forbidden
from core.models import User
from core.models.organisation import OrganisationProfile


def png(width: int = 120, height: int = 40, kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


def test_a_draft_until_the_seller_can_be_reached(database: Database,
                                                 clock: ManualClock) -> None:
    with database.session() as s:
        assert organisation.seller(s).missing == ["name", "address", "phone"]
        organisation.update_profile(s, None, {"name": "PT Maju", "address": "Jl. A 1"},
                                    now=clock.now())
        assert organisation.seller(s).is_draft  # no way to reach them yet
        organisation.update_profile(s, None, {"email": "sales@maju.co.id"}, now=clock.now())
        seller = organisation.seller(s)
        assert not seller.is_draft and seller.name == "PT Maju"
        organisation.update_profile(s, None, {"name": "  "}, now=clock.now())  # cleared
        assert organisation.seller(s).missing == ["name"]


def test_bad_values_are_refused_and_change_nothing(database: Database,
                                                   clock: ManualClock) -> None:
    with database.session() as s:
        for changes, code in (({"email": "sales at maju"}, "org.bad_email"),
                              ({"phone": "call me"}, "org.bad_phone"),
                              ({"website": "not a site"}, "org.bad_url"),
                              ({"quote-validity": "0"}, "org.bad_days"),
                              ({"quote-validity": "ten"}, "org.bad_days"),
                              ({"name": "x" * 201}, "org.too_long"),
                              ({"colour": "red"}, "org.unknown_field")):
            with pytest.raises(DomainError) as refused:
                organisation.update_profile(s, None, {"name": "PT Baru", **changes},
                                            now=clock.now())
            assert refused.value.code == code
        assert s.scalar(select(OrganisationProfile)) is None
        with pytest.raises(DomainError):
            organisation.update_profile(s, None, {"name": "PT"}, language="fr", now=clock.now())
        organisation.update_profile(s, None, {"phone": "+62 (21) 555-0123 ext. 12",
                                              "name": "PT\x07 Maju\nTeknik"}, now=clock.now())
        row = organisation.profile(s)
        assert row is not None and row.name == "PT Maju Teknik" and row.updated_by_id is None


def test_terms_per_language_with_the_other_as_fallback(database: Database,
                                                       clock: ManualClock) -> None:
    with database.session() as s:
        organisation.update_profile(s, None, {"payment-terms": "Payment in 14 days."},
                                    now=clock.now())
        seller = organisation.seller(s)
        assert seller.text("payment_terms", "id") == "Payment in 14 days."
        organisation.update_profile(s, None, {"payment-terms": "Bayar dalam 14 hari."},
                                    language="id", now=clock.now())
        seller = organisation.seller(s)
        assert seller.text("payment_terms", "id") == "Bayar dalam 14 hari."
        assert seller.text("payment_terms", "en") == "Payment in 14 days."
        assert seller.text("delivery_terms", "en") is None
        organisation.update_profile(s, None, {"payment-terms": ""}, language="en",
                                    now=clock.now())
        assert organisation.seller(s).payment_terms == {"id": "Bayar dalam 14 hari."}


def test_only_admins_change_it(database: Database, clock: ManualClock, world: object) -> None:
    with database.session() as s:
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        admin = s.scalars(select(User).where(User.login == "admin")).one()
        with pytest.raises(Forbidden):
            organisation.update_profile(s, budi, {"name": "PT Budi"}, now=clock.now())
        with pytest.raises(Forbidden):
            organisation.set_logo(s, budi, png(), now=clock.now())
        row = organisation.update_profile(s, admin, {"name": "PT Admin"}, now=clock.now())
        assert row.updated_by_id == admin.id and row.updated_at == clock.now()


def test_the_logo_is_a_real_small_png_or_jpeg(database: Database, clock: ManualClock) -> None:
    with database.session() as s:
        assert organisation.set_logo(s, None, png(), now=clock.now()).logo_mime == "image/png"
        jpeg = png(kind="JPEG")
        assert organisation.set_logo(s, None, jpeg, now=clock.now()).logo_mime == "image/jpeg"
        for data, code in ((b"<svg onload=alert(1)>", "org.bad_logo"),
                           (png()[:60], "org.bad_logo"),  # cut short
                           (png(kind="GIF"), "org.bad_logo"),
                           (png(5000, 4000), "org.logo_size"),  # 20 Mpx
                           (png(4, 4), "org.logo_size"),
                           (b"\x89PNG" + b"0" * 1_000_001, "org.logo_too_big")):
            with pytest.raises(DomainError) as refused:
                organisation.set_logo(s, None, data, now=clock.now())
            assert refused.value.code == code
        assert organisation.seller(s).logo == jpeg  # the last good one stays
        organisation.set_logo(s, None, None, now=clock.now())
        assert organisation.seller(s).logo is None


def test_new_quotes_are_valid_for_the_days_the_admin_set(database: Database,
                                                         clock: ManualClock,
                                                         world: object) -> None:
    from core.models import Company
    from core.models.quotes import Product
    from core.quotes import save_quote

    with database.session() as s:
        assert organisation.quote_validity_days(s) == 30
        organisation.update_profile(s, None, {"quote-validity": "14"}, now=clock.now())
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        company = s.scalars(select(Company).where(Company.owner_id == budi.id).limit(1)).one()
        product = s.scalars(select(Product).where(Product.sku == "LAP-AIR")).one()
        version = save_quote(s, budi, company=company, deal=None, now=clock.now(),
                             items={product.id: 1})
        local_today = (clock.now() + timedelta(hours=7)).date()
        assert version.valid_until == local_today + timedelta(days=14)
