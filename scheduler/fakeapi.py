"""A local fake of a chat platform's send API, for the process test and the benchmark.

It speaks the shape of scheduler.sink.BotApiSink (Telegram Bot API style) and enforces
Telegram's limits: at most `overall` messages in any 1-second window, one per chat per
second, 20 per group per minute. Beyond that it answers 429 with `retry_after` (whole
seconds, like Telegram); a request to a chat before its retry_after has passed is counted
as a violation (a 429 not honoured). It runs its own event loop in a thread.
"""

from __future__ import annotations

import asyncio
import collections
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeApiStats:
    accepted: list[tuple[float, str, str]] = field(default_factory=list)  # (t, chat, text)
    too_many: int = 0
    violations: int = 0
    forbidden: int = 0

    def texts(self) -> collections.Counter[str]:
        return collections.Counter(text for _, _, text in self.accepted)


class FakeBotApi:
    """POST /sendMessage (or /bot<token>/sendMessage) with JSON {chat_id, text, ...}."""

    def __init__(self, *, overall: int = 30, per_chat_seconds: float = 1.0,
                 group_per_minute: int = 20, enforce: bool = True,
                 blocked_chats: set[str] | None = None, latency: float = 0.0) -> None:
        self.overall = overall
        self.per_chat_seconds = per_chat_seconds
        self.group_per_minute = group_per_minute
        self.enforce = enforce
        self.blocked = set(blocked_chats or ())
        self.latency = latency
        self.stats = FakeApiStats()
        self._window: collections.deque[float] = collections.deque()
        self._chat_last: dict[str, float] = {}
        self._group: dict[str, collections.deque[float]] = {}
        self._banned: dict[str, float] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- limits ------------------------------------------------------------------------------
    def _decide(self, chat: str, text: str, now: float) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if chat in self.blocked:
                self.stats.forbidden += 1
                return 403, {"ok": False, "error_code": 403,
                             "description": "Forbidden: bot was blocked by the user"}
            if not self.enforce:
                self.stats.accepted.append((now, chat, text))
                return 200, {"ok": True, "result": {"message_id": len(self.stats.accepted)}}
            banned = self._banned.get(chat, 0.0)
            if now < banned:
                self.stats.violations += 1
                self.stats.too_many += 1
                return 429, _too_many(banned - now)
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            wait = 0.0
            if len(self._window) >= self.overall:
                wait = max(wait, self._window[0] + 1.0 - now)
            last = self._chat_last.get(chat)
            if last is not None and now - last < self.per_chat_seconds:
                wait = max(wait, last + self.per_chat_seconds - now)
            if chat.startswith("-"):
                group = self._group.setdefault(chat, collections.deque())
                while group and group[0] <= now - 60.0:
                    group.popleft()
                if len(group) >= self.group_per_minute:
                    wait = max(wait, group[0] + 60.0 - now)
            if wait > 0:
                retry = max(1, math.ceil(wait))
                self._banned[chat] = now + retry
                self.stats.too_many += 1
                return 429, _too_many(retry)
            self._window.append(now)
            self._chat_last[chat] = now
            if chat.startswith("-"):
                self._group[chat].append(now)
            self.stats.accepted.append((now, chat, text))
            return 200, {"ok": True, "result": {"message_id": len(self.stats.accepted)}}

    # -- HTTP --------------------------------------------------------------------------------
    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        body = await request.json()
        if self.latency:
            await asyncio.sleep(self.latency)
        status, data = self._decide(str(body.get("chat_id")), str(body.get("text", "")),
                                    time.monotonic())
        return web.json_response(data, status=status)

    def start(self) -> str:
        """Serve on 127.0.0.1 (a free port) in a background thread; return the base URL."""
        ready = threading.Event()

        def run() -> None:
            from aiohttp import web

            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            app = web.Application()
            app.router.add_post("/sendMessage", self._handle)
            app.router.add_post("/{token}/sendMessage", self._handle)
            runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._runner = runner
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-bot-api", daemon=True)
        self._thread.start()
        ready.wait(10)
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


def _too_many(retry_after: float) -> dict[str, Any]:
    seconds = max(1, math.ceil(retry_after))
    return {"ok": False, "error_code": 429,
            "description": f"Too Many Requests: retry after {seconds}",
            "parameters": {"retry_after": seconds}}
