"""A pressed button: an action button (runs outside the open flow), [Continue] back to
an interrupted flow, or a flow button (checked against the open step's token)."""

from __future__ import annotations

import re
from dataclasses import replace

from bot.conversations.flow import Action, Ctx
from bot.conversations.messages import Incoming, Reply
from bot.conversations.pipeline.run import Runner, decode_payload
from bot.conversations.pipeline.update import State
from bot.conversations.understanding import routing
from core.models import Role

_NUMBER = re.compile(r"\d+")
_MAX_RECORD_ID = 2**31 - 1  # record ids are 32-bit integers in the database


def names_no_record(arg: str) -> bool:
    """True when an action button's argument holds a number no record id can be (a forged
    payload): refused here, for every action, before a database refuses the value."""
    return any(len(n) > 10 or int(n) > _MAX_RECORD_ID for n in _NUMBER.findall(arg))


async def button(runner: Runner, ctx: Ctx, state: State, inc: Incoming,
                 active: bool, expired_flow: str | None) -> list[Reply]:
    t = ctx.t
    decoded = decode_payload(inc.button or "")
    if decoded is not None and decoded.kind == "a":
        if decoded.name == routing.RESUME_ACTION:
            if active and state.flow != routing.CLARIFY_FLOW:
                return routing.unpack_prompt(ctx.data) or [Reply(t("Go on where we were."))]
            return [Reply(t("That conversation is already over. Start again when you like."))]
        action = runner.registry.actions.get(decoded.name)
        if action is None or names_no_record(decoded.arg):
            return [Reply(t("That button is no longer valid."))]
        return await run_action(runner, ctx, state, action, decoded.arg)
    if decoded is not None:
        flow_name, token, value = decoded.name, decoded.token, decoded.arg
        current = active and state.flow == flow_name and f"{state.token:x}" == token
        previous = (ctx.data.get(routing.PREVIOUS) or {}) if active else {}
        if (not current and state.flow == flow_name and previous
                and f"{previous.get('token', -1):x}" == token
                and value in (previous.get("offered") or [])):
            current = True  # a button of the same question asked again
            ctx.data["_offered"] = [*(ctx.data.get("_offered") or []), value]
        if not current:
            if expired_flow == flow_name:
                runner.clear(state)
                return [Reply(t("That conversation timed out. Please start again."))]
            return [Reply(t("That button is from an earlier message and no longer "
                            "applies. Use the latest message, or /cancel."))]
        if value not in (ctx.data.get("_offered") or []):
            return [Reply(t("That button is no longer valid."))]
        flow = runner.registry.flows[flow_name]
        step_fn = flow.states.get(state.state or "")
        if step_fn is None:
            return [Reply(t("That button is no longer valid."))]
        pressed = replace(inc, button=value)
        ctx.incoming = pressed
        return await runner.run(ctx, state, flow, lambda: step_fn(ctx, pressed))
    return [Reply(t("That button is no longer valid."))]


async def run_action(runner: Runner, ctx: Ctx, state: State, action: Action,
                     arg: str) -> list[Reply]:
    t = ctx.t
    if ctx.incoming.chat_is_group and not action.group_ok:
        return [Reply(t("Please use that in a private chat with me."), ephemeral=True)]
    if Role(ctx.user.role) not in action.roles:
        return [Reply(t("Your role cannot do that."), ephemeral=True)]
    # An action runs outside the current flow: its own data, unless it starts a flow.
    ctx.data = {}
    ctx.flow = None
    return await runner.run(ctx, state, None, lambda: action.handler(ctx, arg),
                            keep_current=True)
