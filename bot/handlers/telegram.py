"""The Telegram door: python-telegram-bot 22 in, the neutral engine, Telegram messages out.

Thin on purpose: an update becomes an `Incoming` (the update_id is the idempotency id), the
engine answers with `Reply`s, and they are rendered as HTML (user text escaped) with inline
keyboards carrying the engine's stamped payloads. Long polling by default; webhook mode
(`sfa run --telegram-webhook URL --port N`) checks Telegram's secret-token header on every
request. Sends go through PTB's AIORateLimiter, which also holds every request back for the
time a 429 names, so replies never turn into a 429 storm. The bot token never reaches a log
line: httpx is kept at WARNING and every Telegram/HTTP logger gets a redacting filter.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import hmac
import html
import json
import logging
import re
import threading
import urllib.request
import warnings
import weakref
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlparse

import aiohttp
from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
)
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.constants import ChatType, ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler
from telegram.request import BaseRequest, RequestData

from bot.conversations import progress as working
from bot.conversations.engine import Engine
from bot.conversations.messages import (
    FORM_MIME,
    Incoming,
    IncomingFile,
    Reply,
    from_outbound,
    live_location_update,
)
from bot.i18n import N_, Translator
from bot.logs import RedactSecrets, redact_everywhere
from core import users as user_service
from core.models import Role
from core.ports import DeliveryError, OutboundMessage, PermanentFailure, RateLimited

log = logging.getLogger(__name__)
# What a step is making (bot.conversations.progress) -> Telegram's chat action.
CHAT_ACTIONS = {working.TYPING: "typing", working.DOCUMENT: "upload_document",
                working.IMAGE: "upload_photo"}

PLATFORM = "telegram"
TELEGRAM_API = "https://api.telegram.org"
MAX_TEXT = 4096  # Telegram's limit for one message
MAX_CAPTION = 1024
MAX_ALERT = 200  # a callback query answer shown as a pop-up
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# edited_message: a shared live location moves by edits of its message.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
# Menu entries for people who are not linked yet (their role is unknown).
_GUEST_COMMANDS = (
    ("start", N_("Link your account: /start followed by your invite code")),
    ("help", N_("Show what you can do")),
)
_SORRY = N_("Sorry, something went wrong on our side. Nothing was saved; please try again, "
            "or send /cancel.")
_NOT_SENT = N_("Sorry, Telegram did not take my answer. Your last message was handled; ask "
               "again to see the result.")
_DOWNLOAD_FAILED = N_("I could not fetch that file from Telegram. Please send it again.")


# -- configuration helpers -------------------------------------------------------------------
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
    names = ["httpx", "httpcore", "telegram", __name__, "aiohttp.access", "aiohttp.server"]
    names += [n for n in logging.Logger.manager.loggerDict
              if n.startswith(("telegram", "httpx", "httpcore"))]
    for name in names:
        logger = logging.getLogger(name)
        logger.filters = [f for f in logger.filters if not isinstance(f, RedactSecrets)]
        logger.addFilter(redact)


# -- rendering ------------------------------------------------------------------------------
def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut text into pieces under Telegram's limit, at line breaks where possible."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text:
        pieces.append(text)
    return pieces


def to_html(text: str, preformatted: bool = False) -> str:
    """Escape text for Telegram's HTML mode (user text can never inject markup)."""
    escaped = html.escape(text, quote=False)
    return f"<pre>{escaped}</pre>" if preformatted else escaped


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """Inline keyboard of the reply's stamped buttons (None without buttons)."""
    rows = [[InlineKeyboardButton(b.label[:64], callback_data=b.payload)
             for b in row if b.payload] for row in reply.buttons]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def _vcard_contact(data: bytes) -> dict[str, str] | None:
    """First name, last name and phone of a one-card vCard, for sendContact; None if unfit."""
    import vobject

    try:
        card = vobject.readOne(data.decode("utf-8", "replace"))
        phone = str(card.tel.value).strip()
        full = str(card.fn.value).strip()
    except Exception:
        return None
    if not phone or not full:
        return None
    first, _, last = full.partition(" ")
    return {"phone_number": phone, "first_name": first[:64], "last_name": last[:64]}


