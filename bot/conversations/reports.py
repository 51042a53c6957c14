"""Reports in chat: measure x grouping x period by buttons or one line, a table, a chart
image and a CSV export; saved templates and the weekly digest."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from bot.charts import render_chart
from bot.conversations import progress
from bot.conversations.flow import Action, Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.messages import Attachment, Button, Incoming, Reply, button_rows
from bot.conversations.phrasings import reports as reports_phrasings
from bot.conversations.registry import Registry
from bot.conversations.understanding import routing
from bot.i18n import N_, Translator
from core import reports as report_service
from core.csv_files import safe_row
from core.errors import NotFound
from core.models import NoticeRow, Role, User
from core.report_spec import ALLOWED_GROUPINGS, FIRST_TIME_FIX_DAYS, ReportSpec, ReportTable

REPORT_ROLES = frozenset({Role.REP, Role.MANAGER, Role.ADMIN})

MEASURE_LABELS = {
    "won": N_("Won sales"),
    "activities": N_("Activity levels"),
    "new_leads": N_("New leads"),
    "funnel": N_("Funnel conversion"),
    "pipeline": N_("Weighted pipeline"),
    "forecast": N_("Quarter forecast"),
    "win_loss": N_("Wins and losses"),
    "deal_age": N_("Average deal age"),
    "quotes": N_("Quote conversion"),
    "service": N_("Field service"),
}
GROUPING_LABELS = {
    "rep": N_("by rep"),
    "team": N_("by team"),
    "territory": N_("by territory"),
    "customer": N_("by customer"),
    "stage": N_("by stage"),
    "period": N_("over time"),
    "reason": N_("by loss reason"),
    "technician": N_("by technician"),
    "none": N_("in total"),
}
PERIOD_LABELS = {
    "today": N_("today"),
    "this_week": N_("this week"),
    "last_week": N_("last week"),
    "this_month": N_("this month"),
    "last_month": N_("last month"),
    "this_quarter": N_("this quarter"),
    "last_quarter": N_("last quarter"),
    "this_year": N_("this year"),
    "last_year": N_("last year"),
    "last_7_days": N_("the last 7 days"),
    "last_30_days": N_("the last 30 days"),
    "last_90_days": N_("the last 90 days"),
}
COLUMN_LABELS = {
    "amount": N_("Amount"),
    "count": N_("Count"),
    "visit": N_("Visits"),
    "call": N_("Calls"),
    "meeting": N_("Meetings"),
    "email": N_("E-mails"),
    "total": N_("Total"),
    "verified": N_("Verified visits"),
    "verified_rate": N_("Verified %"),
    "weighted": N_("Weighted"),
    "won": N_("Won"),
    "lost": N_("Lost"),
    "win_rate": N_("Win %"),
    "weighted_open": N_("Weighted open"),
    "forecast": N_("Forecast"),
    "avg_age_days": N_("Avg age (days)"),
    "opportunity": N_("Opportunity"),
    "lead_allocated": N_("Lead allocated"),
    "contacted": N_("Contacted"),
    "qualified": N_("Qualified"),
    "solution": N_("Solution"),
    "order_placed": N_("Order placed"),
    "sent": N_("Sent"),
    "accepted": N_("Accepted"),
    "conversion_rate": N_("Conversion %"),
    "accepted_value": N_("Accepted value"),
    "done": N_("Done"),
    "median_response_min": N_("Response (min)"),
    "on_time_rate": N_("On time %"),
    "first_time_fix_rate": N_("1st-time fix %"),
}
MONEY_COLUMNS = {"amount", "weighted", "weighted_open", "forecast", "accepted_value"}
# What the chart draws per measure (the first column names the y axis).
CHART_COLUMNS: dict[str, tuple[str, ...]] = {
    "won": ("amount",), "activities": ("total",), "new_leads": ("count",),
    "pipeline": ("weighted",), "forecast": ("forecast",), "win_loss": ("won", "lost"),
    "deal_age": ("avg_age_days",), "quotes": ("sent", "accepted"),
    "service": ("on_time_rate", "first_time_fix_rate"),
}
# Why some records are left out of a column (core's `excluded` codes), said under the table.
EXCLUDED_NOTES = {
    "accepted_other_currency": N_("Accepted quotes in another currency (counted, not in the "
                                  "value): {count}"),
    "no_arrival": N_("Jobs done without an on-site time (not in the response time or the "
                     "on-time rate): {count}"),
    "no_window": N_("Jobs without a time window (not in the on-time rate): {count}"),
}
QUICK_PERIODS = ("this_month", "last_month", "this_quarter", "last_quarter", "this_year")

ERRORS = {
    "report.bad_measure": N_("Unknown report {measure}."),
    "report.bad_period": N_("Unknown period {period}."),
    "report.bad_interval": N_("Unknown interval {interval}."),
    "report.bad_grouping": N_("That grouping does not fit this report. Pick one of the "
                              "buttons."),
    "report.bad_spec": N_("That report link is broken. Start again with /report."),
    "report.template_name_missing": N_("Give the report a name."),
    "report.bad_schedule": N_("Unknown schedule {schedule}."),
    "report.template_not_found": N_("No saved report called {name}. /reports lists them."),
}

# One-line requests: "won by rep this quarter", "aktivitas per tim bulan ini".
_QUOTE_WORDS = (r"quote conversions?|quote.to.order|quotes?|quotations?|konversi penawaran|"
                r"penawaran")
_SERVICE_WORDS = (r"first.time.fix(?: rate)?|ftf|response times?|on.time rate|field service|"
                  r"service jobs?|jobs? done|technician performance|waktu respons?|"
                  r"perbaikan pertama|tepat waktu|servis lapangan|layanan lapangan|"
                  r"kinerja teknisi|pekerjaan servis|service")
# Said without /report: only phrases no other flow starts with ("quote for X" is a new quote).
_REPORT_PHRASES = (r"quote conversions?|quote.to.order|konversi penawaran|first.time.fix|"
                   r"response times?|on.time rate|field service|technician performance|"
                   r"waktu respons?|perbaikan pertama|kinerja teknisi|servis lapangan")
_MEASURE_WORDS = (
    ("quotes", _QUOTE_WORDS),
    ("service", _SERVICE_WORDS),
    ("funnel", r"funnel|conversion|corong|konversi"),
    ("win_loss", r"win.?loss|wins? and loss|loss reasons?|lost reasons?|menang.?kalah|"
                 r"alasan kalah|lost|losses|kalah"),
    ("forecast", r"forecast|perkiraan|prakiraan|proyeksi"),
    ("pipeline", r"pipeline|weighted"),
    ("deal_age", r"deal age|age of deals|aging|umur"),
    ("new_leads", r"new leads?|leads?|prospek baru|lead baru"),
    ("activities", r"activit(?:y|ies)|visits?|calls?|aktivitas|kunjungan|kegiatan"),
    ("won", r"won|wins?|winning|sold|sell|selling|sales|revenue|turnover|clos(?:e|ed|ing)|"
            r"penjualan|omzet|omset|menang|jualan|terjual|laku"),
)
_GROUP_WORDS = (
    ("rep", r"(?:by|per) (?:rep|sales ?rep|salesperson|sales|orang)"),
    ("team", r"(?:by|per) (?:team|tim)"),
    ("territory", r"(?:by|per) (?:territory|region|wilayah|area|daerah)"),
    ("customer", r"(?:by|per) (?:customer|account|company|pelanggan|perusahaan)"),
    ("stage", r"(?:by|per) (?:stage|tahap)"),
    ("reason", r"(?:by|per) (?:reason|alasan)"),
    ("technician", r"(?:by|per) (?:technicians?|techs?|teknisi)"),
    ("period:day", r"(?:by|per) (?:day|hari)|daily|harian"),
    ("period:week", r"(?:by|per) (?:week|minggu|pekan)|weekly|mingguan"),
    ("period:month", r"(?:by|per) (?:month|bulan)|monthly|bulanan"),
    ("period:quarter", r"(?:by|per) (?:quarter|kuartal)|quarterly"),
)
_PERIOD_WORDS = (
    ("last_7_days", r"last 7 days|7 hari terakhir"),
    ("last_30_days", r"last 30 days|30 hari terakhir"),
    ("last_90_days", r"last 90 days|90 hari terakhir"),
    ("last_quarter", r"last quarter|previous quarter|kuartal lalu|kuartal sebelumnya"),
    ("this_quarter", r"this quarter|kuartal ini|quarter"),
    ("last_month", r"last month|bulan lalu"),
    ("this_month", r"this month|bulan ini"),
    ("last_week", r"last week|minggu lalu|pekan lalu"),
    ("this_week", r"this week|minggu ini|pekan ini"),
    ("last_year", r"last year|tahun lalu"),
    ("this_year", r"this year|tahun ini|ytd"),
    ("today", r"today|hari ini"),
)


def parse_period(text: str) -> str | None:
    """The period a text names ("last month", "kuartal ini"), or None."""
    lowered = " ".join(text.lower().split())
    return next((p for p, rx in _PERIOD_WORDS if re.search(rf"\b(?:{rx})\b", lowered)), None)


def parse_request(text: str) -> ReportSpec | None:
    """Read "won by rep this quarter" (or Indonesian) into a spec; None if no measure.

    A grouping the words name but the measure does not allow is kept, so the reply can say
    so; with no grouping named the measure's first one is used.
    """
    lowered = " ".join(text.lower().split())
    measure = next((m for m, rx in _MEASURE_WORDS if re.search(rf"\b(?:{rx})\b", lowered)), None)
    if measure is None:
        return None
    grouping, interval = "none", "month"
    for code, rx in _GROUP_WORDS:
        if re.search(rf"\b(?:{rx})\b", lowered):
            grouping, _, unit = code.partition(":")
            interval = unit or interval
            break
    else:
        grouping = ALLOWED_GROUPINGS[measure][0]
    period = parse_period(lowered) or "this_quarter"
    return ReportSpec(measure, grouping, period, interval)


_ANY_GROUPING = re.compile(r"\b(?:by|per|grouped by|menurut|berdasarkan)\s+([^\W\d_]{3,30})\b")


def unknown_grouping(text: str) -> str | None:
    """The word after "by"/"per" when it names no grouping ("won by industry"), else None."""
    lowered = " ".join(text.lower().split())
    if any(re.search(rf"\b(?:{rx})\b", lowered) for _, rx in _GROUP_WORDS):
        return None
    m = _ANY_GROUPING.search(lowered)
    if m is None or parse_period(m.group(1)) or m.group(1) in ("the", "a", "an", "all"):
        return None
    return m.group(1)


# -- presentation ----------------------------------------------------------------------------
def _cell(t: Translator, column: str, value: Any) -> str:
    if value is None:
        return "—"
    if column in MONEY_COLUMNS:
        return t.number(Decimal(value).quantize(Decimal("1")))
    if isinstance(value, float):
        return t.number(value)
    return t.number(value) if isinstance(value, int | Decimal) else str(value)


def _row_label(t: Translator, table: ReportTable, label: str) -> str:
    if table.spec.group_by == "stage":
        return t(COLUMN_LABELS.get(label, label))
    if table.spec.group_by == "period":
        from datetime import date

        return t.date(date.fromisoformat(label))
    if table.spec.group_by == "none":
        return t("All")
    if table.spec.group_by == "reason":
        from bot.conversations.deal import lost_word

        return lost_word(t, label) if label else t("(won)")
    return label or "—"


def title_of(t: Translator, spec: ReportSpec) -> str:
    return t("{measure} {grouping}, {period}", measure=t(MEASURE_LABELS[spec.measure]),
             grouping=t(GROUPING_LABELS[spec.group_by]), period=t(PERIOD_LABELS[spec.period]))


def render_table(t: Translator, table: ReportTable) -> str:
    """A compact monospace table with a totals line."""
    headers = [t("Name")] + [t(COLUMN_LABELS.get(c, c)) for c in table.columns]
    body = [[_row_label(t, table, r.label)[:22]] + [_cell(t, c, r.values.get(c))
                                                   for c in table.columns]
            for r in table.rows[:25]]
    total = [t("Total")] + [_cell(t, c, table.totals.get(c)) for c in table.columns]
    grid = [headers, *body, total]
    widths = [max(len(row[i]) for row in grid) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                         for i, c in enumerate(cells))

    out = [line(headers), "-" * (sum(widths) + 2 * (len(widths) - 1))]
    out += [line(r) for r in body]
    if len(table.rows) > 25:
        out.append(t("… and {count} more rows (see the CSV)", count=len(table.rows) - 25))
    out.append(line(total))
    notes = [t(EXCLUDED_NOTES[code], count=n) for code, n in table.excluded.items()
             if code in EXCLUDED_NOTES]
    if table.spec.measure == "service":
        notes.append(t("Response: median minutes from the job being logged to the "
                       "technician on site. First-time fix: never \"cannot complete\" and no "
                       "repeat service call at the same site within {days} days.",
                       days=FIRST_TIME_FIX_DAYS))
    if notes:
        out += ["", *notes]
    if table.spec.measure == "funnel":
        steps = report_service.funnel_conversion(table)
        out.append("")
        out += [f"{t(COLUMN_LABELS[s])}: {n}" + (f" ({rate}%)" if rate is not None else "")
                for s, n, rate in steps]
    return "\n".join(out)


def render_csv(t: Translator, table: ReportTable) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([t("Name")] + [t(COLUMN_LABELS.get(c, c)) for c in table.columns])
    for r in table.rows:  # a name a spreadsheet would run as a formula gets a leading '
        writer.writerow(safe_row([_row_label(t, table, r.label)] + [
            "" if r.values.get(c) is None else str(r.values.get(c)) for c in table.columns]))
    return buffer.getvalue().encode("utf-8")


def render_chart_png(t: Translator, table: ReportTable) -> bytes:
    spec = table.spec
    if spec.measure == "funnel":
        labels = [t(COLUMN_LABELS[c]) for c in table.columns]
        series = {t("Deals"): [float(table.totals.get(c) or 0) for c in table.columns]}
        return render_chart(kind="funnel", title=title_of(t, spec), labels=labels,
                            series=series, x_label=t("Deals"), y_label=t("Stage"))
    columns = CHART_COLUMNS[spec.measure]
    main = columns[0]
    rows = table.rows[:15]
    labels = [_row_label(t, table, r.label) for r in rows]
    series = {t(COLUMN_LABELS[c]): [float(r.values.get(c) or 0) for r in rows]
              for c in columns}
    return render_chart(
        kind="line" if spec.group_by == "period" else "bar", title=title_of(t, spec),
        labels=labels, series=series, x_label=t(GROUPING_LABELS[spec.group_by]).capitalize(),
        y_label=_y_label(t, table, main))


def _y_label(t: Translator, table: ReportTable, main: str) -> str:
    if table.spec.measure == "service":
        return "%"
    if table.spec.measure == "quotes":
        return t("Quotes")
    return t(COLUMN_LABELS[main]) + (f" ({table.currency})" if main in MONEY_COLUMNS else "")


def report_replies(t: Translator, table: ReportTable, buttons: list[Button] | None = None
                   ) -> list[Reply]:
    """The table (monospace), then the chart image with the action buttons."""
    spec = table.spec
    last_day = table.end - timedelta(seconds=1)  # the range is [start, end)
    head = f"{title_of(t, spec)}\n{t.date(table.start)} – {t.date(last_day)}"
    if not table.rows:
        return [Reply(head + "\n" + t("No data for this period."),
                      buttons=button_rows(buttons or [], 3))]
    progress.working(progress.IMAGE)
    chart = Attachment(filename=f"report-{spec.measure}.png", data=render_chart_png(t, table),
                       mime="image/png", caption=title_of(t, spec))
    return [Reply(head + "\n\n" + render_table(t, table), preformatted=True),
            Reply(t("Chart"), attachment=chart, buttons=button_rows(buttons or [], 3))]


# -- the flow ------------------------------------------------------------------------------------
async def start(ctx: Ctx, inc: Incoming) -> Step:
    """Run a one-line request or a saved report, else ask for the measure."""
    text = ctx.args.get("text", "").strip()
    if text:
        # A saved report's own name wins over the words in it ("Service Feb").
        try:
            template = report_service.get_template(ctx.session, ctx.user, text)
        except NotFound:
            spec = parse_request(text)
            if spec is None and len(text.split()) <= 3:
                raise  # a saved report's name, mistyped
            if spec is None:  # a question whose figures are not clear: ask which
                return _ask_measure(ctx, ctx.t("I could not tell which figures you want."))
            if (word := unknown_grouping(text)) is not None:
                return _unknown_grouping(ctx, spec, word)
        else:
            spec = report_service.template_spec(template)
        return _show(ctx, spec)
    return _ask_measure(ctx)


def _ask_measure(ctx: Ctx, prefix: str | None = None) -> Step:
    buttons = [Button(ctx.t(label), value=m) for m, label in MEASURE_LABELS.items()]
    text = ctx.t("Which report?")
    return goto("measure", Reply(f"{prefix}\n{text}" if prefix else text,
                                 buttons=button_rows(buttons, 2)))


async def choose_measure(ctx: Ctx, inc: Incoming) -> Step:
    """Take the measure, ask for the grouping."""
    measure = inc.button
    if measure not in MEASURE_LABELS:
        spec = parse_request(inc.text or "")
        if spec is not None:
            return _show(ctx, spec)
        return goto("measure", Reply(ctx.t("Please pick a report with the buttons.")))
    ctx.data["measure"] = measure
    groupings = ALLOWED_GROUPINGS[measure]
    if len(groupings) == 1:
        ctx.data["group_by"] = groupings[0]
        return _ask_period(ctx)
    buttons = [Button(ctx.t(GROUPING_LABELS[g]), value=g) for g in groupings]
    return goto("grouping", Reply(ctx.t("Grouped how?"), buttons=button_rows(buttons, 3)))


def _ask_period(ctx: Ctx) -> Step:
    buttons = [Button(ctx.t(PERIOD_LABELS[p]).capitalize(), value=p) for p in QUICK_PERIODS]
    return goto("period", Reply(ctx.t("For which period?"), buttons=button_rows(buttons, 3)))


async def choose_grouping(ctx: Ctx, inc: Incoming) -> Step:
    """Take the grouping, ask for the period."""
    if inc.button not in ALLOWED_GROUPINGS[ctx.data["measure"]]:
        return goto("grouping", Reply(ctx.t("Please pick a grouping with the buttons.")))
    ctx.data["group_by"] = inc.button
    return _ask_period(ctx)


async def choose_period(ctx: Ctx, inc: Incoming) -> Step:
    """Take the period and show the report."""
    period = inc.button or ""
    if period not in PERIOD_LABELS:
        period = parse_period(inc.text or "") or ""
    if period not in PERIOD_LABELS:
        return goto("period", Reply(ctx.t("Please pick a period with the buttons.")))
    interval = "week" if period in ("this_month", "last_month") else "month"
    return _show(ctx, ReportSpec(ctx.data["measure"], ctx.data["group_by"], period, interval))


def _show(ctx: Ctx, spec: ReportSpec) -> Step:
    if spec.measure in ALLOWED_GROUPINGS and spec.group_by not in ALLOWED_GROUPINGS[spec.measure]:
        return _ask_grouping(ctx, spec)
    table = report_service.run_report(ctx.session, ctx.user, spec, ctx.now)
    ctx.data.update({"spec": spec.encode()})
    buttons = [Button(ctx.t("Export CSV"), value="csv"),
               Button(ctx.t("Save as template"), value="save")]
    return goto("result", *report_replies(ctx.t, table, buttons))


def _unknown_grouping(ctx: Ctx, spec: ReportSpec, word: str) -> Step:
    """Say which groupings exist instead of silently answering another one."""
    ctx.data["measure"] = spec.measure
    groupings = ALLOWED_GROUPINGS[spec.measure]
    buttons = [Button(ctx.t(GROUPING_LABELS[g]), value=g) for g in groupings]
    return goto("grouping", Reply(
        ctx.t("I cannot group {measure} by \"{word}\". It can be shown: {groupings}. "
              "Grouped how?", measure=ctx.t(MEASURE_LABELS[spec.measure]), word=word[:30],
              groupings=", ".join(ctx.t(GROUPING_LABELS[g]) for g in groupings)),
        buttons=button_rows(buttons, 3)))


def _ask_grouping(ctx: Ctx, spec: ReportSpec) -> Step:
    """Say the typed grouping does not fit the measure and offer the ones that do."""
    ctx.data["measure"] = spec.measure
    groupings = ALLOWED_GROUPINGS[spec.measure]
    buttons = [Button(ctx.t(GROUPING_LABELS[g]), value=g) for g in groupings]
    return goto("grouping", Reply(
        ctx.t("{measure} cannot be shown {grouping}. Grouped how?",
              measure=ctx.t(MEASURE_LABELS[spec.measure]),
              grouping=ctx.t(GROUPING_LABELS[spec.group_by])),
        buttons=button_rows(buttons, 3)))


async def on_result(ctx: Ctx, inc: Incoming) -> Step:
    """Export the shown report as CSV, or save it as a template."""
    spec = ReportSpec.decode(ctx.data["spec"])
    if inc.button == "csv":
        table = report_service.run_report(ctx.session, ctx.user, spec, ctx.now)
        csv_file = Attachment(filename=f"report-{spec.measure}-{spec.period}.csv",
                              data=render_csv(ctx.t, table), mime="text/csv")
        return goto("result", Reply(ctx.t("Here is the data as CSV."), attachment=csv_file,
                                    buttons=((Button(ctx.t("Save as template"),
                                                     value="save"),),)))
    if inc.button == "save":
        return goto("save_name", Reply(ctx.t("Name for this report? (e.g. \"Monday sales\")")))
    if inc.text:  # a new one-line request while looking at a result
        spec2 = parse_request(inc.text)
        if spec2 is not None:
            return _show(ctx, spec2)
        if ctx.understanding is not None:
            # Not about this report, and not understood as anything else: say what was
            # not understood, as without a report on screen (never "Done" to a question).
            return done(routing.miss_reply(ctx.t, ctx.understanding,
                                           ctx.engine.understander))
    return done(ctx.t("Done. Send /report for another report."))


async def save_name(ctx: Ctx, inc: Incoming) -> Step:
    """Save the report under the typed name; offer the weekly schedule."""
    name = (inc.text or "").strip()
    if not name or name.startswith("/"):
        return goto("save_name", Reply(ctx.t("Please type a name for the report.")))
    template = report_service.save_template(ctx.session, ctx.user, name,
                                            ReportSpec.decode(ctx.data["spec"]), ctx.now)
    return done(Reply(
        ctx.t("Saved as \"{name}\". Run it with /report {name}.", name=template.name),
        buttons=((Button(ctx.t("Send weekly (Mon 08:00)"), action="report.weekly",
                         arg=str(template.id)),),)))


async def list_saved(ctx: Ctx, inc: Incoming) -> Step:
    """List the user's saved reports with run buttons."""
    templates = report_service.list_templates(ctx.session, ctx.user)
    if not templates:
        return done(ctx.t("No saved reports yet. Run one with /report and tap "
                          "\"Save as template\"."))
    lines = [ctx.t("Your saved reports:")]
    buttons = []
    for tpl in templates:
        weekly = ctx.t(" (weekly)") if tpl.schedule == "weekly" else ""
        lines.append(f"• {tpl.name}{weekly}")
        buttons.append(Button(tpl.name[:30], action="report.run", arg=str(tpl.id)))
    return done(Reply("\n".join(lines), buttons=button_rows(buttons, 2)))


