"""The user's day at a glance as a neutral view (the Slack App Home tab shows it; any door
may): overdue items, today's agenda, the manager's waiting approvals with their buttons, the
technician's jobs and the open pipeline. Words are the chat's own: the same stage and job
labels as the chat's replies (deal.STAGE_LABELS, jobs.STATUS_LABELS), in the user's language.
Texts are plain; a door escapes and styles them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.orm import Session

from bot.conversations.approvals import INBOX_LIMIT, request_reply
from bot.conversations.deal import stage_label
from bot.conversations.engine import encode_payload
from bot.conversations.jobs import STATUS_LABELS
from bot.conversations.messages import Reply
from bot.i18n import N_, Translator
from core import approvals
from core import home as home_service
from core.models import User

NOT_LINKED = N_("Link your Slack account first: send /sfa start CODE with the invite code "
                "from your admin.")


@dataclass(frozen=True)
class HomeSection:
    """A heading, an optional note after it, its lines, and requests with buttons."""

    heading: str
    note: str = ""
    lines: tuple[str, ...] = ()
    empty: str = ""  # said instead of the lines when there are none
    requests: tuple[Reply, ...] = ()  # stamped buttons, as the chat sends them


@dataclass(frozen=True)
class HomeView:
    """The whole view; `notice` alone for someone not linked (or deactivated)."""

    title: str = ""
    updated: str = ""
    sections: tuple[HomeSection, ...] = ()
    notice: str = ""
    request_ids: tuple[int, ...] = field(default=())  # ids of `requests`, in order


def not_linked(t: Translator) -> HomeView:
    return HomeView(notice=t(NOT_LINKED))


def home_view(session: Session, t: Translator, user: User, now: datetime) -> HomeView:
    """The home view of an active user, in their language and time zone."""
    day = home_service.my_day(session, user, now)
    sections: list[HomeSection] = []
    if day.overdue:
        sections.append(HomeSection(t("Overdue"), lines=tuple(
            f"{t.datetime(i.at)} — {i.title}" for i in day.overdue[:15])))
    sections.append(HomeSection(t("Today"), lines=tuple(
        f"{t.time(i.at)} — {i.title}" for i in day.today[:20]),
        empty=t("Nothing due today.")))
    waiting = approvals.waiting_for(session, user, limit=INBOX_LIMIT)
    request_ids: tuple[int, ...] = ()
    if waiting:
        count = approvals.count_waiting(session, user)
        requests = []
        for request in waiting:
            reply = request_reply(session, t, request)
            requests.append(replace(reply, buttons=tuple(
                tuple(replace(b, payload=encode_payload(b, None, 0)) for b in row)
                for row in reply.buttons)))
        request_ids = tuple(r.id for r in waiting)
        sections.append(HomeSection(
            t("Waiting for your decision"),
            note=t.n("{count} request", "{count} requests", count), requests=tuple(requests)))
    if day.jobs:
        sections.append(HomeSection(t("Your jobs"), lines=tuple(
            f"#{j.id} {j.company} — {t(STATUS_LABELS.get(j.status, j.status))}"
            + (f" · {t.time(j.at)}" if j.at else "") for j in day.jobs)))
    sections.append(HomeSection(
        t("Pipeline"), note=t.n("{count} open deal", "{count} open deals", day.open_deals),
        lines=tuple(f"{stage_label(t, s.stage)}: {s.count} · {t.money(s.amount)}"
                    for s in day.pipeline)))
    return HomeView(title=t("Your day, {name}", name=user.name),
                    updated=t("Updated {time}", time=t.datetime(now)),
                    sections=tuple(sections), request_ids=request_ids)