async def send_reply(
    bot: Any, chat_id: str | int, reply: Reply, *, reply_to: int | None = None,
    remove_keyboard: bool = False,
) -> Message | None:
    """Send one Reply to a chat; returns the last message sent (None if nothing to send).
    A reply asking for a location (and without inline buttons) shows a one-tap "share
    location" keyboard; `remove_keyboard` takes such a keyboard away again."""
    markup: Any = keyboard(reply)
    if markup is None and reply.ask_location:
        markup = ReplyKeyboardMarkup(
            [[KeyboardButton(reply.ask_location[:64], request_location=True)]],
            one_time_keyboard=True, resize_keyboard=True)
    elif markup is None and remove_keyboard:
        markup = ReplyKeyboardRemove()
    attachment = reply.attachment
    common: dict[str, Any] = {}
    if reply_to is not None:
        common["reply_parameters"] = ReplyParameters(reply_to,
                                                     allow_sending_without_reply=True)
    if attachment is None:
        pieces = split_text(reply.text)
        if not pieces:
            if markup is None:
                return None
            pieces = ["…"]
        last: Message | None = None
        for i, piece in enumerate(pieces):
            last = await bot.send_message(
                chat_id, to_html(piece, reply.preformatted), parse_mode=ParseMode.HTML,
                reply_markup=markup if i == len(pieces) - 1 else None,
                link_preview_options=None, **common)
        return last
    caption = "\n\n".join(x for x in (reply.text, attachment.caption or "") if x)
    if len(caption) > MAX_CAPTION:
        for piece in split_text(reply.text):
            await bot.send_message(chat_id, to_html(piece, reply.preformatted),
                                   parse_mode=ParseMode.HTML, **common)
        caption = (attachment.caption or "")[:MAX_CAPTION]
        preformatted = False
    else:
        preformatted = reply.preformatted and not attachment.caption
    upload = InputFile(attachment.data, filename=attachment.filename)
    html_caption = to_html(caption, preformatted) if caption else None
    if attachment.mime in ("text/vcard", "text/x-vcard") and not caption:
        fields = _vcard_contact(attachment.data)
        if fields is not None:
            return await bot.send_contact(
                chat_id, vcard=attachment.data.decode("utf-8", "replace")[:2048],
                reply_markup=markup, **fields, **common)
    if attachment.is_image and attachment.mime in ("image/png", "image/jpeg", "image/webp"):
        return await bot.send_photo(chat_id, upload, caption=html_caption,
                                    parse_mode=ParseMode.HTML, reply_markup=markup, **common)
    return await bot.send_document(chat_id, upload, caption=html_caption,
                                   parse_mode=ParseMode.HTML, reply_markup=markup, **common)



def _unavailable() -> web.Response:
    """The answer to a webhook call while the database is down: Telegram retries a 5xx."""
    return web.Response(status=503, text="database unavailable, retry later",
                        headers={"Retry-After": "5"})

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

    async def deliver(self, chat_id: str, message: OutboundMessage) -> str | None:
        """Send one outbox message; map Telegram's refusals to the outbox's error types."""
        await self._open()
        try:
            sent = await send_reply(self.bot, chat_id, from_outbound(message))
        except RetryAfter as exc:
            raise RateLimited(_retry_seconds(exc)) from None
        except Forbidden as exc:  # blocked by the user, kicked from the group
            raise PermanentFailure(f"telegram refused: {exc.message}") from None
        except BadRequest as exc:  # chat not found, bad markup: retrying will not help
            raise PermanentFailure(f"telegram bad request: {exc.message}") from None
        except TelegramError as exc:  # network trouble, timeouts, a 5xx
            raise DeliveryError(f"telegram error: {exc.__class__.__name__}") from None
        return str(sent.message_id) if sent is not None else None


# -- the door -------------------------------------------------------------------------------
class TelegramStartError(RuntimeError):
    """The door could not start (bad token, server unreachable); the message is log-safe."""


