"""Administration in chat: invite codes, the user list, who am I."""

from __future__ import annotations

from datetime import timedelta

from bot.conversations.flow import ALL_ROLES, Action, Ctx, Flow, Step, done
from bot.conversations.messages import Attachment, Button, Incoming, Reply
from bot.conversations.phrasings import admin as admin_phrasings
from bot.conversations.registry import Registry
from bot.i18n import N_
from core import invites
from core import teams as team_service
from core import users as user_service
from core.models import InviteCode, Role, User

ADMINS = frozenset({Role.ADMIN})
CHANNEL_ADMINS = frozenset({Role.ADMIN, Role.MANAGER})


async def whoami(ctx: Ctx, inc: Incoming) -> Step:
    """Show who this chat is linked to."""
    u = ctx.user
    team = team_service.team_name(ctx.session, u) or "—"
    return done(ctx.t("You are {name} ({login}), role {role}, team {team}, time zone {tz}.",
                      name=u.name, login=u.login, role=u.role, team=team, tz=u.timezone))


async def greet(ctx: Ctx, inc: Incoming) -> Step:
    """Answer a greeting or a thank-you in a word, with a hint of what to ask."""
    name = ctx.user.name
    if ctx.args.get("thanks"):
        return done(ctx.t("You're welcome, {name}!", name=name))
    if ctx.role == Role.TECHNICIAN:
        return done(ctx.t("Hi {name}! Send /jobs for today's jobs, /week for the week, or "
                          "/help to see everything I can do.", name=name))
    return done(ctx.t("Hi {name}! Ask me about a customer (\"who handles Sinar Jaya?\"), "
                      "log a visit, or send /help to see everything I can do.", name=name))


async def show_help(ctx: Ctx, inc: Incoming) -> Step:
    """List what the user's role can do (asked in plain words: "what can you do?")."""
    return done(ctx.engine.help_reply(ctx))


async def invite(ctx: Ctx, inc: Incoming) -> Step:
    """Create an invite code for a user (admins)."""
    login = ctx.args.get("text", "").strip()
    if not login:
        return done(ctx.t("Usage: /invite LOGIN"))
    user = user_service.get_user_by_login(ctx.session, login)
    code = user_service.create_invite(
        ctx.session, user, now=ctx.now,
        ttl=timedelta(hours=ctx.services.settings.invite_ttl_hours))
    text = ctx.t("Invite code for {name}: {code} (valid until {until}). They send "
                 "/start {code} to me.", name=user.name, code=code.code,
                 until=ctx.t.datetime(code.expires_at))
    username = invites.cached_username(ctx.session)
    if username is None:
        return done(text)
    link = invites.deep_link(username, code.code)
    text += "\n" + ctx.t("On Telegram one tap does it: {link}", link=link)
    return done(ctx.reply(text, [Button(ctx.t("QR code"), action="invite.qr",
                                        arg=code.code)]))


async def invite_qr(ctx: Ctx, arg: str) -> Step:
    """The QR code image of an invite's deep link (to show on a screen or print)."""
    invite = ctx.session.get(InviteCode, (arg or "")[:32])
    username = invites.cached_username(ctx.session)
    if invite is None or invite.used_at is not None or invite.expires_at <= ctx.now \
            or username is None:
        return done(ctx.t("That invite is used or expired. Make a new one with /invite "
                          "LOGIN."))
    user = ctx.session.get(User, invite.user_id)
    link = invites.deep_link(username, invite.code)
    name = user.login if user is not None else "user"
    return done(Reply(ctx.t("Scan it with the phone's camera to open the bot and link the "
                            "chat: {link}", link=link),
                      attachment=Attachment(f"invite-{name}.png", invites.qr_png(link),
                                            "image/png")))


async def list_users(ctx: Ctx, inc: Incoming) -> Step:
    """List every user with role and status (admins)."""
    lines = [ctx.t("Users:")]
    for u in user_service.list_users(ctx.session):
        status = "" if u.active else ctx.t(" (deactivated)")
        lines.append(f"• {u.login} — {u.name}, {u.role}{status}")
    return done("\n".join(lines))


async def link_channel(ctx: Ctx, inc: Incoming) -> Step:
    """Make the current group chat the team channel (admins name the team; managers: theirs)."""
    if not inc.chat_is_group:
        return done(ctx.t("Send /linkchannel in the team's group chat, after adding me to it."))
    team = team_service.link_team_channel(
        ctx.session, ctx.user, platform=inc.platform, channel_id=inc.chat_id,
        team_name=ctx.args.get("text") or None)
    return done(ctx.t("This chat is now the team channel of {team}: new leads will be "
                      "announced here.", team=team.name))


# Linking a team channel (core.teams); /coverage's team.* codes are bot.conversations.team's.
ERRORS = {
    "channel.team_needed": N_("Name the team: /linkchannel TEAM NAME."),
    "channel.no_team": N_("No team called {name}."),
    "channel.not_your_team": N_("You can only link the channel of your own team, not {name}."),
    "channel.taken": N_("This chat is already the team channel of {name}."),
}


def register(registry: Registry) -> None:
    """Register the admin flows."""
    registry.add_errors(ERRORS)
    registry.add_phrasings(*admin_phrasings.PHRASINGS)
    registry.add_flow(Flow("whoami", start=whoami, roles=ALL_ROLES, commands=("whoami",),
                           help=N_("Show who this chat is linked to")))
    registry.add_flow(Flow("greet", start=greet, roles=ALL_ROLES, group_ok=True))
    registry.add_flow(Flow("help", start=show_help, roles=ALL_ROLES))
    registry.add_flow(Flow("invite", start=invite, roles=ADMINS, commands=("invite",),
                           help=N_("Create an invite code for a user")))
    registry.add_action(Action("invite.qr", invite_qr, roles=ADMINS, group_ok=False))
    registry.add_flow(Flow("users", start=list_users, roles=ADMINS, commands=("users",),
                           help=N_("List users")))
    registry.add_flow(Flow("linkchannel", start=link_channel, roles=CHANNEL_ADMINS,
                           commands=("linkchannel",), group_ok=True,
                           help=N_("Make this group the team channel")))
