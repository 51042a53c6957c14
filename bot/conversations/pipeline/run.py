"""Running a flow's step inside the update's transaction: start a flow, run a step, turn
its Step into the new conversation state and its replies into stamped buttons."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm.exc import StaleDataError

from bot.conversations.flow import END, Ctx, Flow, Step
from bot.conversations.messages import Button, Reply
from bot.conversations.pipeline.state import clear
from bot.conversations.pipeline.update import State
from bot.conversations.registry import Registry
from bot.conversations.understanding import routing
from core.errors import DomainError
from core.models import Role, User
from core.ports import Clock
from core.settings import Settings

log = logging.getLogger("bot.conversations.engine")

MAX_PAYLOAD_BYTES = 64  # Telegram's callback_data limit; Slack allows more


def encode_payload(button: Button, flow: str | None, token: int) -> str:
    """Return the short opaque payload a door puts on a button."""
    if button.action:
        payload = f"a|{button.action}|{button.arg}"
    else:
        payload = f"f|{flow}|{token:x}|{button.value}"
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"button payload too long: {payload!r}")
    return payload


@dataclass(frozen=True)
class Payload:
    """A button's payload read back: an action button (`kind` "a": `name` the action, `arg`
    its argument) or a flow button ("f": `name` the flow, `token` the step's token in hex,
    `arg` the value chosen)."""

    kind: str
    name: str
    arg: str
    token: str = ""


def decode_payload(payload: str) -> Payload | None:
    """The inverse of `encode_payload`; None for anything it never makes."""
    parts = payload.split("|")
    if parts[0] == "a" and len(parts) == 3:
        return Payload("a", parts[1], parts[2])
    if parts[0] == "f" and len(parts) == 4:
        return Payload("f", parts[1], parts[3], token=parts[2])
    return None


class StepRefused(Exception):
    """A step raised: roll back everything it wrote and answer with `replies`."""

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__("step refused")
        self.replies = replies


def allowed(user: User, flow: Flow) -> bool:
    return Role(user.role) in flow.roles


class Runner:
    def __init__(self, registry: Registry, settings: Settings, clock: Clock) -> None:
        self.registry = registry
        self.settings = settings
        self.clock = clock

    async def start_flow(self, ctx: Ctx, name: str, args: dict[str, str]) -> Step:
        """Run `name`'s start step in `ctx` (used by Ctx.begin); returns a Step for it."""
        flow = self.registry.flows.get(name)
        if flow is None:
            raise KeyError(name)
        if not allowed(ctx.user, flow):
            raise DomainError("engine.role_refused")
        ctx.data = {}
        ctx.flow = name
        ctx.args = dict(args)
        step = await flow.start(ctx, ctx.incoming)
        if step.flow is None:
            step.flow = name
        return step

    async def start(
        self, ctx: Ctx, state: State, name: str, args: dict[str, str]
    ) -> list[Reply]:
        flow = self.registry.flows[name]
        if ctx.incoming.chat_is_group and not flow.group_ok:
            return [Reply(ctx.t("Please use that in a private chat with me."), ephemeral=True)]
        if not allowed(ctx.user, flow):
            return [Reply(ctx.t("Your role cannot use that. Send /help to see what you can do."))]
        self.clear(state)
        return await self.run(ctx, state, None, lambda: self.start_flow(ctx, name, args))

    async def run(
        self, ctx: Ctx, state: State, flow: Flow | None,
        call: Callable[[], Awaitable[Step]], keep_current: bool = False,
    ) -> list[Reply]:
        where = (state.flow, state.state)  # read now: after a failed flush it is expired
        try:
            step: Step = await call()
            ctx.session.flush()
        except DomainError as exc:
            raise StepRefused([Reply(ctx.t.error(exc.code, exc.params))]) from None
        except StaleDataError:
            raise  # a concurrent update of the same row: the engine runs the update again
        except Exception:
            log.exception("step failed (flow=%s state=%s)", *where)
            raise StepRefused([Reply(ctx.t(
                "Sorry, something went wrong on our side. Nothing was saved; please try "
                "again, or send /cancel."))]) from None
        next_flow = step.flow or (flow.name if flow else None)
        if step.next == END or next_flow is None:
            if keep_current and step.flow is None:
                return self.stamp(step.replies, None, 0, [])
            suspended = (ctx.data or {}).get(routing.SUSPENDED)
            self.clear(state)
            replies = self.stamp(step.replies, None, 0, [])
            if suspended and suspended.get("flow") in self.registry.flows:
                # The flow that was interrupted is open again, its buttons still valid.
                routing.restore(state, suspended, self.expiry(suspended["flow"]))
                replies.append(self.resume_line(ctx, suspended))
            return replies
        target = self.registry.flows[next_flow]
        same_step = state.flow == next_flow and state.state == step.next
        previous = (state.token, list((state.data or {}).get("_offered") or []))
        state.flow = next_flow
        state.state = step.next
        state.token = (state.token or 0) + 1
        timeout = target.timeout or timedelta(minutes=self.settings.conversation_timeout_minutes)
        state.expires_at = self.clock.now() + timeout
        offered: list[str] = []
        replies = self.stamp(step.replies, next_flow, state.token, offered)
        data = {**ctx.data, "_offered": offered, routing.LABELS: routing.labels_of(replies),
                routing.PROMPT: routing.pack_prompt(replies)}
        data.pop(routing.PREVIOUS, None)
        if same_step and previous[1]:
            # Asked again after a typed answer: the buttons shown before still work.
            data[routing.PREVIOUS] = {"token": previous[0], "offered": previous[1]}
        state.data = data
        state.updated_at = self.clock.now()
        return replies

    def stamp(
        self, replies: list[Reply], flow: str | None, token: int, offered: list[str]
    ) -> list[Reply]:
        """The replies with their buttons' payloads; flow buttons offered go to `offered`
        (a flow's button after the flow ended is dropped)."""
        out: list[Reply] = []
        for reply in replies:
            if not reply.buttons:
                out.append(reply)
                continue
            rows = []
            for row in reply.buttons:
                new_row = []
                for b in row:
                    if not b.action:
                        if flow is None:
                            continue  # a flow button after the flow ended: drop it
                        offered.append(b.value)
                    new_row.append(replace(b, payload=encode_payload(b, flow, token)))
                if new_row:
                    rows.append(tuple(new_row))
            out.append(replace(reply, buttons=tuple(rows)))
        return out

    def clear(self, state: State) -> None:
        clear(state, self.clock)

    def resume_line(self, ctx: Ctx, saved: dict[str, object]) -> Reply:
        flow = self.registry.flows.get(str(saved["flow"]))
        return self.stamp([routing.resume_reply(ctx.t, flow, saved)], None, 0, [])[0]

    def expiry(self, flow_name: str) -> datetime:
        flow = self.registry.flows.get(flow_name)
        timeout = (flow.timeout if flow is not None and flow.timeout else
                   timedelta(minutes=self.settings.conversation_timeout_minutes))
        return self.clock.now() + timeout
