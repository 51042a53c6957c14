"""/merge (managers): a duplicate contact or company merged into the one kept; every record
that named the duplicate moves to it (core.customers.merge_contacts / merge_companies)."""

from __future__ import annotations

from typing import Any

from bot.conversations.contact_lines import raw_request
from bot.conversations.customers import CANCEL_WORDS
from bot.conversations.flow import Ctx, Flow, Step, done, goto
from bot.conversations.messages import Button, Incoming, button_rows
from bot.conversations.phrasings import customers as customers_phrasings
from bot.conversations.registry import Registry
from bot.i18n import N_, Translator
from core import customers as svc
from core.contacts import (
    find_any,
    find_companies,
    find_contacts,
    visible_company,
    visible_contact,
)
from core.models import Company, Contact, Role
from core.models.customers import MergeRecord

MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})


# -- /merge (managers) -----------------------------------------------------------------------
async def merge_start(ctx: Ctx, inc: Incoming) -> Step:
    """Merge a duplicate contact or company into the record to keep (managers)."""
    text = (ctx.args.get("contact") or ctx.args.get("company") or raw_request(ctx)).strip()
    if not text:
        return goto("duplicate", ctx.reply(ctx.t(
            "Which contact or company is the duplicate? Type its name.")))
    return _merge_pick_duplicate(ctx, text)


def _merge_pick_duplicate(ctx: Ctx, text: str) -> Step:
    t = ctx.t
    matches = find_any(ctx.session, ctx.user, text, limit=5, index=ctx.services.contacts)
    if not matches:
        return goto("duplicate", ctx.reply(t("I found nothing like \"{text}\" that you can "
                                             "see. Type another name.", text=text[:60])))
    if len(matches) == 1 or (matches[0].score >= 95
                             and matches[1].score <= matches[0].score - 6):
        return _merge_ask_keep(ctx, matches[0].kind, matches[0].record)
    buttons = [Button(_record_label(m.kind, m.record)[:60],
                      value=f"{'ct' if m.kind == 'contact' else 'cy'}:{m.record.id}")
               for m in matches]
    return goto("duplicate", ctx.reply(t("Which one is the duplicate?"),
                                       *button_rows(buttons, 1)))


def _record_label(kind: str, record: Any) -> str:
    if kind == "contact":
        return f"👤 {record.name} ({record.company.name})"
    return f"🏢 {svc._company_name(record.name, record.legal_form)}"


async def merge_duplicate(ctx: Ctx, inc: Incoming) -> Step:
    value = inc.button or ""
    kind, _, ident = value.partition(":")
    if ident.isdigit() and len(ident) <= 9 and kind in ("ct", "cy"):
        if kind == "ct":
            return _merge_ask_keep(ctx, "contact",
                                   visible_contact(ctx.session, ctx.user, int(ident)))
        return _merge_ask_keep(ctx, "company", visible_company(ctx.session, ctx.user,
                                                               int(ident)))
    text = (inc.text or "").strip()
    if not text:
        return goto("duplicate", ctx.reply(ctx.t("Type the duplicate's name (or /cancel).")))
    return _merge_pick_duplicate(ctx, text)


def _merge_ask_keep(ctx: Ctx, kind: str, record: Any) -> Step:
    t = ctx.t
    ctx.data.update(kind=kind, drop_id=record.id)
    candidates: list[Any] = []
    if kind == "contact":
        dupes = svc.contact_duplicates(ctx.session, ctx.user, name=record.name,
                                       company_id=record.company_id, phone=record.phone,
                                       mobile=record.mobile, email=record.email,
                                       index=ctx.services.contacts, exclude_id=record.id,
                                       limit=4)
        ids = [d.id for d in dupes if d.visible]
        ids += [m.contact.id for m in find_contacts(ctx.session, ctx.user, record.name,
                                                    limit=5, index=ctx.services.contacts,
                                                    company=record.company)]
        for cid in dict.fromkeys(ids):
            if cid != record.id:
                other = ctx.session.get(Contact, cid)
                if other is not None and other.company_id == record.company_id:
                    candidates.append(other)
    else:
        dupes = svc.company_duplicates(ctx.session, ctx.user, name=record.name,
                                       phone=record.phone, email=record.email,
                                       index=ctx.services.contacts, limit=4)
        ids = [d.id for d in dupes if d.visible]
        ids += [m.company.id for m in find_companies(ctx.session, ctx.user, record.name,
                                                     limit=5, index=ctx.services.contacts)]
        for cid in dict.fromkeys(ids):
            if cid != record.id:
                other_company = ctx.session.get(Company, cid)
                if other_company is not None:
                    candidates.append(other_company)
    buttons = [Button(_record_label(kind, c)[:60], value=f"k:{c.id}") for c in candidates[:5]]
    text = t("Merge {name} into which record? It is removed; everything recorded on it moves "
             "to the one you pick. Pick it or type its name.",
             name=_record_label(kind, record))
    return goto("keep", ctx.reply(text, *button_rows(buttons, 1)))


