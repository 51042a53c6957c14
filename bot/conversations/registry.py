"""The flow registry: every flow module registers its flows, intents and actions here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bot.conversations.engine_errors import ENGINE_ERRORS
from bot.conversations.flow import ACCEPTS, Action, Flow, Intent
from bot.conversations.messages import Reply
from bot.conversations.understanding.intents import Phrasings
from bot.i18n import ErrorTexts, ParamWords, Translator
from core.models import NoticeRow, User
from core.wiring import WiringError, load_module

# Renders one notice for its recipient (None for a team channel) in their language; returns
# None when the notice no longer applies (the follow-up was done meanwhile, ...).
NoticeRenderer = Callable[[Session, NoticeRow, User | None, Translator], Reply | None]
# Loads what a batch of notices of one kind renders (into the session's identity map), so
# rendering 10k reminders is not 30k queries; returns what it loaded (the identity map holds
# objects weakly: the caller keeps them referenced while the batch renders).
NoticePrefetch = Callable[[Session, list[NoticeRow]], Sequence[object] | None]

# One module per flow family; each defines `register(registry)`.
FLOW_MODULES: tuple[str, ...] = (
    "bot.conversations.lookup",
    "bot.conversations.visit",
    "bot.conversations.deal",
    "bot.conversations.leads",
    "bot.conversations.lead_queue",
    "bot.conversations.areas",
    "bot.conversations.customers",
    "bot.conversations.contact_edit",
    "bot.conversations.merge",
    "bot.conversations.team",
    "bot.conversations.quote",
    "bot.conversations.quote_card",
    "bot.conversations.configurator",
    "bot.conversations.knowledge",
    "bot.conversations.drafts",
    "bot.conversations.followups",
    "bot.conversations.complaints",
    "bot.conversations.deliveries",
    "bot.conversations.jobs",
    "bot.conversations.dispatch",
    "bot.conversations.job_status",
    "bot.conversations.reports",
    "bot.conversations.documents",
    "bot.conversations.approvals",
    "bot.conversations.admin",
    "bot.conversations.fieldday",
    "bot.conversations.dayplan",
    "bot.conversations.live_location",
    "bot.conversations.org",
    "bot.conversations.clarify",
)


@dataclass
class Registry:
    flows: dict[str, Flow] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    intents: list[Intent] = field(default_factory=list)
    # Intents declared as example utterances (bot.conversations.understanding).
    phrasings: dict[str, Phrasings] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    # Flow started for plain text that no intent recognises (the contact lookup).
    fallback: str | None = None
    # Flows started by a location share / a file upload outside any flow.
    location_flow: str | None = None
    # Further location flows for roles the first one does not serve (a technician's share
    # goes to the job check-in, a rep's to the visit check-in): first allowed one wins.
    more_location_flows: list[str] = field(default_factory=list)
    file_flow: str | None = None
    # notice kind -> renderer (see core.notices: what is pushed; here: the words).
    notices: dict[str, NoticeRenderer] = field(default_factory=dict)
    # notice kind -> its batch loader (optional; see NoticePrefetch).
    notice_prefetch: dict[str, NoticePrefetch] = field(default_factory=dict)
    # The words of core's error codes (see bot.i18n.ErrorTexts), the engine's own first:
    # translators the engine makes carry them.
    errors: ErrorTexts = field(default_factory=lambda: _engine_texts())

    def add_flow(self, flow: Flow) -> None:
        if flow.name in self.flows:
            raise ValueError(f"flow {flow.name!r} registered twice")
        if "|" in flow.name:
            raise ValueError("flow names may not contain '|'")
        self.flows[flow.name] = flow
        for command in flow.commands:
            if command in self.commands:
                raise ValueError(f"command /{command} registered twice")
            self.commands[command] = flow.name

    def add_intent(self, item: Intent) -> None:
        self.intents.append(item)
        self.intents.sort(key=lambda i: i.priority)

    def add_phrasings(self, *items: Phrasings) -> None:
        for item in items:
            if item.name in self.phrasings:
                raise ValueError(f"intent {item.name!r} registered twice")
            item.validate()
            self.phrasings[item.name] = item

    def add_action(self, action: Action) -> None:
        if action.name in self.actions:
            raise ValueError(f"action {action.name!r} registered twice")
        self.actions[action.name] = action

    def add_notice(self, kind: str, renderer: NoticeRenderer, *,
                   prefetch: NoticePrefetch | None = None) -> None:
        """Register the words of notice `kind` (core enqueues it) and, optionally, the loader
        of what a batch of them renders."""
        if kind in self.notices:
            raise ValueError(f"notice kind {kind!r} registered twice")
        if not kind or "|" in kind:
            raise ValueError(f"bad notice kind {kind!r}")
        self.notices[kind] = renderer
        if prefetch is not None:
            self.notice_prefetch[kind] = prefetch

    def add_errors(self, messages: Mapping[str, str]) -> None:
        """Give error codes their words (English msgids); a code given two texts is refused."""
        self.errors.add(messages)

    def add_error_words(self, words: Mapping[str, ParamWords]) -> None:
        """Show error parameters that hold internal keys as words: {"stage": fn(t, value)}."""
        self.errors.add_words(words)

    def validate(self) -> None:
        for item in self.intents:
            if item.flow not in self.flows:
                raise ValueError(f"intent for unknown flow {item.flow!r}")
        for flow in self.flows.values():
            for state in flow.states:
                if flow.accepts.get(state, "any") not in ACCEPTS:
                    raise ValueError(f"flow {flow.name!r} state {state!r}: unknown accepts "
                                     f"{flow.accepts.get(state)!r}")
        for phrasing in self.phrasings.values():
            if phrasing.flow not in self.flows:
                raise ValueError(f"intent {phrasing.name!r} for unknown flow {phrasing.flow!r}")
        for name in (self.fallback, self.location_flow, self.file_flow,
                     *self.more_location_flows):
            if name is not None and name not in self.flows:
                raise ValueError(f"unknown flow {name!r}")


def _engine_texts() -> ErrorTexts:
    texts = ErrorTexts()
    texts.add(ENGINE_ERRORS)
    return texts


def build_registry(modules: tuple[str, ...] | None = None) -> Registry:
    """Every flow module's registrations (flows, intents, actions, notices, error texts) of
    `modules` (default FLOW_MODULES), in a registry that has the engine's own error texts: a
    module that is unknown, fails to import, has no `register` or whose `register` fails
    raises WiringError (one line)."""
    registry = Registry()
    for name in FLOW_MODULES if modules is None else modules:
        module = load_module("flows", name)
        register = getattr(module, "register", None)
        if not callable(register):
            raise WiringError(f"flows: module {name} has no register(registry)")
        try:
            register(registry)
        except Exception as exc:
            raise WiringError(f"flows: module {name} failed to register: "
                              f"{type(exc).__name__}: {exc}") from exc
    registry.validate()
    return registry
