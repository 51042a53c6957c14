"""A short brief on a customer, pushed when a rep arrives (a live location inside its site's
radius) or 15 minutes before a planned visit: contacts with roles, the open deals' stages
and what their next gate still needs, the last visit's notes, open complaints, follow-ups
due, material not sent yet, and the two knowledge documents most relevant to the deals'
products with what changed in them since the rep last opened them. At most one per
customer per day (the notice's reason, core.dayplan.brief_reason)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core import pipeline
from core.models import (
    OPEN_STAGES,
    STAGE_SEQUENCE,
    Activity,
    Company,
    Contact,
    Deal,
    FollowUp,
    FollowUpStatus,
    MaterialSent,
    User,
)
from core.models.fieldday import DocumentRead
from core.models.knowledge import Document, DocumentVersion
from core.models.quotes import Product, Quote, QuoteLine, QuoteVersion
from core.models.scheduling import Complaint
from core.notices import enqueue_notice
from core.scope import company_visible

DUE_AHEAD = timedelta(hours=24)  # a follow-up due within a day is worth knowing


@dataclass
class DealNote:
    deal: Deal
    next_stage: str | None
    missing: list[str]  # requirement codes of the next stage's gate not met yet


@dataclass
class DocNote:
    document: Document
    seen_version: int | None  # None: never opened by this user
    changes: list[DocumentVersion]  # versions after the one seen, oldest first


@dataclass
class CustomerBrief:
    company: Company
    contacts: list[Contact] = field(default_factory=list)
    deals: list[DealNote] = field(default_factory=list)
    last_visit: Activity | None = None
    complaints: list[Complaint] = field(default_factory=list)
    followups: list[FollowUp] = field(default_factory=list)
    unsent: list[Product] = field(default_factory=list)  # deal products, brochure not sent
    documents: list[DocNote] = field(default_factory=list)

    @property
    def worth_knowing(self) -> bool:
        """An open deal, an open complaint, a follow-up due or material not sent yet."""
        return bool(self.deals or self.complaints or self.followups or self.unsent)


def _deal_products(session: Session, deals: list[Deal]) -> list[Product]:
    """The products of the deals: their quotes' lines, else products their title or need
    names (by SKU or full name)."""
    ids = [d.id for d in deals]
    if not ids:
        return []
    skus = list(dict.fromkeys(session.scalars(
        select(QuoteLine.sku).join(QuoteVersion, QuoteVersion.id == QuoteLine.version_id)
        .join(Quote, Quote.id == QuoteVersion.quote_id)
        .where(Quote.deal_id.in_(ids)).order_by(QuoteLine.id))))
    if skus:
        return list(session.scalars(select(Product).where(Product.sku.in_(skus))))
    words = " ".join(f"{d.title} {d.need or ''}" for d in deals).lower()
    return [p for p in session.scalars(select(Product).where(Product.active))
            if p.sku.lower() in words or p.name.lower() in words][:5]


def _terms(products: list[Product]) -> list[str]:
    terms: list[str] = []
    for p in products:
        terms += [p.sku, p.name]
        terms += [w for w in re.split(r"\W+", p.name) if len(w) >= 4]
    return list(dict.fromkeys(t.lower() for t in terms if t))


def relevant_documents(session: Session, user: User, products: list[Product], limit: int = 2
                       ) -> list[DocNote]:
    """The published documents that mention the products most (title and tags count more
    than the text), with what changed since the user last opened each."""
    terms = _terms(products)
    if not terms:
        return []
    like = [Document.title.ilike(f"%{t}%") for t in terms] + [
        Document.text.ilike(f"%{t}%") for t in terms]
    docs = session.scalars(select(Document).where(Document.status == "published", or_(*like))
                           .limit(200)).all()
    scored = []
    for doc in docs:
        title, text = doc.title.lower(), doc.text.lower()
        tags = " ".join(str(x) for x in doc.tags or []).lower()
        score = sum(5 * title.count(t) + 3 * tags.count(t) + min(text.count(t), 10)
                    for t in terms)
        scored.append((-score, -doc.updated_at.timestamp(), doc.id, doc))
    out = []
    for _, _, _, doc in sorted(scored)[:limit]:
        seen = session.get(DocumentRead, (user.id, doc.id))
        seen_version = seen.version if seen is not None else None
        changes = list(session.scalars(
            select(DocumentVersion).where(DocumentVersion.document_id == doc.id,
                                          DocumentVersion.version > (seen_version or 0))
            .order_by(DocumentVersion.version))) if seen_version is not None else []
        out.append(DocNote(doc, seen_version, changes))
    return out


def record_read(session: Session, user: User, document: Document, now: datetime) -> None:
    """Remember the version of a document the user just opened."""
    row = session.get(DocumentRead, (user.id, document.id))
    if row is None:
        session.add(DocumentRead(user_id=user.id, document_id=document.id,
                                 version=document.version, opened_at=now))
    else:
        row.version, row.opened_at = document.version, now


def customer_brief(session: Session, user: User, company_id: int, now: datetime,
                   *, with_documents: bool = True) -> CustomerBrief | None:
    """What the user should know arriving at the customer (None: not visible to them)."""
    company = session.scalar(select(Company).where(Company.id == company_id,
                                                   company_visible(session, user)))
    if company is None:
        return None
    brief = CustomerBrief(company)
    brief.contacts = list(session.scalars(
        select(Contact).where(Contact.company_id == company.id)
        .order_by(Contact.is_decision_maker.desc(), Contact.last_contacted_at.desc(),
                  Contact.id).limit(4)))
    deals = list(session.scalars(
        select(Deal).where(Deal.company_id == company.id,
                           Deal.stage.in_([s.value for s in OPEN_STAGES]))
        .order_by(Deal.amount.desc(), Deal.id).limit(2)))
    for deal in deals:
        index = pipeline.stage_index(deal.stage)
        following = STAGE_SEQUENCE[index + 1].value if index + 1 < len(STAGE_SEQUENCE) else None
        missing = ([req for stage, req in pipeline.missing_for(session, deal, following)
                    if stage == following] if following else [])
        brief.deals.append(DealNote(deal, following, missing))
    brief.last_visit = session.scalar(
        select(Activity).where(Activity.company_id == company.id, Activity.kind == "visit")
        .order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(1))
    brief.complaints = list(session.scalars(
        select(Complaint).where(Complaint.company_id == company.id, Complaint.status == "open")
        .order_by(Complaint.created_at.desc()).limit(2)))
    due = func.coalesce(FollowUp.snoozed_until, FollowUp.due_at)
    brief.followups = list(session.scalars(
        select(FollowUp).where(FollowUp.company_id == company.id, FollowUp.user_id == user.id,
                               FollowUp.status == FollowUpStatus.OPEN.value,
                               due <= now + DUE_AHEAD).order_by(due).limit(3)))
    products = _deal_products(session, deals)
    sent = set(session.scalars(select(MaterialSent.product_sku).where(
        MaterialSent.company_id == company.id, MaterialSent.product_sku.is_not(None))))
    brief.unsent = [p for p in products if p.sku not in sent]
    if with_documents:
        brief.documents = relevant_documents(session, user, products)
    return brief


def local_day(user: User, now: datetime) -> str:
    return now.astimezone(ZoneInfo(user.timezone)).date().isoformat()


def offer_arrival_briefs(session: Session, user: User, company_ids: list[int],
                         now: datetime) -> list[int]:
    """Enqueue the brief of each customer the user just arrived at when it has something
    worth knowing; once per customer per day (whatever sent it). Returns the customers."""
    queued = []
    day = local_day(user, now)
    for company_id in company_ids:
        brief = customer_brief(session, user, company_id, now, with_documents=False)
        if brief is None or not brief.worth_knowing:
            continue
        if enqueue_notice(session, kind="fieldday.brief", reason=f"brief:{company_id}:{day}",
                          recipient_user_id=user.id, due_at=now, now=now,
                          params={"company_id": company_id, "why": "arrived"}):
            queued.append(company_id)
    return queued
