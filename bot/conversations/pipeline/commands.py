"""The built-in commands (/start, /help, /cancel, /language) and the help text; any other
command starts the flow registered for it."""

from __future__ import annotations

from bot.conversations.flow import Ctx
from bot.conversations.messages import Reply
from bot.conversations.pipeline.run import Runner, allowed
from bot.conversations.pipeline.update import State
from bot.conversations.registry import Registry
from bot.i18n import N_
from core import users as user_service
from core.models import Role


def help_reply(registry: Registry, ctx: Ctx) -> Reply:
    """List what the user's role can do."""
    t = ctx.t
    lines = [t("Here is what you can do:")]
    for flow in registry.flows.values():
        if not flow.help or not allowed(ctx.user, flow):
            continue
        command = f"/{flow.commands[0]} " if flow.commands else ""
        lines.append(f"• {command}— {t(flow.help)}")
    lines.append(t("/language en|id — change the language"))
    lines.append(t("/cancel — stop what we are doing"))
    lines.append(t("You can also ask in plain words, e.g. \"who handles Sinar Jaya?\"")
                 if Role(ctx.user.role) in (Role.REP, Role.MANAGER, Role.ADMIN) else "")
    return Reply("\n".join(line for line in lines if line))


def visible_commands(registry: Registry, role: Role) -> list[tuple[str, str]]:
    """(command, help msgid) pairs a role may use (for platform command menus)."""
    out = [("help", N_("Show what you can do")), ("cancel", N_("Stop what we are doing"))]
    for flow in registry.flows.values():
        if flow.commands and flow.help and role in flow.roles:
            out.append((flow.commands[0], flow.help))
    return out


async def command(runner: Runner, ctx: Ctx, state: State, name: str, rest: str
                  ) -> list[Reply]:
    """Answer /name rest."""
    t = ctx.t
    if name == "start":
        if rest:
            return [Reply(t("This chat is already linked to {name}.", name=ctx.user.name))]
        return [Reply(t("Welcome back, {name}!", name=ctx.user.name)),
                help_reply(runner.registry, ctx)]
    if name == "help":
        return [help_reply(runner.registry, ctx)]
    if name == "cancel":
        had_flow = state.flow is not None
        runner.clear(state)
        return [Reply(t("Cancelled.") if had_flow else t("Nothing to cancel."))]
    if name == "language":
        choice = rest.lower()[:2]
        if choice not in ("en", "id"):
            return [Reply(t("Use /language en or /language id."))]
        user_service.set_locale(ctx.user, choice)
        t = t.in_language(choice, ctx.user.timezone)
        return [Reply(t("Language set to English."))]
    flow = runner.registry.commands.get(name)
    if flow is None:
        return [Reply(t("Unknown command /{command}. Send /help to see what you can do.",
                        command=name[:30]))]
    return await runner.start(ctx, state, flow, {"text": rest} if rest else {})