async def run_saved(ctx: Ctx, arg: str) -> Step:
    """Run a saved report (button)."""
    template = report_service.get_template(ctx.session, ctx.user, arg)
    return await ctx.begin("report", text=template.name)


async def make_weekly(ctx: Ctx, arg: str) -> Step:
    """Schedule a saved report weekly (button)."""
    template = report_service.get_template(ctx.session, ctx.user, arg)
    template.schedule = "weekly"
    return done(ctx.t("\"{name}\" will arrive every Monday at 08:00 your time.",
                      name=template.name))


def render_digest(session: Session, notice: NoticeRow, user: User | None, t: Translator
                  ) -> Reply | None:
    """The weekly digest: the report computed now for its recipient, with the chart."""
    if user is None or not user.active:
        return None
    spec = ReportSpec.decode(str(notice.params.get("spec")))
    from core.clock import SystemClock

    now = notice.due_at if notice.due_at else SystemClock().now()
    table = report_service.run_report(session, user, spec, now)
    replies = report_replies(t, table)
    heading = t("Your weekly digest")
    if notice.params.get("template"):
        heading = t("Your weekly report \"{name}\"", name=notice.params["template"])
    text = heading + "\n\n" + "\n\n".join(r.text for r in replies if r.text and
                                          r.attachment is None)
    attachment = next((r.attachment for r in replies if r.attachment), None)
    return Reply(text, attachment=attachment, preformatted=True)


def register(registry: Registry) -> None:
    """Register the report flows, actions, intents and the digest renderer."""
    registry.add_errors(ERRORS)
    registry.add_phrasings(*reports_phrasings.PHRASINGS)
    registry.add_flow(Flow(
        "report", start=start, roles=REPORT_ROLES, commands=("report",),
        help=N_("Sales figures as a table and a chart, e.g. /report won by rep this quarter"),
        accepts={"measure": "button", "grouping": "button", "period": "button",
                 "result": "button", "save_name": "text"},
        states={"measure": choose_measure, "grouping": choose_grouping,
                "period": choose_period, "result": on_result, "save_name": save_name},
        ongoing=ongoing(N_("Still building your report."))))
    registry.add_flow(Flow("reports", start=list_saved, roles=REPORT_ROLES,
                           commands=("reports",), help=N_("Your saved reports")))
    registry.add_action(Action("report.run", run_saved, roles=REPORT_ROLES, group_ok=False))
    registry.add_action(Action("report.weekly", make_weekly, roles=REPORT_ROLES,
                               group_ok=False))
    registry.add_notice("report.digest", render_digest)
