"""Telegram's Bot API: where it is (api_urls), the webhook's secret, the token kept out of
every log line, PTB's HTTP layer on aiohttp, and the scheduler's sender (core.ports.
MessageSender) that maps Telegram's refusals to the outbox's error types."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import warnings
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData

from bot.conversations.messages import Reply
from bot.handlers.telegram_render import send_reply
from bot.logs import RedactSecrets, redact_everywhere
from core.ports import DeliveryError, PermanentFailure, RateLimited

PLATFORM = "telegram"
TELEGRAM_API = "https://api.telegram.org"
_DOOR_LOGGER = "bot.handlers.telegram"


def api_urls(api_url: str | None) -> tuple[str, str]:
    """PTB's base_url and base_file_url for a Bot API server root (default Telegram's)."""
    root = (api_url or TELEGRAM_API).rstrip("/")
    return f"{root}/bot", f"{root}/file/bot"


def webhook_secret_for(token: str, configured: str | None = None) -> str:
    """The secret Telegram must send with every webhook call: the configured one, else one
    derived from the token, so several workers agree without extra configuration."""
    if configured:
        return configured
    return hashlib.sha256(f"sfa-telegram-webhook:{token}".encode()).hexdigest()


def protect_logs(secrets: Iterable[str]) -> None:
    """Keep the token out of every log line: quiet httpx and filter the HTTP/PTB loggers."""
    secrets = list(secrets)
    redact_everywhere(secrets)  # records of loggers created later are redacted too
    redact = RedactSecrets(secrets)
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)  # httpx logs request URLs (with the token) at INFO
    names = ["httpx", "httpcore", "telegram", _DOOR_LOGGER, __name__, "aiohttp.access",
             "aiohttp.server"]
    names += [n for n in logging.Logger.manager.loggerDict
              if n.startswith(("telegram", "httpx", "httpcore"))]
    for name in names:
        logger = logging.getLogger(name)
        logger.filters = [f for f in logger.filters if not isinstance(f, RedactSecrets)]
        logger.addFilter(redact)


class AiohttpRequest(BaseRequest):
    """PTB's HTTP layer on aiohttp's client (already our web server's library): the same
    behaviour as the default httpx one at a fraction of the CPU per request. Errors carry the
    exception class only, never a URL (it contains the token)."""

    def __init__(self, pool_size: int = 32, read_timeout: float = 5.0,
                 connect_timeout: float = 5.0, media_timeout: float = 20.0) -> None:
        self._pool_size = pool_size
        self._read = read_timeout
        self._connect = connect_timeout
        self._media = media_timeout
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # Keep-alive pool; no cookie jar (the Bot API sets none, and a jar is consulted
            # on every request).
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        data: Any = None
        headers: dict[str, str] | None = None
        files = request_data.multipart_data if request_data is not None else None
        if request_data is not None:
            if files:
                form = aiohttp.FormData()
                for key, value in request_data.json_parameters.items():
                    form.add_field(key, value)
                for name, (filename, content, mime) in files.items():
                    form.add_field(name, content, filename=filename or name,
                                   content_type=mime or "application/octet-stream")
                data = form
            else:
                # The same urlencoded form aiohttp would build from the dict, without its
                # per-request FormData machinery.
                data = urlencode(request_data.json_parameters).encode()
                headers = {"Content-Type": "application/x-www-form-urlencoded"}
        read = self._read if isinstance(read_timeout, DefaultValue) else read_timeout
        if files and isinstance(write_timeout, DefaultValue):
            read = max(read or 0, self._media)
        connect = self._connect if isinstance(connect_timeout, DefaultValue) else connect_timeout
        timeout = self._timeouts.get((connect, read))
        if timeout is None:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)
            if len(self._timeouts) < 64:
                self._timeouts[(connect, read)] = timeout
        try:
            async with self._session.request(method, url, data=data, headers=headers,
                                             timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut("timed out talking to the Bot API") from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}") from None


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the type becomes a timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    """The scheduler's way out to Telegram (core.ports.MessageSender)."""

    platform = PLATFORM

    def __init__(self, bot: Any) -> None:
        self.bot = bot
        self._opened = False
        self._opening = asyncio.Lock()

    async def _open(self) -> None:
        # `sfa scheduler` uses the sender of a door that was never started: connect once.
        if self._opened:
            return
        async with self._opening:
            if self._opened:
                return
            try:
                await self.bot.initialize()  # a no-op when the door already did it
            except InvalidToken:
                raise PermanentFailure("Telegram refused the bot token") from None
            except TelegramError as exc:
                raise DeliveryError(f"telegram error: {exc.__class__.__name__}") from None
            self._opened = True

    async def close(self) -> None:
        """Disconnect (when the scheduler runs without the door)."""
        if self._opened:
            self._opened = False
            await self.bot.shutdown()

    async def deliver(self, chat_id: str, message: Reply, key: str | None = None
                      ) -> str | None:
        """Send one pushed message (Telegram cannot carry its `key`); map Telegram's
        refusals to the outbox's error types."""
        await self._open()
        try:
            sent = await send_reply(self.bot, chat_id, message)
        except RetryAfter as exc:
            raise RateLimited(_retry_seconds(exc)) from None
        except Forbidden as exc:  # blocked by the user, kicked from the group
            raise PermanentFailure(f"telegram refused: {exc.message}") from None
        except BadRequest as exc:  # chat not found, bad markup: retrying will not help
            raise PermanentFailure(f"telegram bad request: {exc.message}") from None
        except TelegramError as exc:  # network trouble, timeouts, a 5xx
            raise DeliveryError(f"telegram error: {exc.__class__.__name__}") from None
        return str(sent) if sent is not None else None


_heap_frozen = False


def freeze_startup_heap() -> None:
    """Move everything alive after start-up (modules, the registry, PTB's objects) out of the
    cyclic collector's reach, once per process. Without it every full collection rescans that
    heap: 45-100 ms pauses with the whole event loop stopped, the p99 of every reply."""
    global _heap_frozen
    if _heap_frozen:
        return
    _heap_frozen = True
    gc.collect()
    gc.freeze()
