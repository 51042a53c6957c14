"""A manager's team: coverage and workload (a table and a chart), and "optimise my team"
(moves with a reason each, one button per move and one for all of them, the load spread
before and after). Both reps of a move are told; the moves are kept (core.team_moves).

/coverage (or /team with nothing after it) -> the table and the chart, with [Optimise my team]
/optimise -> the proposal; [Apply n] applies one move, [Apply all] the proposal as shown.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy.orm import Session

from bot.charts import render_chart
from bot.conversations.flow import Action, Ctx, Flow, Step, done
from bot.conversations.messages import Attachment, Button, Incoming, Reply, button_rows
from bot.conversations.registry import Registry
from bot.conversations.understanding.intents import Phrasings
from bot.i18n import N_, Translator
from core import coverage as svc
from core import team_moves
from core.errors import Conflict
from core.models import Company, Deal, NoticeRow, Role, Territory, User
from core.models.coverage import OwnershipMove

MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})
TABLE_ROWS = 25
CHART_ROWS = 15

ERRORS = {
    "coverage.not_your_team": N_("That is not in your team: only its manager (or an admin) "
                                 "can move it."),
    "coverage.bad_move": N_("That button is no longer valid. Ask again with /optimise."),
    "coverage.gone": N_("That account, lead or territory no longer exists."),
    "coverage.changed_owner": N_("{name} changed hands meanwhile; nothing was moved. Ask "
                                 "again with /optimise."),
    "coverage.not_in_territory": N_("{name} does not cover {territory} (or is away): nothing "
                                    "was moved."),
    "coverage.no_capacity": N_("{name} has no room for more (their cap would be passed): "
                               "nothing was moved."),
    "coverage.already_covered": N_("{territory} has a rep now: nothing to add."),
    "coverage.changed": N_("The team changed since that proposal: nothing was moved."),
    "team.not_found": N_("There is no team called {name}."),
    "team.not_yours": N_("{name} is not your team."),
    "team.name_needed": N_("Name the team, e.g. /coverage Java West."),
}


# -- a CSV a spreadsheet opens safely ---------------------------------------------------------
_NUMBERISH = re.compile(r"^[+-]?[\d\s().-]+$")


def safe_cell(value: object) -> str:
    """A cell no spreadsheet runs as a formula: text starting with = + - @ (or a tab or
    carriage return) gets a leading apostrophe, except plain numbers and phone numbers."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "@", "\t", "\r") or (text[:1] in ("+", "-")
                                               and not _NUMBERISH.match(text)):
        return "'" + text
    return text


