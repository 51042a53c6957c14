"""Territories and areas in chat: /territory (admin: list, add, reps), /region (a manager's
open deals of a region), and the customers and contacts of a region, territory, team or
industry (/customers, /contacts, with a CSV)."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.conversations.deal import stage_label
from bot.conversations.flow import FIELD_ROLES, Ctx, Flow, Step, done
from bot.conversations.leads import MANAGERS
from bot.conversations.messages import Attachment, Incoming, Reply
from bot.conversations.registry import Registry
from bot.conversations.team import csv_bytes
from bot.conversations.understanding.intents import Phrasings
from bot.i18n import N_, Translator
from core import territory as svc
from core.models import Role, Territory, User

TERRITORY_HELP = N_("Use: /territory list · /territory add NAME | REGION [| INDUSTRY, "
                    "INDUSTRY | TEAM] · /territory industries NAME | INDUSTRY, INDUSTRY · "
                    "/territory rep TERRITORY | LOGIN · /territory unrep TERRITORY | LOGIN")


async def territory_admin(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    text = (ctx.args.get("text") or "list").strip()
    word, _, rest = text.partition(" ")
    parts = [p.strip() for p in rest.split("|")] if rest else []
    word = word.lower()
    if word == "list":
        lines = []
        rows = list(ctx.session.scalars(select(Territory).order_by(Territory.name)))
        covered = svc.industries_of(ctx.session, [r.id for r in rows])
        for row in rows:
            reps = ", ".join(sorted(u.login for u in row.reps)) or "-"
            lines.append(t("{name}: {region} · {industry} · reps {reps}", name=row.name,
                           region=row.region,
                           industry=", ".join(covered.get(row.id, [])) or t("every industry"),
                           reps=reps))
        return done(Reply("\n".join(lines) or t("No territories yet.")))
    if word == "add" and len(parts) >= 2:
        row = svc.upsert_territory(
            ctx.session, ctx.user, parts[0], region=parts[1],
            industries=svc.parse_industries(parts[2]) if len(parts) > 2 and parts[2] else None,
            team=parts[3] if len(parts) > 3 and parts[3] else None)
        return done(t("Territory {name} saved.", name=row.name))
    if word == "industries" and len(parts) == 2:
        row = svc.set_industries(ctx.session, ctx.user, parts[0],
                                 svc.parse_industries(parts[1]))
        names = ", ".join(svc.industries_of(ctx.session, [row.id]).get(row.id, []))
        return done(t("{name} now covers: {industries}.", name=row.name,
                      industries=names or t("every industry")))
    if word in ("rep", "unrep") and len(parts) == 2:
        svc.assign_rep(ctx.session, ctx.user, parts[0], parts[1], remove=word == "unrep")
        return done(t("Saved: {login} in {territory}.", login=parts[1], territory=parts[0])
                    if word == "rep" else
                    t("Saved: {login} no longer in {territory}.", login=parts[1],
                      territory=parts[0]))
    return done(t(TERRITORY_HELP))


async def region_deals(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    from core.pipeline import find_deals

    region = (ctx.args.get("region") or ctx.args.get("text") or "").strip()
    if not region:
        return done(t("Say which region, e.g. \"deals in Jakarta\"."))
    deals = find_deals(ctx.session, ctx.user, "", region=region, limit=15)
    if not deals:
        return done(t("No open deals in {region} that you can see.", region=region[:40]))
    lines = [t("Open deals in {region}:", region=region)]
    for deal in deals:
        owner = ctx.session.get(User, deal.owner_id) if deal.owner_id else None
        lines.append(t("#{id} {title} · {stage} · {owner}", id=deal.id, title=deal.title,
                       stage=stage_label(t, deal.stage), owner=owner.name if owner else "-"))
    return done(Reply("\n".join(lines)))


# -- customers and contacts of an area (region, territory, team, industry) --------------------
AREA_PREVIEW = 12
AREA_CSV_LIMIT = 20_000
AREA_HELP = N_("Say where (a region, territory or team) and/or which industry, e.g. \"contacts "
               "in Jakarta\", \"customers in manufacturing in Java West\".")


def _area_text(ctx: Ctx) -> str:
    typed = (ctx.incoming.text or "").strip()
    if typed and not typed.startswith("/") and not ctx.incoming.button:
        return typed
    parts = [ctx.args.get(k, "") for k in ("text", "industry", "region", "team")]
    return " ".join(p for p in parts if p).strip()


def _area_label(t: Translator, area: svc.Area) -> str:
    if area.industry and area.place:
        return t("{industry} in {place}", industry=area.industry, place=area.place)
    return area.industry or area.place or "-"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "area"


async def _area(ctx: Ctx, kind: str) -> Step:
    t = ctx.t
    text = _area_text(ctx)
    area = svc.resolve_area(ctx.session, text)
    if area.empty:
        if text:
            return done(t("I know no region, territory, team or industry like \"{text}\". ",
                          text=text[:60]) + t(AREA_HELP))
        return done(t(AREA_HELP))
    found = svc.area_counts(ctx.session, ctx.user, area)
    label = _area_label(t, area)
    head = t.n("{count} customer", "{count} customers", found.companies) + " · " + t.n(
        "{count} contact", "{count} contacts", found.contacts)
    lines = [t("📍 {area} (that you can see): {counts}", area=label, counts=head)]
    if not found.companies:
        return done("\n".join(lines))
    if found.breakdown and len(found.breakdown) > 1:
        unnamed = t("(no territory)") if area.industry and not area.place else t(
            "(no industry)")
        lines.append(" · ".join(f"{unnamed if name == '-' else name} {n}"
                                for name, n in found.breakdown))
    lines.append("")
    rows: list[list[object]]
    if kind == "contacts":
        header = [t("Name"), t("Company"), t("Department"), t("Job title"), t("Phone"),
                  t("Mobile"), t("E-mail"), t("City"), t("Industry")]
        rows = []
        for contact, company in svc.area_contacts(ctx.session, ctx.user, area,
                                                  limit=AREA_CSV_LIMIT):
            rows.append([contact.name, company.name, contact.department, contact.job_title,
                         contact.phone, contact.mobile, contact.email, company.city,
                         company.industry])
        for row in rows[:AREA_PREVIEW]:
            lines.append(f"• {row[0]} · {row[1]}" + (f" · {row[2]}" if row[2] else "")
                         + (f" · {row[4] or row[5]}" if row[4] or row[5] else ""))
        shown = found.contacts
    else:
        header = [t("Company"), t("Industry"), t("City"), t("Territory"), t("Owner"),
                  t("Phone"), t("E-mail"), t("Last contacted")]
        names = {tid: name for tid, name in ctx.session.execute(
            select(Territory.id, Territory.name))}
        owners: dict[int, str] = {}
        rows = []
        for company in svc.area_companies(ctx.session, ctx.user, area, limit=AREA_CSV_LIMIT):
            if company.owner_id and company.owner_id not in owners:
                owner = ctx.session.get(User, company.owner_id)
                owners[company.owner_id] = owner.name if owner else "-"
            rows.append([company.name, company.industry, company.city,
                         names.get(company.territory_id or 0, ""),
                         owners.get(company.owner_id or 0, ""), company.phone, company.email,
                         t.date(company.last_contacted_at) if company.last_contacted_at
                         else ""])
        for row in rows[:AREA_PREVIEW]:
            lines.append(f"• {row[0]} · {row[1] or '-'} · {row[2] or '-'}"
                         + (f" · {row[4]}" if row[4] else ""))
        shown = found.companies
    if shown > AREA_PREVIEW:
        lines.append(t("… and {count} more in the CSV.", count=shown - AREA_PREVIEW))
    if shown > AREA_CSV_LIMIT:
        lines.append(t("The CSV holds the first {limit}.", limit=AREA_CSV_LIMIT))
    name = f"{kind}-{_slug(label)}.csv"
    data = csv_bytes(header, rows)
    return done(Reply("\n".join(lines), attachment=Attachment(name, data, "text/csv")))


async def area_contacts(ctx: Ctx, inc: Incoming) -> Step:
    return await _area(ctx, "contacts")


async def area_customers(ctx: Ctx, inc: Incoming) -> Step:
    return await _area(ctx, "customers")


AREA_CONTACTS_EN = (
    "contacts in {region}", "show me the contacts in {region}", "list contacts in {region}",
    "who are our contacts in {region}", "contacts of the {region} territory",
    "all contacts in {region}", "contacts of {text} customers in {region}",
    "people we know in {region}", "contacts in {text} in {region}", "give me {region} contacts",
    "export the contacts of {region}", "contacts in the {text} industry",
    "which contacts do we have in {region}", "contact list for {region}",
    "{region} contacts please", "contacts at {text} companies in {region}",
    "people we know in {region}",
    "all the contacts around {region}",
)
AREA_CONTACTS_ID = (
    "kontak di {region}", "kontak di wilayah {region}", "daftar kontak di {region}",
    "tampilkan kontak wilayah {region}", "siapa saja kontak kita di {region}",
    "kontak {region} dong", "semua kontak di daerah {region}", "kontak pelanggan {text} di "
    "{region}", "minta daftar kontak {region}", "kontak industri {text}",
    "kontak di bidang {text} wilayah {region}", "ada kontak siapa aja di {region}",
    "ekspor kontak {region}", "lihat kontak di {region}", "kontak perusahaan {text} di {region}",
    "orang yang kita kenal di {region}",
)
AREA_CUSTOMERS_EN = (
    "customers in {region}", "customers in {text} in {region}", "list customers in {region}",
    "show me the accounts in {region}", "which companies do we have in {region}",
    "all customers of the {region} territory", "accounts in {text} in {region}",
    "customers in the {text} industry", "{text} customers in {region}",
    "companies in {region}", "clients in {region}", "export the customers of {region}",
    "how many customers in {region}", "our accounts in {region}",
    "customer list for {text} in {region}", "{region} customers please",
)
AREA_CUSTOMERS_ID = (
    "pelanggan di {region}", "pelanggan di wilayah {region}", "daftar pelanggan di {region}",
    "pelanggan {text} di {region}", "perusahaan di wilayah {region}",
    "tampilkan akun di {region}", "pelanggan industri {text}", "berapa pelanggan di {region}",
    "semua pelanggan daerah {region}", "klien di {region}", "pelanggan {region} dong",
    "ekspor pelanggan {region}", "akun {text} di wilayah {region}",
    "pelanggan bidang {text} di {region}", "lihat perusahaan {text} di {region}",
    "ada pelanggan apa aja di {region}",
)


def register(registry: Registry) -> None:
    """Register /territory, /region and the customers and contacts of an area."""
    registry.add_flow(Flow("territory", start=territory_admin,
                           roles=frozenset({Role.ADMIN}), commands=("territory",),
                           help=N_("Territories and their reps (admin)")))
    registry.add_flow(Flow("region_deals", start=region_deals, roles=MANAGERS,
                           commands=("region",), help=N_("Open deals of a region: /region NAME")))
    registry.add_flow(Flow("area_contacts", start=area_contacts, roles=FIELD_ROLES,
                           commands=("contacts",),
                           help=N_("Contacts of a region, territory, team or industry (CSV)")))
    registry.add_flow(Flow("area_customers", start=area_customers, roles=FIELD_ROLES,
                           commands=("customers",),
                           help=N_("Customers of a region, territory, team or industry (CSV)")))
    registry.add_phrasings(Phrasings("area_contacts", flow="area_contacts",
                                     slots=("region", "text"), en=AREA_CONTACTS_EN,
                                     id=AREA_CONTACTS_ID, label=N_("Contacts of an area")))
    registry.add_phrasings(Phrasings("area_customers", flow="area_customers",
                                     slots=("region", "text"), en=AREA_CUSTOMERS_EN,
                                     id=AREA_CUSTOMERS_ID, label=N_("Customers of an area")))
