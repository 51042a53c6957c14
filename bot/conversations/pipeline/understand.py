"""Step 6, understand: what a typed message asks for (bot.conversations.understanding),
and the language the answer is written in."""

from __future__ import annotations

from bot.conversations.messages import Reply
from bot.conversations.pipeline.state import State
from bot.conversations.pipeline.update import Update
from bot.conversations.registry import Registry
from bot.conversations.services import Services
from bot.conversations.understanding.understander import Understander, Understanding
from core.models import Role

_TYPED = frozenset({"date", "number", "amount", "customer", "text"})
LANGUAGE = "_lang"  # state data: the language a flow was asked in (when not the user's)


class Understand:
    def __init__(self, registry: Registry, understander: Understander,
                 services: Services) -> None:
        self.registry = registry
        self.understander = understander
        self.services = services
        self._allowed_intents: dict[Role, frozenset[str]] = {}

    def __call__(self, u: Update) -> list[Reply] | None:
        """Set u.understanding for typed text that is not a command (in a group, only when
        addressed to the bot); switch u.t to the language of a request, or of the open
        flow when it was started in another language."""
        inc, user, state = u.incoming, u.user, u.state
        assert user is not None and state is not None and u.session is not None
        text = inc.text or ""
        spoken: str | None = None  # the message's own language, when it is clear
        if text and not text.startswith("/") and not inc.button and (
                not inc.chat_is_group or inc.addressed):
            found = u.understanding = self.understand(u, text, Role(user.role))
            # Answered as asked; not an answer to the open flow's question of a kind ("jumat
            # depan jam 14.30" at an English flow's date question), which route switches
            # only for an interruption (Route._speak_as_asked).
            if found.language and not self._asks_a_kind(state):
                spoken = found.language
        data = state.data or {}
        if spoken is not None:
            u.t = u.t.in_language(spoken, user.timezone) if spoken != u.t.locale else u.t
            if state.flow is not None and data.get(LANGUAGE, user.locale) != spoken:
                # The open flow goes on in the language it is now spoken in (a search in
                # Indonesian, then a query in English: answered in English).
                state.data = {**data, LANGUAGE: spoken}
        elif state.flow is not None and data.get(LANGUAGE):
            # A flow started by a message in another language goes on in that language.
            u.t = u.t.in_language(data[LANGUAGE], user.timezone)
        return None

    def _asks_a_kind(self, state: State) -> bool:
        """The open flow waits for a typed value (a date, a number, a customer, a note): a
        message there is its answer unless route finds an interruption. A tap or any
        request (a report on screen takes the next one) is not such a question."""
        flow = self.registry.flows.get(state.flow or "")
        return flow is not None and flow.accepts.get(state.state or "", "any") in _TYPED

    def understand(self, u: Update, text: str, role: Role) -> Understanding:
        assert u.session is not None
        index = self.services.contacts
        if index is not None:
            index.sync(u.session)
        allowed = self._allowed_intents.get(role)
        if allowed is None:
            flows = self.registry.flows
            allowed = self._allowed_intents[role] = frozenset(
                name for name, p in self.understander.phrasings.items()
                if p.flow in flows and role in flows[p.flow].roles)
        return self.understander.understand(text, u.session, index, allowed.__contains__)
