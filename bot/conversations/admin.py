"""Administration in chat: invite codes, the user list, who am I."""

from __future__ import annotations

from bot.conversations.flow import ALL_ROLES, Ctx, Flow, Step, done
from bot.conversations.messages import Incoming
from bot.conversations.registry import Registry
from bot.i18n import N_
from core import users as user_service
from core.models import Role

ADMINS = frozenset({Role.ADMIN})


async def whoami(ctx: Ctx, inc: Incoming) -> Step:
    """Show who this chat is linked to."""
    u = ctx.user
    team = u.team.name if u.team else "—"
    return done(ctx.t("You are {name} ({login}), role {role}, team {team}, time zone {tz}.",
                      name=u.name, login=u.login, role=u.role, team=team, tz=u.timezone))


async def invite(ctx: Ctx, inc: Incoming) -> Step:
    """Create an invite code for a user (admins)."""
    login = ctx.args.get("text", "").strip()
    if not login:
        return done(ctx.t("Usage: /invite LOGIN"))
    user = user_service.get_user_by_login(ctx.session, login)
    code = user_service.create_invite(ctx.session, user, now=ctx.now)
    return done(ctx.t("Invite code for {name}: {code} (valid until {until}). They send "
                      "/start {code} to me.", name=user.name, code=code.code,
                      until=ctx.t.datetime(code.expires_at)))


async def list_users(ctx: Ctx, inc: Incoming) -> Step:
    """List every user with role and status (admins)."""
    lines = [ctx.t("Users:")]
    for u in user_service.list_users(ctx.session):
        status = "" if u.active else ctx.t(" (deactivated)")
        lines.append(f"• {u.login} — {u.name}, {u.role}{status}")
    return done("\n".join(lines))


def register(registry: Registry) -> None:
    """Register the admin flows."""
    registry.add_flow(Flow("whoami", start=whoami, roles=ALL_ROLES, commands=("whoami",),
                           help=N_("Show who this chat is linked to")))
    registry.add_flow(Flow("invite", start=invite, roles=ADMINS, commands=("invite",),
                           help=N_("Create an invite code for a user")))
    registry.add_flow(Flow("users", start=list_users, roles=ADMINS, commands=("users",),
                           help=N_("List users")))