async def merge_keep(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    kind = ctx.data["kind"]
    value = inc.button or ""
    keep: Any = None
    if value.startswith("k:") and value[2:].isdigit():
        keep = (visible_contact if kind == "contact" else visible_company)(
            ctx.session, ctx.user, int(value[2:]))
    else:
        text = (inc.text or "").strip()
        if not text:
            return goto("keep", ctx.reply(t("Type the name of the record to keep (or "
                                            "/cancel).")))
        found: list[Any]
        if kind == "contact":
            drop = visible_contact(ctx.session, ctx.user, ctx.data["drop_id"])
            found = [m.contact for m in find_contacts(ctx.session, ctx.user, text, limit=3,
                                                      index=ctx.services.contacts,
                                                      company=drop.company)
                     if m.contact.id != drop.id]
        else:
            found = [m.company for m in find_companies(ctx.session, ctx.user, text, limit=3,
                                                       index=ctx.services.contacts)
                     if m.company.id != ctx.data["drop_id"]]
        if len(found) != 1:
            buttons = [Button(_record_label(kind, c)[:60], value=f"k:{c.id}") for c in found]
            return goto("keep", ctx.reply(t("Pick the record to keep:") if found else t(
                "I found no such record to keep. Type another name."),
                *button_rows(buttons, 1)))
        keep = found[0]
    if keep.id == ctx.data["drop_id"]:
        return goto("keep", ctx.reply(t.error("customers.merge_same", {})))
    drop_record = (visible_contact if kind == "contact" else visible_company)(
        ctx.session, ctx.user, ctx.data["drop_id"])
    ctx.data["keep_id"] = keep.id
    return goto("confirm", ctx.reply(
        t("Merge {drop} into {keep}? {drop} is removed; its activities, deals, follow-ups and "
          "materials move to {keep}.", drop=_record_label(kind, drop_record),
          keep=_record_label(kind, keep)),
        [Button(t("Merge"), value="yes"), Button(t("Cancel"), value="no")]))


async def merge_confirm(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    answer = inc.button or (inc.text or "").strip().lower()
    if answer in ("no", *CANCEL_WORDS):
        return done(t("Cancelled; nothing was merged."))
    if answer not in ("yes", "ya", "merge", "gabung"):
        return goto("confirm", ctx.reply(t("Press Merge or Cancel.")))
    merge = svc.merge_contacts if ctx.data["kind"] == "contact" else svc.merge_companies
    record = merge(ctx.session, ctx.user, ctx.data["keep_id"], ctx.data["drop_id"],
                   now=ctx.now)
    return done(merged_text(t, record))


def merged_text(t: Translator, record: MergeRecord) -> str:
    moved = sum(int(v) for v in record.moved.values())
    return t.n("✅ Merged {name} into the record kept; {count} record moved with it.",
               "✅ Merged {name} into the record kept; {count} records moved with it.",
               moved, name=record.merged_name)


def register(registry: Registry) -> None:
    """Register /merge and its intent."""
    registry.add_flow(Flow(
        "merge", start=merge_start,
        states={"duplicate": merge_duplicate, "keep": merge_keep, "confirm": merge_confirm},
        accepts={"duplicate": "customer", "keep": "button", "confirm": "button"},
        roles=MANAGERS, commands=("merge",), help=N_("Merge duplicate contacts or companies")))
    registry.add_phrasings(customers_phrasings.MERGE_RECORDS)
