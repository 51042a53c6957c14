"""The Telegram webhook on the reliable intake (bot.intake): record on arrival, answer 200,
work the update after.

Telegram waits for the webhook's answer and redelivers an update that got none (or a
5xx). Answering only once the update was handled tied one slow step to Telegram's timeout
and made a 200 mean "handled"; now a 200 means "recorded": the update is written to the
inbox claimed by this worker before the answer, and a worker that dies after answering has
it taken over by another worker once its claim lapses (`SFA_INBOX_LEASE_SECONDS`), as the
Slack door's requests are. The engine's update records and kept answers make that
takeover a first run, a replay of the kept answer, or nothing.

What Telegram gets:
- 403: a missing or wrong secret token (nothing is read);
- 400: a body that is not an update (JSON PTB cannot read);
- 503: the database is down (nothing recorded: Telegram redelivers it later);
- 200: recorded and queued, a retry of an update still in the inbox, or an update with
  no chat to answer.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from aiohttp import web
from telegram import Bot, Update

from bot.conversations.engine import Engine
from bot.handlers.telegram_api import PLATFORM
from bot.intake.queue import InboxUnavailable, Intake

log = logging.getLogger("bot.handlers.telegram")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 2 * 1024 * 1024


@dataclass
class TelegramJob:
    """One webhook update: its id, the chat it belongs to (one chat's updates are worked
    in order) and the update as Telegram sent it."""

    update_id: str | None
    chat: str
    body: dict[str, Any]
    enqueued: float = 0.0

    @property
    def key(self) -> str:
        return self.chat

    def pack(self) -> bytes:
        return json.dumps({"chat": self.chat, "update": self.body},
                          separators=(",", ":")).encode()

    @classmethod
    def unpack(cls, raw: bytes) -> TelegramJob:
        data = json.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("update"), dict):
            raise ValueError("not a telegram inbox job")
        body = data["update"]
        update_id = body.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise ValueError("a telegram inbox job without its update id")
        return cls(str(update_id), str(data.get("chat", "")), body)


def _unavailable() -> web.Response:
    """The answer while the database is down: Telegram retries a 5xx."""
    return web.Response(status=503, text="database unavailable, retry later",
                        headers={"Retry-After": "5"})


def _bad() -> web.Response:
    log.info("telegram webhook: bad update dropped")
    return web.Response(status=400, text="bad update")


class TelegramWebhook:
    """The webhook's HTTP server and its intake. `handle(update)` is the door's handling of
    one update (it answers, apologises or holds it while the database is down; it never
    raises); `chat_of(update)` the chat an update belongs to (None: nothing to answer; it
    never raises)."""

    def __init__(
        self,
        engine: Engine,
        bot: Bot,
        *,
        url: str,
        secret: str,
        listen: str,
        port: int | None,
        handle: Callable[[Update], Awaitable[None]],
        chat_of: Callable[[Update], str | None],
        shards: int = 64,
    ) -> None:
        self.engine = engine
        self.bot = bot
        self.url = url
        self.secret = secret
        self.listen = listen
        self.port = port
        self._handle = handle
        self._chat_of = chat_of
        self.intake: Intake[TelegramJob] = Intake(
            engine, PLATFORM, work=self._work, unpack=TelegramJob.unpack,
            lease=timedelta(seconds=engine.settings.inbox_lease_seconds), shards=shards,
            refuse_unrecorded=True)
        self._web: web.AppRunner | None = None
        self.bound_port: int | None = None

    async def start(self, allowed_updates: list[str]) -> None:
        """Work the inbox (and what a dead worker left), listen, then tell Telegram."""
        self.intake.start()
        server = web.Application(client_max_size=MAX_BODY)
        server.router.add_post(urlparse(self.url).path or "/", self._on_post)
        self._web = web.AppRunner(server, access_log=None)
        await self._web.setup()
        site = web.TCPSite(self._web, self.listen, 8443 if self.port is None else self.port)
        await site.start()
        addresses = self._web.addresses  # the port the OS picked when asked for port 0
        self.bound_port = addresses[0][1] if addresses else self.port
        await self.bot.set_webhook(self.url, secret_token=self.secret,
                                   allowed_updates=allowed_updates)
        log.info("telegram webhook listening on port %s", self.bound_port)

    async def stop(self) -> None:
        """Stop listening, then the intake: what was done is forgotten, what was not is
        released to the other workers (or the next start)."""
        if self._web is not None:
            await self._web.cleanup()
            self._web = None
        await self.intake.stop()

    async def drain(self, timeout: float = 60.0) -> None:
        """Wait until every update recorded here is worked (tests, benchmarks)."""
        await self.intake.drain(timeout=timeout)

    async def _on_post(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("telegram webhook call with a wrong or missing secret refused")
            return web.Response(status=403, text="forbidden")
        try:
            body = await request.json()
            update = Update.de_json(body, self.bot)
        except Exception:  # not JSON, or JSON PTB cannot read as an update ({"message": false})
            return _bad()
        if update is None or not isinstance(body, dict):
            return _bad()
        chat = self._chat_of(update)
        if chat is None:
            log.debug("telegram update %s dropped: no chat to answer", update.update_id)
            return web.Response(text="ok")
        if self.engine.db.availability.unavailable():
            return _unavailable()  # not recorded, not acknowledged: Telegram redelivers it
        job = TelegramJob(str(update.update_id), chat, body)
        try:
            fresh = await self.intake.take_in(job)
        except InboxUnavailable:
            return _unavailable()
        if fresh:
            self.intake.submit(job)
        return web.Response(text="ok")

    async def _work(self, job: TelegramJob) -> None:
        update = Update.de_json(job.body, self.bot)
        if update is not None:
            await self._handle(update)