class TelegramDoor:
    """A running Telegram bot in front of the engine (polling, or webhook with a port)."""

    name = "telegram"

    def __init__(
        self,
        engine: Engine,
        token: str,
        *,
        api_url: str | None = None,
        webhook_url: str | None = None,
        port: int | None = None,
        listen: str = "0.0.0.0",
        webhook_secret: str | None = None,
        poll_timeout: int = 10,
        overall_max_rate: float = 30,
        group_max_rate: float = 20,
        max_retries: int = 1,
        concurrent_updates: int = 16,
        set_commands: bool = True,
    ) -> None:
        self.engine = engine
        self._token = token
        self.webhook_url = webhook_url
        self.port = port
        self.listen = listen
        self.webhook_secret = webhook_secret_for(token, webhook_secret)
        self.poll_timeout = poll_timeout
        self.set_commands = set_commands
        self.max_upload_bytes = engine.settings.max_upload_bytes
        base_url, base_file_url = api_urls(api_url)
        self._action_url = f"{base_url}{token}/sendChatAction"
        builder = (
            Application.builder()
            .token(token)
            .base_url(base_url)
            .base_file_url(base_file_url)
            .rate_limiter(AIORateLimiter(overall_max_rate=overall_max_rate,
                                         group_max_rate=group_max_rate,
                                         max_retries=max_retries))
            .concurrent_updates(concurrent_updates)
            .request(AiohttpRequest(pool_size=concurrent_updates + 8))
            .get_updates_request(AiohttpRequest(pool_size=1))
        )
        if webhook_url:
            builder = builder.updater(None)
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self.on_update))
        self.application.add_error_handler(self._on_error)
        self.bot = self.application.bot
        self.sender = TelegramSender(self.bot)
        self._chat_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())
        self._not_handled: set[int] = set()  # webhook updates left for a redelivery
        self._menus: dict[str, tuple[str, str]] = {}  # chat id -> (role, locale) last set
        # Chats shown the one-tap "share location" keyboard, until a reply takes it away.
        self._location_keyboards: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._web: web.AppRunner | None = None
        self.bound_port: int | None = None
        protect_logs([token, self.webhook_secret])

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, publish the command menus and start receiving updates."""
        protect_logs([self._token, self.webhook_secret])
        try:
            await self.application.initialize()
        except InvalidToken:  # its message quotes the token: never let it reach a traceback
            raise TelegramStartError("Telegram refused the bot token (TELEGRAM_BOT_TOKEN); "
                                     "check it with @BotFather") from None
        except TelegramError as exc:
            raise TelegramStartError(f"cannot reach the Telegram Bot API: "
                                     f"{exc.__class__.__name__}") from None
        await asyncio.to_thread(self._remember_username)
        if self.set_commands:
            try:
                await self.publish_default_menus()
            except TelegramError as exc:
                log.warning("could not set the Telegram command menu: %s", exc)
        await self.application.start()
        _freeze_startup_heap()
        if self.webhook_url:
            await self._start_webhook()
        else:
            assert self.application.updater is not None
            await self.application.updater.start_polling(
                poll_interval=0, timeout=self.poll_timeout,
                allowed_updates=list(ALLOWED_UPDATES), drop_pending_updates=False)

    async def stop(self) -> None:
        """Stop receiving, finish what is in flight, disconnect."""
        if self._web is not None:
            await self._web.cleanup()
            self._web = None
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):  # the database may be gone: purged later anyway
            await self.engine.flush_sent()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    def _remember_username(self) -> None:
        """Keep getMe's username (initialize asked for it) for invite deep links."""
        from core import invites

        try:
            with self.engine.db.session() as session:
                invites.remember_username(session, self.bot.username or "",
                                          self.engine.clock.now())
        except Exception as exc:  # links then show the code only; the door still starts
            log.warning("could not keep the bot's username: %s", exc.__class__.__name__)

    # -- webhook -----------------------------------------------------------------------------
    async def _start_webhook(self) -> None:
        assert self.webhook_url is not None
        path = urlparse(self.webhook_url).path or "/"
        server = web.Application(client_max_size=2 * 1024 * 1024)
        server.router.add_post(path, self._webhook)
        self._web = web.AppRunner(server, access_log=None)
        await self._web.setup()
        site = web.TCPSite(self._web, self.listen, 8443 if self.port is None else self.port)
        await site.start()
        addresses = self._web.addresses  # the port the OS picked when asked for port 0
        self.bound_port = addresses[0][1] if addresses else self.port
        await self.bot.set_webhook(self.webhook_url, secret_token=self.webhook_secret,
                                   allowed_updates=list(ALLOWED_UPDATES))
        log.info("telegram webhook listening on port %s", self.bound_port)

    async def _webhook(self, request: web.Request) -> web.Response:
        """Accept one update from Telegram; anything without the right secret gets 403."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.webhook_secret.encode()):
            log.warning("telegram webhook call with a wrong or missing secret refused")
            return web.Response(status=403, text="forbidden")
        try:
            data = await request.json()
            update = Update.de_json(data, self.bot)
        except Exception:  # not JSON, or JSON PTB cannot read as an update ({"message": false})
            log.info("telegram webhook: bad update dropped")
            return web.Response(status=400, text="bad update")
        if update is None:
            log.info("telegram webhook: bad update dropped")
            return web.Response(status=400, text="bad update")
        # The database is down: not handled, not acknowledged; Telegram redelivers it later.
        availability = self.engine.db.availability
        if availability.unavailable():
            return _unavailable()
        # Handled before answering: if this worker dies now, Telegram redelivers and the
        # engine's processed-update record keeps a second worker from running it twice.
        try:
            await self.application.process_update(update)
        except Exception as exc:  # PTB's own bookkeeping on a malformed update (chat id [])
            log.warning("telegram webhook: update dropped: %s", exc.__class__.__name__)
            return web.Response(status=400, text="bad update")
        if update.update_id in self._not_handled:
            self._not_handled.discard(update.update_id)
            return _unavailable()
        return web.Response(text="ok")

    # -- menus -------------------------------------------------------------------------------
    async def publish_default_menus(self) -> None:
        """The menu shown before anyone is linked, in English and Indonesian."""
        for locale in ("en", "id"):
            t = Translator(locale)
            commands = [BotCommand(c, t(d)[:256]) for c, d in _GUEST_COMMANDS]
            await self.bot.set_my_commands(commands, scope=BotCommandScopeDefault(),
                                           language_code=None if locale == "en" else locale)

    def menu_for(self, role: Role, locale: str) -> list[BotCommand]:
        """The commands one role may use, described in `locale`."""
        t = Translator(locale)
        out: list[BotCommand] = []
        for command, msgid in self.engine.visible_commands(role):
            if _COMMAND_NAME.match(command) and len(out) < 100:
                out.append(BotCommand(command, (t(msgid) or command)[:256]))
        return out

    async def _refresh_menu(self, inc: Incoming) -> None:
        """Show this private chat the commands of its user's role, in their language."""
        with self.engine.db.session() as session:
            user = user_service.identity_user(session, PLATFORM, inc.user_id)
            wanted = (user.role, user.locale) if user is not None and user.active else None
        if wanted is None:
            self._menus.pop(inc.chat_id, None)  # not linked yet: look again next time
            return
        if self._menus.get(inc.chat_id) == wanted:
            return
        try:
            await self.bot.set_my_commands(self.menu_for(Role(wanted[0]), wanted[1]),
                                           scope=BotCommandScopeChat(int(inc.chat_id)))
            self._menus[inc.chat_id] = wanted
        except TelegramError as exc:
            log.info("could not set a chat's command menu: %s", exc.__class__.__name__)

    def _menu_may_change(self, inc: Incoming) -> bool:
        if inc.chat_is_group or not self.set_commands:
            return False
        if inc.chat_id not in self._menus:
            self._menus[inc.chat_id] = ("", "")  # one refresh at a time per chat
            return True
        return bool(inc.text and inc.text.startswith(("/start", "/language")))

    def _background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- updates -----------------------------------------------------------------------------
    async def on_update(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Handle one Telegram update; a failure is logged and answered, never propagated."""
        if not isinstance(update, Update):
            log.debug("dropped something that is not a telegram update")
            return
        try:
            key = self._chat_key(update)
        except AttributeError:  # a message without its chat, a press without its sender
            key = None
        if key is None:
            log.debug("telegram update %s dropped: no chat to answer", update.update_id)
            return
        lock = self._chat_locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._chat_locks[key] = lock
        async with lock:  # replies in one chat go out in the order the updates came
            progress: dict[str, bool] = {}
            try:
                await self._handle(update, progress)
            except Exception:
                log.exception("telegram update %s failed", update.update_id)
                await self._apologise(update, handled=progress.get("handled", False))

    @staticmethod
    def _chat_key(update: Update) -> str | None:
        if update.callback_query is not None:
            q = update.callback_query
            return str(q.message.chat.id) if q.message is not None else str(q.from_user.id)
        if update.message is not None:
            return str(update.message.chat.id)
        if update.edited_message is not None:
            return str(update.edited_message.chat.id)
        return None

    async def _handle(self, update: Update, progress: dict[str, bool]) -> None:
        query = update.callback_query
        inc = await self.to_incoming(update)
        if inc is None:
            log.debug("telegram update %s dropped: nothing for the engine", update.update_id)
            if query is not None:
                await query.answer()
            return
        if self.webhook_url:
            # Telegram redelivers an update whose webhook call got no answer: the engine
            # keeps the replies until they are sent, for a redelivery after a crash here.
            inc = replace(inc, keep_answer=True)
        shown: set[str] = set()
        availability = self.engine.db.availability
        while True:
            seen = availability.failures
            with working.listening(lambda kind: self._show_working(inc.chat_id, kind, shown)):
                replies = await self.engine.handle(inc)
            if availability.failures == seen or not availability.down:
                break
            # The database went away during this update: nothing was saved, and the
            # engine's apology would tell the user it was. A webhook answers 503 (Telegram
            # redelivers); long polling holds the update and tries again once it is back.
            if self.webhook_url:
                self._not_handled.add(update.update_id)
                if query is not None:
                    with contextlib.suppress(TelegramError):
                        await query.answer()
                return
            await asyncio.sleep(max(availability.retry_in(), 0.5))
        progress["handled"] = True  # from here on, a failure is in sending the answer
        reply_to = None
        if query is not None:
            if inc.chat_is_group and replies and all(r.ephemeral for r in replies):
                # Only the presser should see it: a pop-up, the message stays as it was.
                text = "\n".join(r.text for r in replies)
                await self._answer(query, _shorten(text, MAX_ALERT), alert=True)
                self._answer_sent(inc, replies)
                return
            await self._answer(query)
            await self._mark_pressed(query, inc)
        elif inc.chat_is_group and update.message is not None:
            reply_to = update.message.message_id
        for reply in replies:
            # The "share location" keyboard goes with the next reply that can carry it.
            remove = (inc.chat_id in self._location_keyboards and not reply.buttons
                      and not reply.ask_location)
            if remove:
                self._location_keyboards.discard(inc.chat_id)
            await send_reply(self.bot, inc.chat_id, reply, reply_to=reply_to,
                             remove_keyboard=remove)
            if reply.ask_location and not reply.buttons and not inc.chat_is_group:
                self._location_keyboards.add(inc.chat_id)
        self._answer_sent(inc, replies)
        if self._menu_may_change(inc):
            self._background(self._refresh_menu(inc))

    def _show_working(self, chat_id: str, kind: str, shown: set[str]) -> None:
        """"uploading document…" / "typing…" while a step makes a PDF or a chart. The step
        holds the event loop while it works, so the chat action goes out from a short-lived
        thread of its own (once per kind and update; a failure only loses the hint)."""
        action = CHAT_ACTIONS.get(kind)
        if action is None or kind in shown:
            return
        shown.add(kind)
        threading.Thread(target=self._post_chat_action, args=(chat_id, action),
                         name="telegram-chat-action", daemon=True).start()

    def _post_chat_action(self, chat_id: str, action: str) -> None:
        body = json.dumps({"chat_id": chat_id, "action": action}).encode()
        request = urllib.request.Request(self._action_url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=3) as response:
                response.read()
        except Exception as exc:  # never the URL: it holds the token
            log.debug("chat action not shown: %s", exc.__class__.__name__)

    def _answer_sent(self, inc: Incoming, replies: list[Reply]) -> None:
        """Let the engine forget a kept answer once sent (in its next transaction)."""
        if inc.keep_answer and replies and inc.update_id is not None:
            self.engine.answer_sent(PLATFORM, str(inc.update_id))

    async def to_incoming(self, update: Update) -> Incoming | None:
        """Translate an update into the engine's Incoming (None: nothing for the engine)."""
        query = update.callback_query
        if query is not None:
            chat = query.message.chat if query.message is not None else None
            return Incoming(
                platform=PLATFORM,
                chat_id=str(chat.id if chat is not None else query.from_user.id),
                user_id=str(query.from_user.id),
                update_id=str(update.update_id),
                button=query.data or "",
                chat_is_group=chat is not None and chat.type in (ChatType.GROUP,
                                                                 ChatType.SUPERGROUP),
                display_name=query.from_user.full_name,
                language=_language(query.from_user.language_code),
            )
        edited = update.edited_message
        if edited is not None:  # only a live location's moves are for the engine
            if (edited.location is None or edited.from_user is None
                    or edited.chat.type != ChatType.PRIVATE):
                return None
            return live_location_update(
                platform=PLATFORM, chat_id=str(edited.chat.id),
                user_id=str(edited.from_user.id), update_id=str(update.update_id),
                lat=edited.location.latitude, lon=edited.location.longitude,
                language=_language(edited.from_user.language_code))
        msg = update.message
        if msg is None or msg.from_user is None or msg.chat.type == ChatType.CHANNEL:
            return None
        is_group = msg.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        base: dict[str, Any] = {
            "platform": PLATFORM, "chat_id": str(msg.chat.id), "user_id": str(msg.from_user.id),
            "update_id": str(update.update_id), "chat_is_group": is_group,
            "display_name": msg.from_user.full_name,
            "language": _language(msg.from_user.language_code),
            "received_at": msg.date,
        }
        if msg.text is not None:
            if self._for_another_bot(msg.text):
                return None
            text, addressed = msg.text, False
            if is_group:
                text, addressed = self._addressed(msg)
            return Incoming(**base, text=text, addressed=addressed)
        if msg.location is not None:
            return Incoming(**base, location=(msg.location.latitude, msg.location.longitude))
        if msg.contact is not None:
            return Incoming(**base, file=_contact_file(msg))
        if msg.document is not None or msg.photo:
            if is_group:
                return None  # files shared in a group are the group's business
            upload = await self._upload(msg)
            if upload is None:
                await send_reply(self.bot, msg.chat.id, Reply(
                    Translator(base["language"] or "en")(_DOWNLOAD_FAILED)))
                return None
            return Incoming(**base, file=upload)
        if is_group:
            return None  # joins, pins, stickers in a group: not for us
        return Incoming(**base)  # a sticker, a voice note: the engine says what it takes

    def _addressed(self, msg: Message) -> tuple[str, bool]:
        """A group message is for the bot when it mentions the bot (the mention is taken out)
        or replies to one of the bot's messages."""
        text = msg.text or ""
        username = (self.bot.username or "").lower()
        if username:
            mention = re.compile(rf"@{re.escape(username)}\b[,:]?\s*", re.IGNORECASE)
            if mention.search(text):
                return mention.sub("", text).strip(), True
        reply_to = msg.reply_to_message
        if reply_to is not None and reply_to.from_user is not None and (
                reply_to.from_user.id == self.bot.id):
            return text, True
        return text, False

    def _for_another_bot(self, text: str) -> bool:
        """`/help@OtherBot` in a group is for that bot, not for us."""
        if not text.startswith("/"):
            return False
        command = text.split(maxsplit=1)[0]
        if "@" not in command:
            return False
        mention = command.split("@", 1)[1].lower()
        return bool(self.bot.username) and mention != self.bot.username.lower()

    async def _upload(self, msg: Message) -> IncomingFile | None:
        """The uploaded file; above the size limit only its size (refused, not downloaded)."""
        if msg.document is not None:
            doc = msg.document
            file_id, size = doc.file_id, doc.file_size
            name = doc.file_name or "document"
            mime = doc.mime_type or "application/octet-stream"
        else:
            photo = msg.photo[-1]  # the largest size
            file_id, size = photo.file_id, photo.file_size
            name, mime = f"photo_{photo.file_unique_id}.jpg", "image/jpeg"
        if mime == FORM_MIME:  # only a door may build form submissions
            mime = "application/json"
        if size is not None and size > self.max_upload_bytes:
            return IncomingFile(name=name, mime=mime, size=size)
        try:
            remote = await self.bot.get_file(file_id)
            if remote.file_size is not None and remote.file_size > self.max_upload_bytes:
                return IncomingFile(name=name, mime=mime, size=remote.file_size)
            data = bytes(await remote.download_as_bytearray())
        except TelegramError as exc:
            log.warning("telegram file download failed: %s", exc.__class__.__name__)
            return None
        return IncomingFile(name=name, mime=mime, size=len(data), data=data)

    # -- callback queries ----------------------------------------------------------------------
    async def _answer(self, query: CallbackQuery, text: str | None = None,
                      alert: bool = False) -> None:
        try:
            await query.answer(text=text, show_alert=alert)
        except TelegramError as exc:  # too old to answer: nothing the user can see
            log.info("callback query not answered: %s", exc.__class__.__name__)

    async def _mark_pressed(self, query: CallbackQuery, inc: Incoming) -> None:
        """Edit the pressed message: its buttons go, the choice is shown under the text."""
        msg = query.message
        if not isinstance(msg, Message):
            return
        label = ""
        if msg.reply_markup is not None:
            for row in msg.reply_markup.inline_keyboard:
                for b in row:
                    if b.callback_data == query.data:
                        label = b.text
        try:
            if msg.text and label:
                who = f" — {inc.display_name}" if inc.chat_is_group and inc.display_name else ""
                choice = f"\n\n<i>✓ {html.escape(label + who, quote=False)}</i>"
                body = msg.text_html
                if len(msg.text) + len(label) + len(who) + 4 <= MAX_TEXT:
                    await msg.edit_text(body + choice, parse_mode=ParseMode.HTML,
                                        reply_markup=None)
                    return
            await msg.edit_reply_markup(reply_markup=None)
        except TelegramError as exc:  # already edited, too old: the press was still handled
            log.info("pressed message not edited: %s", exc.__class__.__name__)

    # -- failures ----------------------------------------------------------------------------
    async def _apologise(self, update: Update, *, handled: bool) -> None:
        with contextlib.suppress(Exception):
            if update.callback_query is not None:
                await update.callback_query.answer()
        chat = self._chat_key(update)
        if chat is None:
            return
        user = update.effective_user
        t = Translator(_language(user.language_code if user else None) or "en")
        try:
            await self.bot.send_message(int(chat), t(_NOT_SENT if handled else _SORRY))
        except Exception as exc:  # the apology itself failed: the log has the story
            log.warning("could not apologise in a chat: %s", exc.__class__.__name__)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram error: %s", context.error.__class__.__name__,
                  exc_info=context.error)


_heap_frozen = False


def _freeze_startup_heap() -> None:
    """Move everything alive after start-up (modules, the registry, PTB's objects) out of the
    cyclic collector's reach, once per process. Without it every full collection rescans that
    heap: 45-100 ms pauses with the whole event loop stopped, the p99 of every reply."""
    global _heap_frozen
    if _heap_frozen:
        return
    _heap_frozen = True
    gc.collect()
    gc.freeze()


def _language(code: str | None) -> str | None:
    if not code or not isinstance(code, str):  # a malformed update may carry anything
        return None
    return code.split("-", 1)[0].lower()[:2] or None


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _contact_file(msg: Message) -> IncomingFile:
    """A shared contact, as the vCard the engine's flows read (Telegram's own, or built)."""
    c = msg.contact
    assert c is not None
    if c.vcard:
        data = c.vcard.encode()
    else:
        name = " ".join(x for x in (c.first_name, c.last_name) if x)
        lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{name}",
                 f"N:{c.last_name or ''};{c.first_name};;;", f"TEL;TYPE=CELL:{c.phone_number}",
                 "END:VCARD"]
        data = ("\r\n".join(lines) + "\r\n").encode()
    return IncomingFile(name="contact.vcf", mime="text/vcard", size=len(data), data=data)

