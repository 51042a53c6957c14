"""How Slack's requests reach the door: HTTP (aiohttp on a thread and event loop of its own,
so an ack never waits behind a step's synchronous database work; signature checked by bolt)
or Socket Mode (SLACK_APP_TOKEN). Malformed event callbacks and payloads slack-bolt cannot
read are refused with a 400, after the same signature check bolt would make."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

from bot.handlers.slack_jobs import malformed_event
from core.settings import Settings

log = logging.getLogger("bot.handlers.slack")

EVENTS_PATH = "/slack/events"


class SlackServer:
    """The transport of one Slack door (`start()` / `stop()`)."""

    def __init__(self, app: AsyncApp, settings: Settings, *, host: str, http_port: int | None,
                 own_thread: bool, health: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.settings = settings
        self.host = host
        self.http_port = http_port
        self.own_thread = own_thread
        self.health = health
        self.port: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None  # the HTTP thread's loop
        self.thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._socket: Any = None

    async def start(self, on_loop: Callable[[asyncio.AbstractEventLoop], None]) -> None:
        """Start taking requests; `on_loop` learns the HTTP thread's loop before the first
        request can arrive on it."""
        app_token = self.settings.slack_app_token
        if app_token is not None and self.http_port is None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket = AsyncSocketModeHandler(self.app, app_token.get_secret_value())
            await self._socket.connect_async()
            log.info("slack door: socket mode connected")
            return
        if self.own_thread:
            self.loop = asyncio.new_event_loop()
            on_loop(self.loop)
            self.thread = threading.Thread(target=self.loop.run_forever,
                                           name="slack-intake", daemon=True)
            self.thread.start()
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                self._start_http(), self.loop))
        else:
            await self._start_http()
        log.info("slack door: HTTP mode on port %s", self.port)

    async def _start_http(self) -> None:
        web_app = web.Application(client_max_size=2 * 1024 * 1024)
        web_app.router.add_post(EVENTS_PATH, self._on_http)
        web_app.router.add_get("/slack/healthz", self._on_health)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host,
                           3000 if self.http_port is None else self.http_port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self, finish: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Stop taking requests; `finish` (the listeners' own tasks) runs on their loop."""
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is None:
            return
        if self.loop is not None:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                self._runner.cleanup(), self.loop))
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(finish(), self.loop))
            self.loop.call_soon_threadsafe(self.loop.stop)
            if self.thread is not None:
                await asyncio.get_running_loop().run_in_executor(None, self.thread.join)
            self.loop.close()
            self.loop = None
        else:
            await self._runner.cleanup()
        self._runner = None

    async def _on_http(self, request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        if malformed_event(bolt_request.body):
            # slack-bolt itself fails with a 500 on an event callback without an event object;
            # refuse it here, after the same signature check bolt would make.
            secret = self.settings.slack_signing_secret
            if secret is not None and not SignatureVerifier(secret.get_secret_value()).is_valid(
                    body=bolt_request.raw_body,
                    timestamp=bolt_request.headers.get("x-slack-request-timestamp", [""])[0],
                    signature=bolt_request.headers.get("x-slack-signature", [""])[0]):
                return web.Response(status=401)
            log.info("slack: refused a malformed event callback")
            return web.Response(status=400)
        bolt_response = await self.app.async_dispatch(bolt_request)
        if bolt_response.status >= 500:
            # Listeners only ack and queue, so a 500 here is slack-bolt failing to read the
            # payload itself (a shape Slack does not send): refuse it, logged, as malformed.
            log.warning("slack: refused a request slack-bolt could not read (status %s)",
                        bolt_response.status)
            return web.Response(status=400)
        return await to_aiohttp_response(bolt_response)

    async def _on_health(self, _request: web.Request) -> web.Response:
        return web.json_response(self.health())
