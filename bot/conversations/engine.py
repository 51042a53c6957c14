"""The conversation engine: routes an Incoming to a flow, loads and saves its state.

Every update runs in one database transaction: the processed-update record, the step's own
writes and the new state commit together or not at all. A step that raises (a domain
error, or a bug) rolls back everything it wrote and is answered in words; the state stays
where it was, and the update id is still recorded so a redelivery is not run again.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import re
import time
import unicodedata
import weakref
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from bot.conversations.flow import END, Action, Ctx, Flow, Step
from bot.conversations.messages import Button, Incoming, Reply, pack_replies, unpack_replies
from bot.conversations.models import ConversationState, ProcessedUpdate
from bot.conversations.registry import Registry
from bot.conversations.services import Services
from bot.conversations.understanding import routing
from bot.conversations.understanding.understander import Understander, Understanding
from bot.i18n import N_, Translator, register_errors
from bot.observability import LOCK_WAIT_SECONDS, REPLAYED, UPDATE_SECONDS, UPDATES
from core import users as user_service
from core.clock import SystemClock
from core.db import Database
from core.errors import DomainError
from core.models import ChatIdentity, Role, User
from core.ports import Clock
from core.settings import Settings

log = logging.getLogger(__name__)

LANGUAGE = "_lang"  # state data: the language a flow was asked in (when not the user's)
MAX_PAYLOAD_BYTES = 64  # Telegram's callback_data limit; Slack allows more
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\ufeff]")

register_errors(
    {
        "link.bad_code": N_(
            "That invite code is not valid: it may be mistyped, used or expired. "
            "Ask your admin for a new one."
        ),
        "user.bad_locale": N_("Unknown language {locale}. Use /language en or /language id."),
        "user.bad_timezone": N_("Unknown time zone {timezone}."),
        "user.not_found": N_("No user {login}."),
        "user.exists": N_("A user with the login {login} already exists."),
        "user.bad_role": N_("Unknown role {role}: use rep, manager, technician or admin."),
        "user.bad_login": N_("A login may use letters, digits, dots, dashes and underscores."),
    }
)


def clean_text(text: str) -> str:
    """Normalise user text: NFC, no control or bidi-override characters, trimmed."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()


def encode_payload(button: Button, flow: str | None, token: int) -> str:
    """Return the short opaque payload a door puts on a button."""
    if button.action:
        payload = f"a|{button.action}|{button.arg}"
    else:
        payload = f"f|{flow}|{token:x}|{button.value}"
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"button payload too long: {payload!r}")
    return payload