def csv_bytes(header: list[str], rows: Iterable[Iterable[object]]) -> bytes:
    """UTF-8 CSV (with a BOM, so spreadsheets read the accents) of safe cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# -- coverage ---------------------------------------------------------------------------------
def _millions(t: Translator, value: Decimal) -> str:
    return t.number((value / Decimal(1_000_000)).quantize(Decimal("0.1")))


def coverage_table(t: Translator, cov: svc.Coverage) -> str:
    headers = [t("Rep"), t("Deals"), t("Weighted (M)"), t("Leads"), t("30d"), t("60d"),
               t("90d"), t("Late"), t("Visits")]
    reps = sorted(cov.reps, key=lambda r: (-r.open_deals, r.name))
    body = []
    for rep in reps[:TABLE_ROWS]:
        name = rep.name[:18] + (" ⏸" if rep.away else "")
        body.append([name, str(rep.open_deals), _millions(t, rep.weighted),
                     str(rep.leads_waiting), *(str(rep.idle[d]) for d in svc.IDLE_DAYS),
                     str(rep.overdue), f"{rep.visits_week}/{cov.visit_norm}"])
    grid = [headers, *body]
    widths = [max(len(row[i]) for row in grid) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                         for i, c in enumerate(cells))

    out = [line(headers), "-" * (sum(widths) + 2 * (len(widths) - 1))]
    out += [line(row) for row in body]
    if len(reps) > TABLE_ROWS:
        out.append(t("… and {count} more reps", count=len(reps) - TABLE_ROWS))
    return "\n".join(out)


def territory_lines(t: Translator, cov: svc.Coverage) -> list[str]:
    lines = []
    for terr in cov.territories:
        covers = ", ".join(terr.industries) if terr.industries else t("every industry")
        reps = t.n("{count} rep", "{count} reps", len(terr.reps)) if terr.reps else t(
            "⚠️ nobody covers it")
        lines.append(t("{name} ({covers}): {accounts} accounts · {no_owner} without an owner · "
                       "{never} never visited · {reps}", name=terr.name, covers=covers,
                       accounts=terr.accounts, no_owner=terr.no_owner,
                       never=terr.never_visited, reps=reps))
    return lines


def coverage_chart(t: Translator, cov: svc.Coverage) -> bytes:
    reps = sorted(cov.reps, key=lambda r: (-r.open_deals, r.name))[:CHART_ROWS]
    return render_chart(
        kind="bar", title=t("Workload this week (visit norm: {norm})", norm=cov.visit_norm),
        labels=[r.name for r in reps],
        series={t("Open deals"): [float(r.open_deals) for r in reps],
                t("Visits this week"): [float(r.visits_week) for r in reps]},
        x_label=t("Rep"), y_label=t("Count"))


def coverage_replies(t: Translator, cov: svc.Coverage) -> list[Reply]:
    team = cov.team.name if cov.team is not None else t("every team")
    head = t("👥 Coverage of {team}, week from {day} (norm: {norm} visits per rep)",
             team=team, day=t.date(cov.week_start), norm=cov.visit_norm)
    legend = t("Deals: open deals · Weighted: by stage probability, millions · Leads: not yet "
               "contacted · 30d/60d/90d: accounts not contacted that long · Late: follow-ups "
               "overdue · Visits: this week / norm")
    high, low = cov.spread
    spread = t("Open deals per rep: most {high}, least {low}.", high=high, low=low)
    if not cov.reps:
        return [Reply(head + "\n" + t("No reps in this team yet."))]
    notes = "\n\n".join([legend, spread,
                          t("Territories:") + "\n" + "\n".join(territory_lines(t, cov))])
    chart = Attachment("coverage.png", coverage_chart(t, cov), "image/png",
                       caption=t("Workload this week"))
    optimise = Button(t("⚖️ Optimise my team"), action="cov.optimise",
                      arg=str(cov.team.id) if cov.team is not None else "")
    return [Reply(head + "\n\n" + coverage_table(t, cov), preformatted=True), Reply(notes),
            Reply(t("Chart"), attachment=chart, buttons=((optimise,),))]


def _team_arg(ctx: Ctx) -> str | int | None:
    """The team named after the command (admins), or by id from a button."""
    if (team_id := ctx.args.get("team_id", "")).isdigit() and len(team_id) <= 9:
        return int(team_id)
    text = (ctx.args.get("team") or ctx.args.get("text") or "").strip()
    return text[:120] or None


def _team_id(arg: str) -> int | None:
    return int(arg) if arg.isascii() and arg.isdigit() and len(arg) <= 9 else None


async def coverage_view(ctx: Ctx, inc: Incoming) -> Step:
    cov = svc.coverage(ctx.session, ctx.user, ctx.now, _team_arg(ctx))
    return done(*coverage_replies(ctx.t, cov))


# -- optimisation -----------------------------------------------------------------------------
def _rate(t: Translator, value: int | None) -> str:
    return t("wins {pct}%", pct=value) if value is not None else t("no closed deals yet")


def move_text(t: Translator, move: team_moves.Move) -> str:
    p = move.params
    if move.kind == "account":
        idle = (t("not contacted for {days} days", days=p["days"]) if p.get("days") is not None
                else t("never contacted"))
        return t.n("{company} ({idle}, {count} open deal) from {from_} ({from_load} open) to "
                   "{to} ({to_load} open), {territory}",
                   "{company} ({idle}, {count} open deals) from {from_} ({from_load} open) to "
                   "{to} ({to_load} open), {territory}", move.deals,
                   company=p["company"], idle=idle, from_=p["from"], from_load=p["from_load"],
                   to=p["to"], to_load=p["to_load"], territory=p["territory"])
    if move.kind == "lead" and move.from_id is not None:
        return t("Lead #{id} {title} from {from_} ({from_load} open, {from_rate}) to {to} "
                 "({to_load} open, {to_rate})", id=move.ref_id, title=p["deal"][:50],
                 from_=p["from"], from_load=p["from_load"], to=p["to"],
                 to_load=p["to_load"], from_rate=_rate(t, p["from_rate"]),
                 to_rate=_rate(t, p["to_rate"]))
    if move.kind == "lead":
        return t("Waiting lead #{id} {title} to {to} ({to_load} open, {to_rate})",
                 id=move.ref_id, title=p["deal"][:50], to=p["to"], to_load=p["to_load"],
                 to_rate=_rate(t, p["to_rate"]))
    if move.kind == "cover":
        return t("{territory} has no rep ({accounts} accounts): add {to} ({load} open)",
                 territory=p["territory"], accounts=p["accounts"], to=p["to"], load=p["load"])
    return t("⚠️ {territory} has no rep ({accounts} accounts) and the team has nobody to "
             "add: ask an admin.", territory=p["territory"], accounts=p["accounts"])


def proposal_reply(t: Translator, proposal: team_moves.Proposal) -> Reply:
    cov = proposal.coverage
    team = cov.team.name if cov.team is not None else t("every team")
    (b_high, b_low), (a_high, a_low) = proposal.before, proposal.after
    moves = proposal.moves
    if not moves:
        return Reply(t("⚖️ {team} is balanced: open deals per rep range from {high} to {low}; "
                       "every territory has a rep. Nothing to move.", team=team, high=b_high,
                       low=b_low))
    lines = [t.n("⚖️ Proposal for {team}: {count} move", "⚖️ Proposal for {team}: {count} moves",
                 len(moves), team=team),
             t("Load spread (open deals per rep, most / least): now {b_high} / {b_low}, "
               "after {a_high} / {a_low}.", b_high=b_high, b_low=b_low, a_high=a_high,
               a_low=a_low), ""]
    buttons: list[Button] = []
    for n, move in enumerate(moves, start=1):
        lines.append(f"{n}. {move_text(t, move)}")
        if move.kind != "flag":
            buttons.append(Button(t("Apply {n}", n=n), action="cov.apply", arg=move.key))
    rows = button_rows(buttons, 4)
    if len(buttons) > 1:
        team_id = str(cov.team.id) if cov.team is not None else ""
        rows = (*rows, (Button(t("Apply all"), action="cov.all",
                               arg=f"{proposal.digest}:{team_id}"),))
    return Reply("\n".join(lines), buttons=rows)


async def optimise_view(ctx: Ctx, inc: Incoming) -> Step:
    proposal = team_moves.propose(ctx.session, ctx.user, ctx.now, _team_arg(ctx))
    return done(proposal_reply(ctx.t, proposal))


async def optimise_action(ctx: Ctx, arg: str) -> Step:
    team_id = _team_id(arg)
    return await ctx.begin("team_optimise", team_id=str(team_id) if team_id else "")


def applied_text(t: Translator, session: Session, applied: team_moves.Applied) -> str:
    move = applied.move
    to = session.get(User, move.to_id) if move.to_id else None
    src = session.get(User, move.from_id) if move.from_id else None
    to_name = to.name if to else "-"
    if move.kind == "account":
        company = session.get(Company, move.ref_id)
        return t.n("✅ {company} and {count} open deal now belong to {to}; {from_} and {to} "
                   "are told.", "✅ {company} and {count} open deals now belong to {to}; "
                   "{from_} and {to} are told.", len(applied.deals),
                   company=company.name if company else "-", to=to_name,
                   from_=src.name if src else "-")
    if move.kind == "lead":
        deal = session.get(Deal, move.ref_id)
        return t("✅ Lead #{id} ({title}) now belongs to {to}; they are told.", id=move.ref_id,
                 title=deal.title if deal else "-", to=to_name)
    territory = session.get(Territory, move.ref_id)
    return t("✅ {to} now covers {territory}; they are told.", to=to_name,
             territory=territory.name if territory else "-")


async def apply_action(ctx: Ctx, arg: str) -> Step:
    applied = team_moves.apply_move(ctx.session, ctx.user, arg, ctx.now)
    return done(applied_text(ctx.t, ctx.session, applied))


async def apply_all_action(ctx: Ctx, arg: str) -> Step:
    t = ctx.t
    digest, _, raw = arg.partition(":")
    team = _team_id(raw)
    try:
        applied = team_moves.apply_all(ctx.session, ctx.user, digest, ctx.now, team)
    except Conflict as exc:
        if exc.code != "coverage.changed":
            raise
        fresh = team_moves.propose(ctx.session, ctx.user, ctx.now, team)
        return done(Reply(t("The team changed since that proposal: nothing was moved. Here "
                            "is a fresh one.")), proposal_reply(t, fresh))
    high, low = svc.coverage(ctx.session, ctx.user, ctx.now, team).spread
    lines = [applied_text(t, ctx.session, a) for a in applied]
    lines.append(t("Open deals per rep now: most {high}, least {low}.", high=high, low=low))
    return done("\n".join(lines))


# -- notices ----------------------------------------------------------------------------------
def render_moved(session: Session, notice: NoticeRow, user: User | None, t: Translator
                 ) -> Reply | None:
    move = session.get(OwnershipMove, int(notice.params.get("move_id", 0)))
    if move is None or user is None:
        return None
    by = session.get(User, move.by_user_id) if move.by_user_id else None
    other_id = move.to_user_id if notice.params.get("role") == "from" else move.from_user_id
    other = session.get(User, other_id) if other_id else None
    by_name, other_name = (by.name if by else "-"), (other.name if other else "-")
    details = move.details or {}
    deals = len(details.get("deals") or [])
    if move.kind == "account" and notice.params.get("role") == "from":
        return Reply(t.n("{by} moved {company} (with {count} open deal) to {to} to even out "
                         "the team's load: it was not contacted for a while.",
                         "{by} moved {company} (with {count} open deals) to {to} to even out "
                         "the team's load: it was not contacted for a while.", deals,
                         by=by_name, company=details.get("company", "-"), to=other_name))
    if move.kind == "account":
        return Reply(t.n("📥 {by} gave you {company} (with {count} open deal) from {from_}: it "
                         "was not contacted for a while, please get in touch.",
                         "📥 {by} gave you {company} (with {count} open deals) from {from_}: "
                         "it was not contacted for a while, please get in touch.", deals,
                         by=by_name, company=details.get("company", "-"), from_=other_name))
    if move.kind == "lead":
        return Reply(t("{by} gave your lead #{id} ({title}) to {to} to even out the team's "
                       "load.", by=by_name, id=move.deal_id or "-",
                       title=details.get("deal", "-"), to=other_name))
    territory = session.get(Territory, move.territory_id) if move.territory_id else None
    return Reply(t("📍 {by} added you to {territory}: nobody else covers it now.", by=by_name,
                   territory=territory.name if territory else details.get("territory", "-")))


COVERAGE_EN = (
    "team coverage", "show my team's coverage", "how is my team doing", "team workload",
    "who in my team is overloaded", "coverage of my team", "workload of my reps",
    "how busy are my reps", "team coverage this week", "show coverage and workload",
    "which accounts are not contacted in my team", "my team's visits this week",
    "coverage view", "team load", "how loaded is my team", "show the team's workload chart",
    "who has too many accounts",
    "who is overloaded on my team",
    "workload per rep", "how is my team performing", "how is my team performing this month",
    "team performance", "how are my reps doing",
)
COVERAGE_ID = (
    "cakupan tim", "tampilkan cakupan tim saya", "beban kerja tim", "gimana tim saya",
    "siapa di tim saya yang kebanyakan kerjaan", "beban kerja sales saya",
    "kunjungan tim minggu ini", "cakupan dan beban kerja tim", "lihat beban tim",
    "seberapa sibuk sales saya", "akun yang belum dihubungi di tim saya",
    "tolong tampilkan cakupan tim", "grafik beban kerja tim", "coverage tim dong",
    "beban tim gimana", "kinerja kunjungan tim minggu ini",
    "siapa yang paling sibuk di tim",
    "beban kerja per sales",
    "siapa yang kebanyakan akun", "gimana performa tim saya", "performa tim",
    "kinerja tim saya bulan ini", "bagaimana kinerja sales saya",
)
OPTIMISE_EN = (
    "optimise my team", "optimize my team", "balance my team's workload", "rebalance my team",
    "even out the load in my team", "who should take over accounts", "optimise the team",
    "suggest reassignments for my team", "rebalance leads in my team", "optimize team load",
    "spread the workload more evenly", "my team is unbalanced, fix it",
    "propose moves for my team", "reassign neglected accounts", "balance the leads",
    "optimise territories of my team",
    "distribute the work evenly",
    "rebalance accounts between my reps",
)
OPTIMISE_ID = (
    "optimalkan tim saya", "seimbangkan beban tim saya", "ratakan beban kerja tim",
    "atur ulang pembagian tim", "bagi ulang lead tim saya", "tim saya tidak seimbang",
    "usulkan pemindahan akun", "pindahkan akun yang terbengkalai", "optimasi tim dong",
    "tolong seimbangkan tim", "bagi rata kerjaan tim", "siapa yang harus ambil alih akun",
    "optimalkan wilayah tim saya", "seimbangkan lead di tim", "rapikan beban sales saya",
    "optimisasi tim",
    "bagi rata kerjaan tim",
    "bagi ulang akun antar sales",
)


def register(registry: Registry) -> None:
    """Register the coverage view, the optimisation, their actions and the move notice."""
    registry.add_errors(ERRORS)
    registry.add_flow(Flow("team_coverage", start=coverage_view, roles=MANAGERS,
                           commands=("coverage",),
                           help=N_("Team coverage and workload, with a chart")))
    registry.add_flow(Flow("team_optimise", start=optimise_view, roles=MANAGERS,
                           commands=("optimise", "optimize"),
                           help=N_("Moves that even out your team's load")))
    registry.add_action(Action("cov.optimise", optimise_action, roles=MANAGERS,
                               group_ok=False))
    registry.add_action(Action("cov.apply", apply_action, roles=MANAGERS, group_ok=False))
    registry.add_action(Action("cov.all", apply_all_action, roles=MANAGERS, group_ok=False))
    registry.add_notice("coverage.moved", render_moved)
    registry.add_phrasings(Phrasings("team_coverage", flow="team_coverage", en=COVERAGE_EN,
                                     id=COVERAGE_ID, label=N_("Team coverage and workload")))
    registry.add_phrasings(Phrasings("team_optimise", flow="team_optimise", en=OPTIMISE_EN,
                                     id=OPTIMISE_ID, label=N_("Optimise my team")))
