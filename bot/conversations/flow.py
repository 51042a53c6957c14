"""How a flow is declared: named states, each an async step returning the next state."""

from __future__ import annotations

import re
import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from bot.conversations.messages import Button, Incoming, Reply
from bot.conversations.services import Services
from bot.i18n import Translator
from core.models import ChatIdentity, Role, User
from core.ports import Clock

if TYPE_CHECKING:
    from bot.conversations.understanding.understander import Understander, Understanding

END = "__end__"
TIMEOUT = "__timeout__"
ALL_ROLES: frozenset[Role] = frozenset(Role)
FIELD_ROLES: frozenset[Role] = frozenset({Role.REP, Role.MANAGER, Role.ADMIN})


@dataclass
class Step:
    """What a step decided: the next state (or END) and the replies to send.

    `flow` switches the conversation to another flow (its state `next`), e.g. a deal card's
    "Advance" button starting the advance flow.
    """

    next: str
    replies: list[Reply] = field(default_factory=list)
    flow: str | None = None


def done(*replies: Reply | str) -> Step:
    """End the flow with these replies."""
    return Step(END, [r if isinstance(r, Reply) else Reply(r) for r in replies])


def goto(state: str, *replies: Reply | str) -> Step:
    """Move to `state` with these replies."""
    return Step(state, [r if isinstance(r, Reply) else Reply(r) for r in replies])


class FlowNames(Protocol):
    """The registry as a step sees it: the flow a shared location starts."""

    @property
    def location_flow(self) -> str | None: ...


class EngineView(Protocol):
    """What a step may ask of the engine (bot.conversations.engine.Engine): start another
    flow (`Ctx.begin`), the /help answer, the registry's flow names, the understander."""

    @property
    def registry(self) -> FlowNames: ...

    @property
    def understander(self) -> Understander: ...

    async def start_flow(self, ctx: Ctx, name: str, args: dict[str, str]) -> Step: ...

    def help_reply(self, ctx: Ctx) -> Reply: ...


@dataclass
class Ctx:
    """Everything a step may use: the user, one DB session (one transaction), the clock,
    the translator, shared services and the flow's own data (persisted between steps)."""

    session: Session
    user: User
    identity: ChatIdentity | None
    incoming: Incoming
    t: Translator
    clock: Clock
    services: Services
    engine: EngineView
    data: dict[str, Any]
    flow: str | None = None
    args: dict[str, str] = field(default_factory=dict)
    # What the engine made of the message (None for buttons, commands, files).
    understanding: Understanding | None = None

    @property
    def now(self) -> datetime:
        return self.clock.now()

    @property
    def role(self) -> Role:
        return Role(self.user.role)

    def reply(self, text: str, *rows: list[Button] | tuple[Button, ...], **kw: Any) -> Reply:
        return Reply(text=text, buttons=tuple(tuple(r) for r in rows if r), **kw)

    async def begin(self, flow_name: str, **args: str) -> Step:
        """Start another flow from here (its start step runs now, with `args`)."""
        return await self.engine.start_flow(self, flow_name, args)


def ongoing(msgid: str, fallback: str = "") -> Callable[[Translator, dict[str, Any]], str]:
    """A flow's "still doing" line (Flow.ongoing): `msgid` filled from the flow's data, or
    `fallback` while a field it names is not in the data yet."""
    fields = [name for _, name, _, _ in string.Formatter().parse(msgid) if name]

    def line(t: Translator, data: dict[str, Any]) -> str:
        values = {k: data[k] for k in fields if isinstance(data.get(k), str | int) and data[k]}
        if len(values) < len(fields):
            return t(fallback or msgid)
        return t(msgid, **values)

    return line


# What a step accepts (Flow.accepts): a button, free text (notes), a customer, a date, a
# number or an amount; "any" when not declared.
ACCEPTS = frozenset({"button", "text", "customer", "date", "number", "amount", "any"})
StepFn = Callable[[Ctx, Incoming], Awaitable[Step]]
ActionFn = Callable[[Ctx, str], Awaitable[Step]]


@dataclass(frozen=True)
class Flow:
    """A conversation declared as data.

    Args:
        name: unique flow name (also the first part of its buttons' payloads).
        start: step run when the flow starts (command, intent, button); `ctx.args` holds the
            command's argument text under "text" or the intent's named groups.
        states: the steps that handle the user's answer in each named state.
        roles: roles allowed to use the flow; others are told so.
        commands: slash commands that start it (without "/").
        help: a one-line description (N_ msgid) shown in /help; empty = not listed.
        timeout: how long the flow waits for an answer (default from settings).
        group_ok: may be used in a group chat / channel (default: private chats only).
        accepts: what each state takes as its answer: "button", "text" (notes: only a clear
            question interrupts), "customer", "date", "number", "amount" or "any" (default).
            A message that is not such an answer and is confidently another request is
            handled as that request; the flow stays open with a [Continue] button back.
        ongoing: the line shown under such an answer, from the flow's data ("Still logging
            the visit with Hadi Effendi").
    """

    name: str
    start: StepFn
    states: Mapping[str, StepFn] = field(default_factory=dict)
    roles: frozenset[Role] = ALL_ROLES
    commands: tuple[str, ...] = ()
    help: str = ""
    timeout: timedelta | None = None
    group_ok: bool = False
    on_timeout: Callable[[Translator], str] | None = None
    accepts: Mapping[str, str] = field(default_factory=dict)
    ongoing: Callable[[Translator, dict[str, Any]], str] | None = None


@dataclass(frozen=True)
class Intent:
    """Plain-language trigger: if a pattern matches, `flow` starts with the named groups."""

    flow: str
    patterns: tuple[re.Pattern[str], ...]
    priority: int = 100  # lower runs first

    def match(self, text: str) -> dict[str, str] | None:
        for pattern in self.patterns:
            m = pattern.search(text)
            if m:
                return {k: v.strip() for k, v in m.groupdict().items() if v}
        return None


def intent(flow: str, *patterns: str, priority: int = 100) -> Intent:
    """Build an Intent from regex strings (compiled case-insensitive)."""
    return Intent(flow, tuple(re.compile(p, re.IGNORECASE) for p in patterns), priority)


@dataclass(frozen=True)
class Action:
    """A button that works outside any flow (claim a lead, approve a discount, snooze).

    The handler gets the button's argument and must check the record's current state
    itself (an old or second press is answered, never acted on twice).
    """

    name: str
    handler: ActionFn
    roles: frozenset[Role] = ALL_ROLES
    group_ok: bool = True
