"""Leads waiting for an owner: the team-channel announcement with a Claim button (first
claim wins), allocation and escalation notices with the manager's buttons (reassign, give,
extend, remind the rep), and /leads, the queue of leads unowned or overdue."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations.deal import stage_label
from bot.conversations.flow import Action, Ctx, Flow, Step, done
from bot.conversations.leads import CLAIMERS, MANAGERS, lead_summary
from bot.conversations.messages import Button, Incoming, Reply, button_rows
from bot.conversations.registry import Registry
from bot.i18n import N_, Translator
from core import leads
from core.models import Company, Deal, NoticeRow, Role, Stage, User


async def claim_action(ctx: Ctx, arg: str) -> Step:
    t = ctx.t
    result = leads.claim_lead(ctx.session, ctx.user, arg, ctx.now)
    if result.won:
        return done(t("✅ {name} took lead #{id} ({title}).", name=ctx.user.name,
                      id=result.deal.id, title=result.deal.title))
    who = result.owner.name if result.owner else t("someone")
    if result.owner is not None and result.owner.id == ctx.user.id:
        return done(Reply(t("You already have lead #{id}.", id=result.deal.id),
                          ephemeral=True))
    return done(Reply(t("Too late: {name} already took lead #{id}.", name=who,
                        id=result.deal.id), ephemeral=True))


def _rep_buttons(session: Session, deal: Deal, now) -> list[Button]:
    reps = leads.eligible_reps(session, deal.territory_id, now) if deal.territory_id else []
    if not reps and deal.team_id:
        reps = list(session.scalars(select(User).where(
            User.team_id == deal.team_id, User.role == Role.REP.value, User.active)
            .order_by(User.name)))
    return [Button(r.name[:30], action="lead.give", arg=f"{deal.id}:{r.id}")
            for r in reps[:6] if r.id != deal.owner_id]


async def reassign_action(ctx: Ctx, arg: str) -> Step:
    t = ctx.t
    from core.pipeline import get_deal

    deal = get_deal(ctx.session, ctx.user, arg)
    buttons = _rep_buttons(ctx.session, deal, ctx.now)
    if not buttons:
        return done(t("Nobody else can take lead #{id}.", id=deal.id))
    return done(ctx.reply(t("Give lead #{id} ({title}) to whom?", id=deal.id,
                            title=deal.title), *button_rows(buttons, 2)))


async def give_action(ctx: Ctx, arg: str) -> Step:
    t = ctx.t
    deal_id, _, user_id = arg.partition(":")
    rep = ctx.session.get(User, int(user_id)) if user_id.isdigit() else None
    if rep is None:
        return done(t("That button is no longer valid."))
    deal = leads.reassign(ctx.session, ctx.user, deal_id, rep.login, ctx.now)
    assert deal.contact_by is not None  # a reassigned lead always gets a contact-by date
    return done(t("Lead #{id} now belongs to {name}; contact by {when}.", id=deal.id,
                  name=rep.name, when=t.datetime(deal.contact_by)))


async def extend_action(ctx: Ctx, arg: str) -> Step:
    deal = leads.extend_contact_by(ctx.session, ctx.user, arg, ctx.now)
    assert deal.contact_by is not None  # extending sets it
    return done(ctx.t("Lead #{id}: contact by moved to {when}.", id=deal.id,
                      when=ctx.t.datetime(deal.contact_by)))


async def remind_action(ctx: Ctx, arg: str) -> Step:
    deal = leads.remind_rep(ctx.session, ctx.user, arg, ctx.now)
    owner = ctx.session.get(User, deal.owner_id) if deal.owner_id is not None else None
    return done(ctx.t("I reminded {name} about lead #{id}.",
                      name=owner.name if owner is not None else "-", id=deal.id))


# -- notices --------------------------------------------------------------------------------
def _deal(session: Session, notice: NoticeRow) -> Deal | None:
    return session.get(Deal, int(notice.params.get("deal_id", 0)))


def render_announce(session: Session, notice: NoticeRow, user: User | None, t: Translator
                    ) -> Reply | None:
    deal = _deal(session, notice)
    if deal is None:
        return None
    lines = lead_summary(session, t, deal)
    if deal.owner_id is not None:
        owner = session.get(User, deal.owner_id)
        lines.append(t("Taken by {name}.", name=owner.name if owner else "-"))
        return Reply("\n".join(lines))
    return Reply.with_buttons("\n".join(lines),
                              [Button(t("Claim"), action="lead.claim", arg=str(deal.id))])


def render_assigned(session: Session, notice: NoticeRow, user: User | None, t: Translator
                    ) -> Reply | None:
    deal = _deal(session, notice)
    if deal is None or user is None or deal.owner_id != user.id:
        return None
    lines = lead_summary(session, t, deal)
    lines[0] = t("📥 Lead #{id} is yours: {title}", id=deal.id, title=deal.title)
    if deal.contact_by:
        lines.append(t("Contact by {when}.", when=t.datetime(deal.contact_by)))
    return Reply("\n".join(lines))


def render_unassigned(session: Session, notice: NoticeRow, user: User | None, t: Translator
                      ) -> Reply | None:
    deal = _deal(session, notice)
    if deal is None or deal.owner_id is not None:
        return None
    lines = lead_summary(session, t, deal)
    lines.append(t("Nobody could take it by rule: please assign it."))
    buttons = _rep_buttons(session, deal, notice.due_at)
    return Reply.with_buttons("\n".join(lines), *button_rows(buttons, 2))


def render_escalation(session: Session, notice: NoticeRow, user: User | None, t: Translator
                      ) -> Reply | None:
    deal = _deal(session, notice)
    if deal is None or deal.stage not in (Stage.OPPORTUNITY.value, Stage.LEAD_ALLOCATED.value):
        return None
    owner = session.get(User, deal.owner_id) if deal.owner_id else None
    company = session.get(Company, deal.company_id)
    text = "\n".join([
        t("⚠️ Lead #{id} ({company}) was not contacted in time.", id=deal.id,
          company=company.name if company else "-"),
        t("Owner: {name} · contact by {when} · stage {stage}",
          name=owner.name if owner else "-",
          when=t.datetime(deal.contact_by) if deal.contact_by else "-",
          stage=stage_label(t, deal.stage))])
    return Reply.with_buttons(text, [
        Button(t("Reassign"), action="lead.reassign", arg=str(deal.id)),
        Button(t("Extend"), action="lead.extend", arg=str(deal.id)),
        Button(t("Remind the rep"), action="lead.remind", arg=str(deal.id))])


def render_reminder(session: Session, notice: NoticeRow, user: User | None, t: Translator
                    ) -> Reply | None:
    deal = _deal(session, notice)
    if deal is None or user is None or deal.owner_id != user.id:
        return None
    company = session.get(Company, deal.company_id)
    return Reply(t("🔔 {by} reminds you to contact lead #{id} ({company}) and log it with "
                   "/visit.", by=notice.params.get("by", "-"), id=deal.id,
                   company=company.name if company else "-"))


async def leads_queue(ctx: Ctx, inc: Incoming) -> Step:
    """Managers: leads without an owner (the queue) and leads past their contact-by date."""
    t = ctx.t
    from core.pipeline import find_deals

    open_leads = [d for d in find_deals(ctx.session, ctx.user, "", limit=200)
                  if d.stage in (Stage.OPPORTUNITY.value, Stage.LEAD_ALLOCATED.value)]
    waiting = [d for d in open_leads if d.owner_id is None][:8]
    late = [d for d in open_leads if d.owner_id is not None and d.contact_by is not None
            and d.contact_by <= ctx.now][:8]
    if not waiting and not late:
        return done(t("No leads wait for you: every lead has an owner in time."))
    lines: list[str] = []
    buttons: list[Button] = []
    if waiting:
        lines.append(t("Without an owner:"))
        for d in waiting:
            lines.append(f"#{d.id} {d.title}")
            buttons.append(Button(t("Assign #{id}", id=d.id), action="lead.reassign",
                                  arg=str(d.id)))
    if late:
        lines.append(t("Not contacted in time:"))
        for d in late:
            owner = ctx.session.get(User, d.owner_id)
            lines.append(t("#{id} {title} · {name} · contact by {when}", id=d.id,
                           title=d.title, name=owner.name if owner else "-",
                           when=t.datetime(d.contact_by) if d.contact_by else "-"))
            buttons.append(Button(t("Reassign #{id}", id=d.id), action="lead.reassign",
                                  arg=str(d.id)))
    return done(ctx.reply("\n".join(lines), *button_rows(buttons, 2)))


def register(registry: Registry) -> None:
    """Register /leads, the claim and manager actions, and the lead notices."""
    registry.add_flow(Flow("leads", start=leads_queue, roles=MANAGERS, commands=("leads",),
                           help=N_("Leads waiting for an owner or overdue")))
    registry.add_action(Action("lead.claim", claim_action, roles=CLAIMERS, group_ok=True))
    registry.add_action(Action("lead.reassign", reassign_action, roles=MANAGERS))
    registry.add_action(Action("lead.give", give_action, roles=MANAGERS))
    registry.add_action(Action("lead.extend", extend_action, roles=MANAGERS))
    registry.add_action(Action("lead.remind", remind_action, roles=MANAGERS))
    registry.add_notice("lead.announce", render_announce)
    registry.add_notice("lead.assigned", render_assigned)
    registry.add_notice("lead.unassigned", render_unassigned)
    registry.add_notice("lead.escalation", render_escalation)
    registry.add_notice("lead.reminder", render_reminder)