class Engine:
    """Platform-neutral conversation engine shared by every door."""

    def __init__(
        self,
        db: Database,
        registry: Registry,
        *,
        settings: Settings,
        clock: Clock | None = None,
        services: Services | None = None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.settings = settings
        self.clock = clock or SystemClock()
        self.services = services or Services(settings=settings)
        if self.services.understanding is None:
            self.services.understanding = Understander.for_phrasings(registry.phrasings)
        self.understander: Understander = self.services.understanding
        self._locks: weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        # Database calls are synchronous and run on the event loop thread, so two open
        # transactions in one process could wait on each other (SQLite's single writer, a
        # PostgreSQL row lock) with the loop blocked. One transaction at a time per process;
        # worker processes still run concurrently (PostgreSQL row locks order them).
        self._transaction_lock = asyncio.Lock()
        insert = pg_insert if db.is_postgres else sqlite_insert
        self._record_stmt = (
            insert(ProcessedUpdate)
            .values(platform=bindparam("platform"), update_id=bindparam("update_id"),
                    processed_at=bindparam("processed_at"))
            .on_conflict_do_nothing()
            .returning(ProcessedUpdate.update_id)
        )
        self._recent: dict[tuple[str, str], collections.deque[float]] = {}
        # Kept answers the doors sent, to forget in the next transaction (platform -> ids).
        self._sent: dict[str, set[str]] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._throttled: set[tuple[str, str]] = set()
        self._allowed_intents: dict[Role, frozenset[str]] = {}

    @property
    def writer_lock(self) -> asyncio.Lock:
        """This process's turn to write: a door running database work of its own on the
        event loop (SQLite's one writer) takes it, like every update does."""
        return self._transaction_lock

    # -- entry point -------------------------------------------------------------------------
    async def handle(self, incoming: Incoming) -> list[Reply]:
        """Handle one update; never raises. Updates of one (chat, user) run in order."""
        door = incoming.platform
        throttled = self._throttle(incoming)
        if throttled is not None:
            UPDATES.labels(door, "throttled").inc()
            return throttled
        started = time.perf_counter()
        lock = self._locks.get(incoming.key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[incoming.key] = lock
        async with lock:
            try:
                replies = await self._handle(incoming, started)
                UPDATES.labels(door, "ok" if replies else "silent").inc()
                return replies
            except Exception:
                UPDATES.labels(door, "error").inc()
                log.exception("update failed (platform=%s)", incoming.platform)
                t = Translator(self.settings.default_locale, self.settings.default_timezone)
                return [Reply(t("Sorry, something went wrong on our side. Nothing was saved; "
                                "please try again, or send /cancel."))]
            finally:
                UPDATE_SECONDS.labels(door).observe(time.perf_counter() - started)

    def _throttle(self, inc: Incoming) -> list[Reply] | None:
        """Per-user abuse limit (in this process): None to go on, else what to answer."""
        limit = self.settings.rate_limit_messages
        if limit <= 0 or inc.platform == "console":  # the terminal is a trusted local door
            return None
        key = (inc.platform, inc.user_id)
        now = self.clock.now().timestamp()
        window = self.settings.rate_limit_window_seconds
        recent = self._recent.setdefault(key, collections.deque())
        while recent and recent[0] <= now - window:
            recent.popleft()
        if len(recent) < limit:
            recent.append(now)
            self._throttled.discard(key)
            if len(self._recent) > 10_000:  # forget idle users
                for idle in [k for k, q in self._recent.items() if not q][:5_000]:
                    del self._recent[idle]
            return None
        if key in self._throttled:
            log.info("dropped an update over the rate limit (platform=%s)", inc.platform)
            return []
        self._throttled.add(key)
        t = Translator(inc.language if inc.language in ("en", "id") else
                       self.settings.default_locale, self.settings.default_timezone)
        return [Reply(t("You are sending messages faster than I can follow. I will ignore "
                        "new messages for a few seconds; please slow down."))]

    async def _handle(self, inc: Incoming, started: float) -> list[Reply]:
        t = default_t = Translator(
            inc.language if inc.language in ("en", "id") else self.settings.default_locale,
            self.settings.default_timezone,
        )
        if inc.text is not None:
            text = clean_text(inc.text)
            if len(text) > self.settings.max_message_chars:
                return [Reply(t(
                    "That message is too long ({count} characters). Please keep it under "
                    "{limit} characters.", count=len(text),
                    limit=self.settings.max_message_chars))]
            inc = replace(inc, text=text)
        if inc.file is not None and inc.file.size > self.settings.max_upload_bytes:
            return [Reply(t(
                "That file is too big ({size} MB). The limit is {limit} MB.",
                size=round(inc.file.size / 1_048_576, 1),
                limit=round(self.settings.max_upload_bytes / 1_048_576, 1)))]
        if not (inc.text or inc.button or inc.location or inc.file):
            return [Reply(t("I did not get any text. Send /help to see what I can do."))]

        async with self._transaction_lock:
            LOCK_WAIT_SECONDS.labels(inc.platform).observe(time.perf_counter() - started)
            now = self.clock.now()
            for attempt in range(_CONFLICT_ATTEMPTS):
                # A concurrent write by another worker to the same versioned row (two reps
                # logging a visit on one contact at once): run the whole update again.
                try:
                    return await self._attempt(inc, now, default_t)
                except _AlreadyProcessed:
                    break
                except StaleDataError:
                    if attempt == _CONFLICT_ATTEMPTS - 1:
                        raise
                    log.info("update conflicted with a concurrent one; retrying")
                    await asyncio.sleep(random.uniform(0, 0.02 * (attempt + 1)))
        if not inc.keep_answer:
            log.debug("dropped a redelivered update (platform=%s)", inc.platform)
            return []
        return await self._replay(inc)

    async def _attempt(self, inc: Incoming, now: datetime, default_t: Translator
                       ) -> list[Reply]:
        with self.db.sessionmaker() as session:
            taken: dict[str, set[str]] = {}
            try:
                with session.begin():
                    taken = self._forget_sent(session)
                    replies = await self._in_transaction(session, inc, now, default_t)
                    self._keep_answer(session, inc, replies)
            except _StepRefused as refused:
                self._sent_again(taken)  # rolled back with the step
                # Everything the step wrote is rolled back; remember the update id so a
                # redelivery is answered by nothing rather than run again.
                if inc.update_id is not None:
                    with session.begin():
                        self._record_update(session, inc, now)
                        self._keep_answer(session, inc, refused.replies)
                return refused.replies
            except BaseException:
                self._sent_again(taken)
                raise
        return replies

    # -- kept answers (doors whose platform redelivers an unanswered update) -----------------
    def _keep_answer(self, session: Session, inc: Incoming, replies: list[Reply]) -> None:
        """Store the replies with the update record, in the step's own transaction."""
        if inc.keep_answer and inc.update_id is not None and replies:
            session.connection().execute(_KEEP_ANSWER, {
                "p": inc.platform, "u": str(inc.update_id), "a": pack_replies(replies)})

    async def _replay(self, inc: Incoming) -> list[Reply]:
        """Answer a redelivered update: nothing when its answer was sent (or another worker
        is sending it right now), else, once the handling worker is taken for dead, the kept
        replies, taken from the record so that exactly one redelivery sends them."""
        grace = self.settings.replay_after_seconds
        waited_from = time.monotonic()
        while True:
            await self.flush_sent()  # this process's own sends first
            async with self._transaction_lock:
                with self.db.sessionmaker() as session, session.begin():
                    where = (ProcessedUpdate.platform == inc.platform,
                             ProcessedUpdate.update_id == str(inc.update_id))
                    row = session.execute(
                        select(ProcessedUpdate.answer, ProcessedUpdate.processed_at)
                        .where(*where).with_for_update()).first()
                    if row is None or row.answer is None:
                        log.debug("dropped a redelivered update (platform=%s)", inc.platform)
                        return []
                    age = (self.clock.now() - row.processed_at).total_seconds()
                    if age >= grace or time.monotonic() - waited_from >= grace:
                        session.execute(update(ProcessedUpdate).where(*where)
                                        .values(answer=None))
                        REPLAYED.labels(inc.platform).inc()
                        log.info("answered a redelivered update from its kept answer "
                                 "(platform=%s)", inc.platform)
                        return unpack_replies(row.answer)
            await asyncio.sleep(min(0.2, grace / 4))

    def answer_sent(self, platform: str, update_id: str) -> None:
        """The door sent this update's kept answer: forget it (a redelivery then gets
        nothing). It is forgotten by the next transaction this process runs, or within
        50 ms when none comes (no transaction of its own under load)."""
        self._sent.setdefault(platform, set()).add(update_id)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def flush_sent(self) -> None:
        """Forget every kept answer the doors reported sent (also on a door's stop)."""
        while self._sent:
            async with self._transaction_lock:
                taken: dict[str, set[str]] = {}
                try:
                    with self.db.sessionmaker() as session, session.begin():
                        taken = self._forget_sent(session)
                except BaseException:
                    self._sent_again(taken)
                    raise

    async def _flush_soon(self) -> None:
        await asyncio.sleep(0.05)  # an update handled meanwhile takes them along for free
        try:
            await self.flush_sent()
        except Exception as exc:  # kept answers are purged with their records anyway
            log.warning("could not forget sent answers: %s", exc.__class__.__name__)

    def _forget_sent(self, session: Session) -> dict[str, set[str]]:
        """Clear the kept answers reported sent, in `session`'s transaction; returns what
        it took (to give back with `_sent_again` if that transaction does not commit)."""
        taken, self._sent = self._sent, {}
        for platform, ids in taken.items():
            session.connection().execute(_FORGET_ANSWERS, {"p": platform, "ids": sorted(ids)})
        return taken

    def _sent_again(self, taken: dict[str, set[str]]) -> None:
        for platform, ids in taken.items():
            self._sent.setdefault(platform, set()).update(ids)

    def _record_update(self, session: Session, inc: Incoming, now: datetime) -> bool:
        """Record the update id; False when it was recorded before (a redelivery)."""
        # Core execution on the session's connection (same transaction): the ORM's bulk
        # insert path costs ~0.4 ms per update for nothing we need.
        recorded = session.connection().execute(self._record_stmt, {
            "platform": inc.platform, "update_id": str(inc.update_id), "processed_at": now,
        }).first()
        return recorded is not None

    async def _in_transaction(
        self, session: Session, inc: Incoming, now: datetime, default_t: Translator
    ) -> list[Reply]:
        if inc.update_id is not None and not self._record_update(session, inc, now):
            raise _AlreadyProcessed()  # the id was recorded before: a redelivery

        # The common case in one statement: a linked user who wrote in this chat before
        # (identity, user and the locked state row). Else the identity alone, and the state
        # row is created.
        params = {"platform": inc.platform, "external_id": inc.user_id, "chat_id": inc.chat_id}
        found = session.execute(_IDENTITY_STATE_QUERY, params).first()
        state: ConversationState | None
        if found is not None:
            user, identity, state = found
        else:
            row = session.execute(_IDENTITY_QUERY, params).first()
            if row is None:
                return self._unlinked(session, inc, now, default_t)
            user, identity = row
            state = None
        t = Translator(user.locale, user.timezone)
        if not user.active:
            return [Reply(t("Your account is deactivated. Please contact your admin."))]
        if not inc.chat_is_group and identity.chat_id != inc.chat_id:
            identity.chat_id = inc.chat_id  # where pushes to this user go
        if state is None:
            state = self._lock_state(session, inc, user, now)
        u: Understanding | None = None
        text = inc.text or ""
        if text and not text.startswith("/") and not inc.button and (
                not inc.chat_is_group or inc.addressed):
            u = self._understand(session, text, Role(user.role))
            if u.intent is not None and u.language and u.language != user.locale:
                t = Translator(u.language, user.timezone)  # a request: answered as asked
        if state is not None and state.flow is not None and (state.data or {}).get(LANGUAGE):
            # A flow started by a message in another language goes on in that language.
            t = Translator(state.data[LANGUAGE], user.timezone)
        ctx = Ctx(session=session, user=user, identity=identity, incoming=inc, t=t,
                  clock=self.clock, services=self.services, engine=self, data={},
                  flow=None, understanding=u)
        active = state.flow is not None and state.expires_at is not None and state.expires_at > now
        expired_flow = state.flow if state.flow is not None and not active else None
        if active:
            ctx.flow = state.flow
            ctx.data = dict(state.data or {})
        return await self._dispatch(ctx, state, inc, active, expired_flow)

    def _understand(self, session: Session, text: str, role: Role) -> Understanding:
        index = self.services.contacts
        if index is not None:
            index.sync(session)
        allowed = self._allowed_intents.get(role)
        if allowed is None:
            flows = self.registry.flows
            allowed = self._allowed_intents[role] = frozenset(
                name for name, p in self.understander.phrasings.items()
                if p.flow in flows and role in flows[p.flow].roles)
        return self.understander.understand(text, session, index, allowed.__contains__)

    # -- routing -----------------------------------------------------------------------------
    async def _dispatch(
        self, ctx: Ctx, state: ConversationState, inc: Incoming, active: bool,
        expired_flow: str | None,
    ) -> list[Reply]:
        t = ctx.t
        if inc.button:
            return await self._button(ctx, state, inc, active, expired_flow)
        text = inc.text or ""
        if text.startswith("/"):
            command, _, rest = text[1:].partition(" ")
            command = command.split("@", 1)[0].lower()  # Telegram: /help@SomeBot
            return await self._command(ctx, state, command, rest.strip())
        u = ctx.understanding
        if active and state.flow == routing.CLARIFY_FLOW and text:
            self._clear(state)  # a question typed instead of a choice: a new message
            active = False
            ctx.flow, ctx.data = None, {}
        if active and state.flow in self.registry.flows:
            flow = self.registry.flows[state.flow]
            step_fn = flow.states.get(state.state or "")
            if step_fn is not None:
                accepts = flow.accepts.get(state.state or "", "any")
                if u is not None and routing.interrupts(u, accepts, ctx.data, flow.name,
                                                        self.understander):
                    return await self._interrupt(ctx, state, u)
                if u is not None and routing.asks_instead(u, accepts, ctx.data):
                    # Typed instead of a tap and not clearly anything: one question, the open
                    # flow kept behind it.
                    choices = routing.choices_for(u, self.understander, self.registry,
                                                  ctx.user)
                    if choices:
                        saved = routing.suspend(state)
                        replies = await self._start(
                            ctx, state, routing.CLARIFY_FLOW,
                            {"choices": routing.encode_choices(choices)})
                        state.data = {**(state.data or {}), routing.SUSPENDED: saved}
                        return replies
                return await self._run(ctx, state, flow, lambda: step_fn(ctx, inc))
        notes: list[Reply] = []
        if expired_flow:
            notes.append(Reply(t("(Your previous conversation timed out and was closed.)")))
            self._clear(state)
        if inc.chat_is_group and not inc.addressed:
            if not notes:
                log.debug("dropped plain group chatter (platform=%s)", inc.platform)
            return notes  # plain chatter in a group is not for us
        if inc.location:
            candidates = [self.registry.location_flow, *self.registry.more_location_flows]
            for name in candidates:
                if name and self._allowed(ctx.user, self.registry.flows[name]):
                    return notes + await self._start(ctx, state, name, {})
        if inc.file and self.registry.file_flow:
            return notes + await self._start(ctx, state, self.registry.file_flow, {})
        if text:
            for item in self.registry.intents:  # fixed syntax only
                args = item.match(text)
                if args is not None and self._allowed(ctx.user, self.registry.flows[item.flow]):
                    return notes + await self._start(ctx, state, item.flow, args)
            if u is not None and (u.intent or u.choices or not self.registry.fallback):
                return notes + await self._understood(ctx, state, u)
            fallback = self.registry.fallback
            if fallback and self._allowed(ctx.user, self.registry.flows[fallback]):
                return notes + await self._start(ctx, state, fallback, {"text": text})
        return [*notes, Reply(t("I did not understand that. Send /help to see what I can do."))]

    async def _understood(self, ctx: Ctx, state: ConversationState, u: Understanding
                          ) -> list[Reply]:
        """Start what the message asks for, or ask one clarifying question."""
        self._speak_as_asked(ctx, u)
        if u.intent is not None:
            flow = self.registry.flows[self.understander.phrasings[u.intent].flow]
            if self._allowed(ctx.user, flow):
                replies = await self._start(ctx, state, flow.name, u.args)
                self._keep_language(ctx, state, u)
                return replies
        choices = routing.choices_for(u, self.understander, self.registry, ctx.user)
        if choices:
            replies = await self._start(ctx, state, routing.CLARIFY_FLOW,
                                        {"choices": routing.encode_choices(choices)})
            self._keep_language(ctx, state, u)
            return replies
        return [routing.miss_reply(ctx.t, u, self.understander)]

    def _speak_as_asked(self, ctx: Ctx, u: Understanding) -> None:
        """Answer a request in the language it was written in, when that is clear (an answer
        to a flow's question does not switch the flow's language)."""
        if u.language and u.language != ctx.t.locale:
            ctx.t = Translator(u.language, ctx.user.timezone)

    def _keep_language(self, ctx: Ctx, state: ConversationState, u: Understanding) -> None:
        if state.flow is not None and u.language and u.language != ctx.user.locale:
            state.data = {**(state.data or {}), LANGUAGE: u.language}

    async def _interrupt(self, ctx: Ctx, state: ConversationState, u: Understanding
                         ) -> list[Reply]:
        """Answer a message that asks for something else in the middle of a flow: the open
        flow is kept (its buttons keep working) and the answer ends with a way back."""
        assert u.intent is not None
        saved = routing.suspend(state)
        name = self.understander.phrasings[u.intent].flow
        self._speak_as_asked(ctx, u)
        replies = await self._start(ctx, state, name, u.args)
        self._keep_language(ctx, state, u)
        if state.flow is None:  # answered at once: the open flow is back as it was
            routing.restore(state, saved, self._expiry(saved["flow"]))
            return [*replies, self._resume_line(ctx, saved)]
        state.data = {**(state.data or {}), routing.SUSPENDED: saved}
        return replies

    def _resume_line(self, ctx: Ctx, saved: dict[str, Any]) -> Reply:
        flow = self.registry.flows.get(saved["flow"])
        return self._stamp([routing.resume_reply(ctx.t, flow, saved)], None, 0, [])[0]

    def _expiry(self, flow_name: str) -> datetime:
        flow = self.registry.flows.get(flow_name)
        timeout = (flow.timeout if flow is not None and flow.timeout else
                   timedelta(minutes=self.settings.conversation_timeout_minutes))
        return self.clock.now() + timeout

    async def _command(
        self, ctx: Ctx, state: ConversationState, command: str, rest: str
    ) -> list[Reply]:
        t = ctx.t
        if command == "start":
            if rest:
                return [Reply(t("This chat is already linked to {name}.", name=ctx.user.name))]
            return [Reply(t("Welcome back, {name}!", name=ctx.user.name)), self.help_reply(ctx)]
        if command == "help":
            return [self.help_reply(ctx)]
        if command == "cancel":
            had_flow = state.flow is not None
            self._clear(state)
            return [Reply(t("Cancelled.") if had_flow else t("Nothing to cancel."))]
        if command == "language":
            choice = rest.lower()[:2]
            if choice not in ("en", "id"):
                return [Reply(t("Use /language en or /language id."))]
            user_service.set_locale(ctx.user, choice)
            t = Translator(choice, ctx.user.timezone)
            return [Reply(t("Language set to English."))]
        name = self.registry.commands.get(command)
        if name is None:
            return [Reply(t("Unknown command /{command}. Send /help to see what you can do.",
                            command=command[:30]))]
        return await self._start(ctx, state, name, {"text": rest} if rest else {})

    async def _button(
        self, ctx: Ctx, state: ConversationState, inc: Incoming, active: bool,
        expired_flow: str | None,
    ) -> list[Reply]:
        t = ctx.t
        payload = inc.button or ""
        parts = payload.split("|")
        if parts[0] == "a" and len(parts) == 3 and parts[1] == routing.RESUME_ACTION:
            if active and state.flow != routing.CLARIFY_FLOW:
                return routing.unpack_prompt(ctx.data) or [Reply(t("Go on where we were."))]
            return [Reply(t("That conversation is already over. Start again when you "
                            "like."))]
        if parts[0] == "a" and len(parts) == 3:
            action = self.registry.actions.get(parts[1])
            if action is None or _names_no_record(parts[2]):
                return [Reply(t("That button is no longer valid."))]
            return await self._action(ctx, state, action, parts[2])
        if parts[0] == "f" and len(parts) == 4:
            flow_name, token, value = parts[1], parts[2], parts[3]
            current = active and state.flow == flow_name and f"{state.token:x}" == token
            previous = (ctx.data.get(routing.PREVIOUS) or {}) if active else {}
            if (not current and state.flow == flow_name and previous
                    and f"{previous.get('token', -1):x}" == token
                    and value in (previous.get("offered") or [])):
                current = True  # a button of the same question asked again
                ctx.data["_offered"] = [*(ctx.data.get("_offered") or []), value]
            if not current:
                if expired_flow == flow_name:
                    self._clear(state)
                    return [Reply(t("That conversation timed out. Please start again."))]
                return [Reply(t("That button is from an earlier message and no longer "
                                "applies. Use the latest message, or /cancel."))]
            if value not in (ctx.data.get("_offered") or []):
                return [Reply(t("That button is no longer valid."))]
            flow = self.registry.flows[flow_name]
            step_fn = flow.states.get(state.state or "")
            if step_fn is None:
                return [Reply(t("That button is no longer valid."))]
            pressed = replace(inc, button=value)
            ctx.incoming = pressed
            return await self._run(ctx, state, flow, lambda: step_fn(ctx, pressed))
        return [Reply(t("That button is no longer valid."))]

    async def _action(
        self, ctx: Ctx, state: ConversationState, action: Action, arg: str
    ) -> list[Reply]:
        t = ctx.t
        if ctx.incoming.chat_is_group and not action.group_ok:
            return [Reply(t("Please use that in a private chat with me."), ephemeral=True)]
        if Role(ctx.user.role) not in action.roles:
            return [Reply(t("Your role cannot do that."), ephemeral=True)]
        # An action runs outside the current flow: its own data, unless it starts a flow.
        ctx.data = {}
        ctx.flow = None
        return await self._run(ctx, state, None, lambda: action.handler(ctx, arg),
                               keep_current=True)

    # -- running steps -----------------------------------------------------------------------
    async def start_flow(self, ctx: Ctx, name: str, args: dict[str, str]) -> Step:
        """Run `name`'s start step in `ctx` (used by Ctx.begin); returns a Step for it."""
        flow = self.registry.flows.get(name)
        if flow is None:
            raise KeyError(name)
        if not self._allowed(ctx.user, flow):
            raise DomainError("engine.role_refused")
        ctx.data = {}
        ctx.flow = name
        ctx.args = dict(args)
        step = await flow.start(ctx, ctx.incoming)
        if step.flow is None:
            step.flow = name
        return step

    async def _start(
        self, ctx: Ctx, state: ConversationState, name: str, args: dict[str, str]
    ) -> list[Reply]:
        flow = self.registry.flows[name]
        if ctx.incoming.chat_is_group and not flow.group_ok:
            return [Reply(ctx.t("Please use that in a private chat with me."), ephemeral=True)]
        if not self._allowed(ctx.user, flow):
            return [Reply(ctx.t("Your role cannot use that. Send /help to see what you can do."))]
        self._clear(state)
        return await self._run(ctx, state, None, lambda: self.start_flow(ctx, name, args))

    async def _run(
        self, ctx: Ctx, state: ConversationState, flow: Flow | None, call: Any,
        keep_current: bool = False,
    ) -> list[Reply]:
        where = (state.flow, state.state)  # read now: after a failed flush it is expired
        try:
            step: Step = await call()
            ctx.session.flush()
        except DomainError as exc:
            raise _StepRefused([Reply(ctx.t.error(exc.code, exc.params))]) from None
        except StaleDataError:
            raise  # a concurrent update of the same row: the engine runs the update again
        except Exception:
            log.exception("step failed (flow=%s state=%s)", *where)
            raise _StepRefused([Reply(ctx.t(
                "Sorry, something went wrong on our side. Nothing was saved; please try "
                "again, or send /cancel."))]) from None
        next_flow = step.flow or (flow.name if flow else None)
        if step.next == END or next_flow is None:
            if keep_current and step.flow is None:
                return self._stamp(step.replies, None, 0, [])
            suspended = (ctx.data or {}).get(routing.SUSPENDED)
            self._clear(state)
            replies = self._stamp(step.replies, None, 0, [])
            if suspended and suspended.get("flow") in self.registry.flows:
                # The flow that was interrupted is open again, its buttons still valid.
                routing.restore(state, suspended, self._expiry(suspended["flow"]))
                replies.append(self._resume_line(ctx, suspended))
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
        replies = self._stamp(step.replies, next_flow, state.token, offered)
        data = {**ctx.data, "_offered": offered, routing.LABELS: routing.labels_of(replies),
                routing.PROMPT: routing.pack_prompt(replies)}
        data.pop(routing.PREVIOUS, None)
        if same_step and previous[1]:
            # Asked again after a typed answer: the buttons shown before still work.
            data[routing.PREVIOUS] = {"token": previous[0], "offered": previous[1]}
        state.data = data
        state.updated_at = self.clock.now()
        return replies

    def _stamp(
        self, replies: list[Reply], flow: str | None, token: int, offered: list[str]
    ) -> list[Reply]:
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

    # -- state -------------------------------------------------------------------------------
    def _lock_state(
        self, session: Session, inc: Incoming, user: User, now: datetime
    ) -> ConversationState:
        """Load the conversation state row, creating it, and lock it for this transaction
        (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers)."""
        params = {"platform": inc.platform, "chat_id": inc.chat_id,
                  "external_user_id": inc.user_id}
        state = session.scalar(_STATE_QUERY, params)
        if state is None:
            insert = pg_insert if self.db.is_postgres else sqlite_insert
            session.execute(insert(ConversationState).values(
                **params, user_id=user.id, data={}, token=0, updated_at=now,
            ).on_conflict_do_nothing())
            state = session.scalar(_STATE_QUERY, params)
        assert state is not None
        return state

    def _clear(self, state: ConversationState) -> None:
        if (state.flow is None and state.state is None and not state.data
                and state.expires_at is None):
            # Already clear: no flow button can match it (a new flow always takes a fresh
            # token), so skip the write: a one-shot command (/whoami, a lookup) then costs
            # no UPDATE, and no autoflush runs in the middle of its step.
            return
        state.flow = None
        state.state = None
        state.data = {}
        state.expires_at = None
        state.token = (state.token or 0) + 1
        state.updated_at = self.clock.now()

    # -- identity ----------------------------------------------------------------------------
    def _unlinked(
        self, session: Session, inc: Incoming, now: datetime, t: Translator
    ) -> list[Reply]:
        text = inc.text or ""
        if text.startswith("/start") and not inc.chat_is_group:
            code = text[len("/start"):].strip()
            if code:
                try:
                    with session.begin_nested():
                        user = user_service.redeem_invite(
                            session, code=code, platform=inc.platform, external_id=inc.user_id,
                            chat_id=inc.chat_id, now=now)
                except DomainError as exc:
                    return [Reply(t.error(exc.code, exc.params))]
                t = Translator(user.locale, user.timezone)
                return [Reply(t("Welcome, {name}! Your chat is now linked.", name=user.name))]
        if inc.chat_is_group and not inc.button:
            log.debug("dropped a group message from an unlinked user (platform=%s)",
                      inc.platform)
            return []
        return [Reply(t("Hello! I am the sales assistant of this company and I only talk to "
                        "registered users. To start, send /start followed by the invite code "
                        "your admin gave you."), ephemeral=True)]

    # -- help --------------------------------------------------------------------------------
    def _allowed(self, user: User, flow: Flow) -> bool:
        return Role(user.role) in flow.roles

    def help_reply(self, ctx: Ctx) -> Reply:
        """List what the user's role can do."""
        t = ctx.t
        lines = [t("Here is what you can do:")]
        for flow in self.registry.flows.values():
            if not flow.help or not self._allowed(ctx.user, flow):
                continue
            command = f"/{flow.commands[0]} " if flow.commands else ""
            lines.append(f"• {command}— {t(flow.help)}")
        lines.append(t("/language en|id — change the language"))
        lines.append(t("/cancel — stop what we are doing"))
        lines.append(t("You can also ask in plain words, e.g. \"who handles Sinar Jaya?\"")
                     if Role(ctx.user.role) in (Role.REP, Role.MANAGER, Role.ADMIN) else "")
        return Reply("\n".join(line for line in lines if line))

    def visible_commands(self, role: Role) -> list[tuple[str, str]]:
        """(command, help msgid) pairs a role may use (for platform command menus)."""
        out = [("help", N_("Show what you can do")), ("cancel", N_("Stop what we are doing"))]
        for flow in self.registry.flows.values():
            if flow.commands and flow.help and role in flow.roles:
                out.append((flow.commands[0], flow.help))
        return out


_IDENTITY_QUERY = (
    select(User, ChatIdentity)
    .join(ChatIdentity, ChatIdentity.user_id == User.id)
    .where(ChatIdentity.platform == bindparam("platform"),
           ChatIdentity.external_id == bindparam("external_id"))
)
_IDENTITY_STATE_QUERY = (
    select(User, ChatIdentity, ConversationState)
    .join(ChatIdentity, ChatIdentity.user_id == User.id)
    .join(ConversationState, and_(
        ConversationState.platform == ChatIdentity.platform,
        ConversationState.external_user_id == ChatIdentity.external_id,
        ConversationState.chat_id == bindparam("chat_id")))
    .where(ChatIdentity.platform == bindparam("platform"),
           ChatIdentity.external_id == bindparam("external_id"))
    .with_for_update(of=ConversationState)  # only the state row, as _STATE_QUERY
    .execution_options(populate_existing=True)
)
_STATE_QUERY = (
    select(ConversationState)
    .where(ConversationState.platform == bindparam("platform"),
           ConversationState.chat_id == bindparam("chat_id"),
           ConversationState.external_user_id == bindparam("external_user_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


_CONFLICT_ATTEMPTS = 8


_NUMBER = re.compile(r"\d+")
# Built once: constructing the statement per update cost more than running it.
_KEEP_ANSWER = (update(ProcessedUpdate)
                .where(ProcessedUpdate.platform == bindparam("p"),
                       ProcessedUpdate.update_id == bindparam("u"))
                .values(answer=bindparam("a")))
_FORGET_ANSWERS = (update(ProcessedUpdate)
                   .where(ProcessedUpdate.platform == bindparam("p"),
                          ProcessedUpdate.update_id.in_(bindparam("ids", expanding=True)),
                          ProcessedUpdate.answer.is_not(None))
                   .values(answer=None))
_MAX_RECORD_ID = 2**31 - 1  # record ids are 32-bit integers in the database


def _names_no_record(arg: str) -> bool:
    """True when an action button's argument holds a number no record id can be (a forged
    payload): refused here, for every action, before a database refuses the value."""
    return any(len(n) > 10 or int(n) > _MAX_RECORD_ID for n in _NUMBER.findall(arg))


class _AlreadyProcessed(Exception):
    """The update id was handled before; the whole transaction is rolled back."""


class _StepRefused(Exception):
    """A step raised: roll back everything it wrote and answer with `replies`."""

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__("step refused")
        self.replies = replies


register_errors({"engine.role_refused": N_("Your role cannot use that.")})
