"""Time on demand: "my week" (the agenda, overdue first) and calendar files (.ics) for
meetings and follow-ups."""

from __future__ import annotations

from bot.conversations.flow import FIELD_ROLES, Action, Ctx, Flow, Step, done, intent
from bot.conversations.messages import Attachment, Button, Incoming, Reply, button_rows
from bot.conversations.registry import Registry
from bot.i18n import N_, Translator, register_errors
from core import agenda as agenda_service
from core.agenda import AgendaItem
from core.models import Role

AGENDA_ROLES = frozenset({*FIELD_ROLES, Role.TECHNICIAN})

KIND_LABELS = {
    "meeting": N_("Meeting"),
    "follow_up": N_("Follow-up"),
    "call": N_("Call"),
    "visit": N_("Visit"),
    "demo": N_("Product demo"),
    "proposal": N_("Proposal"),
    "presentation": N_("Proposal presentation"),
    "documents": N_("Send documents"),
    "configure": N_("Configure price and solution"),
    "contract": N_("Draft the contract"),
    "approval": N_("Request approval"),
    "contact_by": N_("Contact the new lead by"),
}

register_errors({"agenda.not_found": N_("That meeting or follow-up is not in your agenda "
                                        "any more.")})


def kind_label(t: Translator, kind: str) -> str:
    return t(KIND_LABELS[kind]) if kind in KIND_LABELS else kind.replace("_", " ").capitalize()


def _line(t: Translator, item: AgendaItem, with_day: bool) -> str:
    when = t.datetime(item.at) if with_day else t.time(item.at)
    note = f" — {item.note}" if item.note else ""
    return f"• {when} {kind_label(t, item.kind)}: {item.title}{note}"


async def my_week(ctx: Ctx, inc: Incoming) -> Step:
    """Show the week's agenda grouped by day, overdue first, with calendar buttons."""
    t = ctx.t
    agenda = agenda_service.week_agenda(ctx.session, ctx.user, ctx.now)
    if not agenda.overdue and not agenda.days:
        return done(t("Nothing planned for the next 7 days. Log a visit and set a next step "
                      "to fill your week."))
    lines = [t("Your week")]
    calendar_buttons: list[Button] = []
    if agenda.overdue:
        lines.append("")
        lines.append(t("Overdue ({count}):", count=len(agenda.overdue)))
        lines += [_line(t, item, with_day=True) for item in agenda.overdue]
    for day, items in agenda.days:
        lines.append("")
        lines.append(t.date(day))
        lines += [_line(t, item, with_day=False) for item in items]
        for item in items:
            if item.follow_up_id is not None and len(calendar_buttons) < 8:
                calendar_buttons.append(Button(
                    f"📅 {t.time(item.at)} {item.title[:18]}", action="agenda.ics",
                    arg=str(item.follow_up_id)))
    if calendar_buttons:
        lines.append("")
        lines.append(t("Tap a meeting to add it to your phone's calendar."))
    return done(Reply("\n".join(lines), buttons=button_rows(calendar_buttons, 2)))


async def send_ics(ctx: Ctx, arg: str) -> Step:
    """Send one meeting or follow-up as an .ics invitation."""
    if not arg.isdigit():
        return done(ctx.t("That button is no longer valid."))
    follow_up_id = int(arg)
    from core.models import FollowUp

    follow_up = ctx.session.get(FollowUp, follow_up_id)
    kind = follow_up.kind if follow_up is not None else "follow_up"
    company = follow_up.company.name if follow_up is not None and follow_up.company else ""
    summary = f"{kind_label(ctx.t, kind)}: {company}".rstrip(": ")
    data = agenda_service.follow_up_ics(ctx.session, ctx.user, follow_up_id, summary=summary,
                                        now=ctx.now, organizer_name=ctx.user.name)
    return done(Reply(ctx.t("Open the file to add it to your calendar."),
                      attachment=Attachment(filename=f"sfa-{follow_up_id}.ics", data=data,
                                            mime="text/calendar")))


def register(registry: Registry) -> None:
    """Register "my week" and the calendar-file action."""
    registry.add_flow(Flow("my_week", start=my_week, roles=AGENDA_ROLES, commands=("week",),
                           help=N_("Your week: meetings, follow-ups and contact-by dates")))
    registry.add_action(Action("agenda.ics", send_ics, roles=AGENDA_ROLES, group_ok=False))
    registry.add_intent(intent(
        "my_week", r"^(?:my week|my agenda|agenda|what'?s (?:on )?my week|this week'?s plan)"
                   r"\??$",
        r"^(?:minggu saya|agenda saya|jadwal saya|jadwal minggu ini)\??$", priority=40))
