"""Step 7, route: a button, a command, the open flow's answer (or an interruption of it),
a shared location or file, a fixed-syntax intent, an understood request or one clarifying
question; the flow's step runs here (run.py) and its replies answer the update."""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.conversations.flow import Ctx, EngineView
from bot.conversations.messages import Incoming, Reply
from bot.conversations.pipeline import buttons, commands
from bot.conversations.pipeline.run import Runner, allowed
from bot.conversations.pipeline.understand import LANGUAGE
from bot.conversations.pipeline.update import State, Update
from bot.conversations.services import Services
from bot.conversations.understanding import routing
from bot.conversations.understanding.understander import Understander, Understanding
from core.ports import Clock

log = logging.getLogger("bot.conversations.engine")


class Route:
    def __init__(self, runner: Runner, understander: Understander, services: Services,
                 clock: Clock, engine: EngineView) -> None:
        self.runner = runner
        self.registry = runner.registry
        self.understander = understander
        self.services = services
        self.clock = clock
        self.engine = engine

    async def __call__(self, u: Update) -> list[Reply]:
        inc, state, user, session = u.incoming, u.state, u.user, u.session
        assert state is not None and user is not None and session is not None
        ctx = Ctx(session=session, user=user, identity=u.identity, incoming=inc, t=u.t,
                  clock=self.clock, services=self.services, engine=self.engine, data={},
                  flow=None, understanding=u.understanding)
        active = (state.flow is not None and state.expires_at is not None
                  and state.expires_at > u.now)
        expired_flow = state.flow if state.flow is not None and not active else None
        if active:
            ctx.flow = state.flow
            ctx.data = dict(state.data or {})
        return await self.dispatch(ctx, state, inc, active, expired_flow)

    async def dispatch(self, ctx: Ctx, state: State, inc: Incoming, active: bool,
                       expired_flow: str | None) -> list[Reply]:
        t = ctx.t
        runner = self.runner
        if inc.button:
            return await buttons.button(runner, ctx, state, inc, active, expired_flow)
        text = inc.text or ""
        if text.startswith("/"):
            command, _, rest = text[1:].partition(" ")
            command = command.split("@", 1)[0].lower()  # Telegram: /help@SomeBot
            return await commands.command(runner, ctx, state, command, rest.strip())
        u = ctx.understanding
        if active and state.flow == routing.CLARIFY_FLOW and text:
            runner.clear(state)  # a question typed instead of a choice: a new message
            active = False
            ctx.flow, ctx.data = None, {}
        if active and state.flow in self.registry.flows:
            flow = self.registry.flows[state.flow]
            step_fn = flow.states.get(state.state or "")
            if step_fn is not None:
                accepts = flow.accepts.get(state.state or "", "any")
                value = routing.typed_choice(text, ctx.data) if text else None
                if value is not None:  # a button's label typed: as if it was tapped
                    pressed = replace(inc, button=value, text=None)
                    ctx.incoming = pressed
                    return await runner.run(ctx, state, flow, lambda: step_fn(ctx, pressed))
                if u is not None and routing.restarts(u, accepts, flow.name,
                                                      self.understander):
                    return await runner.start(ctx, state, flow.name, u.args)
                if u is not None and routing.interrupts(u, accepts, ctx.data, flow.name,
                                                        self.understander):
                    return await self.interrupt(ctx, state, u)
                if u is not None and routing.asks_instead(u, accepts, ctx.data):
                    # Typed instead of a tap and not clearly anything: one question, the open
                    # flow kept behind it.
                    choices = routing.choices_for(u, self.understander, self.registry,
                                                  ctx.user)
                    if choices:
                        saved = routing.suspend(state)
                        replies = await runner.start(
                            ctx, state, routing.CLARIFY_FLOW,
                            {"choices": routing.encode_choices(choices)})
                        state.data = {**(state.data or {}), routing.SUSPENDED: saved}
                        return replies
                return await runner.run(ctx, state, flow, lambda: step_fn(ctx, inc))
        notes: list[Reply] = []
        if expired_flow:
            notes.append(Reply(t("(Your previous conversation timed out and was closed.)")))
            runner.clear(state)
        if inc.chat_is_group and not inc.addressed:
            if not notes:
                log.debug("dropped plain group chatter (platform=%s)", inc.platform)
            return notes  # plain chatter in a group is not for us
        if inc.location:
            candidates = [self.registry.location_flow, *self.registry.more_location_flows]
            for name in candidates:
                if name and allowed(ctx.user, self.registry.flows[name]):
                    return notes + await runner.start(ctx, state, name, {})
        if inc.file and self.registry.file_flow:
            return notes + await runner.start(ctx, state, self.registry.file_flow, {})
        if text:
            for item in self.registry.intents:  # fixed syntax only
                args = item.match(text)
                if args is not None and allowed(ctx.user, self.registry.flows[item.flow]):
                    return notes + await runner.start(ctx, state, item.flow, args)
            if u is not None and (u.intent or u.choices or not self.registry.fallback):
                return notes + await self.understood(ctx, state, u)
            fallback = self.registry.fallback
            if fallback and allowed(ctx.user, self.registry.flows[fallback]):
                return notes + await runner.start(ctx, state, fallback, {"text": text})
        return [*notes, Reply(t("I did not understand that. Send /help to see what I can do."))]

    async def understood(self, ctx: Ctx, state: State, u: Understanding
                         ) -> list[Reply]:
        """Start what the message asks for, or ask one clarifying question."""
        self._speak_as_asked(ctx, u)
        if u.intent is not None:
            flow = self.registry.flows[self.understander.phrasings[u.intent].flow]
            if allowed(ctx.user, flow):
                replies = await self.runner.start(ctx, state, flow.name, u.args)
                self._keep_language(ctx, state, u)
                return replies
        choices = routing.choices_for(u, self.understander, self.registry, ctx.user)
        if choices:
            replies = await self.runner.start(ctx, state, routing.CLARIFY_FLOW,
                                              {"choices": routing.encode_choices(choices)})
            self._keep_language(ctx, state, u)
            return replies
        return [routing.miss_reply(ctx.t, u, self.understander)]

    async def interrupt(self, ctx: Ctx, state: State, u: Understanding
                        ) -> list[Reply]:
        """Answer a message that asks for something else in the middle of a flow: the open
        flow is kept (its buttons keep working) and the answer ends with a way back."""
        assert u.intent is not None
        saved = routing.suspend(state)
        name = self.understander.phrasings[u.intent].flow
        self._speak_as_asked(ctx, u)
        replies = await self.runner.start(ctx, state, name, u.args)
        self._keep_language(ctx, state, u)
        if state.flow is None:  # answered at once: the open flow is back as it was
            routing.restore(state, saved, self.runner.expiry(saved["flow"]))
            return [*replies, self.runner.resume_line(ctx, saved)]
        state.data = {**(state.data or {}), routing.SUSPENDED: saved}
        return replies

    def _speak_as_asked(self, ctx: Ctx, u: Understanding) -> None:
        """Answer a request in the language it was written in, when that is clear (an answer
        to a flow's question does not switch the flow's language)."""
        if u.language and u.language != ctx.t.locale:
            ctx.t = ctx.t.in_language(u.language, ctx.user.timezone)

    def _keep_language(self, ctx: Ctx, state: State, u: Understanding) -> None:
        if state.flow is not None and u.language and u.language != ctx.user.locale:
            state.data = {**(state.data or {}), LANGUAGE: u.language}
