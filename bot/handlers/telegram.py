"""The Telegram door: python-telegram-bot 22 in, the neutral engine, Telegram messages out.

Thin on purpose: an update becomes an `Incoming` (the update_id is the idempotency id), the
engine answers with `Reply`s, and they are rendered as HTML (user text escaped) with inline
keyboards carrying the engine's stamped payloads. Long polling by default; webhook mode
(`sfa run --telegram-webhook URL --port N`) checks Telegram's secret-token header on every
request and records each update in the reliable intake before answering 200
(telegram_webhook). Sends go through PTB's AIORateLimiter, which also holds every request
back for the time a 429 names, so replies never turn into a 429 storm. The bot token never
reaches a log line: httpx is kept at WARNING and every Telegram/HTTP logger gets a
redacting filter.

The door only translates: updates to `Incoming` (telegram_incoming), replies to Bot API calls
(telegram_render; the transport and the outbox sender are telegram_api). What needs the
database (the user's role for the command menu, the bot's username for invite links) it asks
the chat side (bot.conversations.door_services); it opens no session and takes no lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import re
import threading
import urllib.request
import weakref
from dataclasses import replace
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler

from bot.conversations import progress as working
from bot.conversations.door_services import DoorServices
from bot.conversations.engine import Engine
from bot.conversations.messages import Incoming
from bot.handlers.telegram_api import (
    PLATFORM,
    TELEGRAM_API,
    AiohttpRequest,
    TelegramSender,
    api_urls,
    freeze_startup_heap,
    protect_logs,
    webhook_secret_for,
)
from bot.handlers.telegram_incoming import language_of, to_incoming
from bot.handlers.telegram_render import MAX_TEXT, keyboard, send_reply, split_text, to_html
from bot.handlers.telegram_webhook import SECRET_HEADER, TelegramWebhook
from bot.i18n import N_, Translator
from core.models import Role

log = logging.getLogger(__name__)
# What a step is making (bot.conversations.progress) -> Telegram's chat action.
CHAT_ACTIONS = {working.TYPING: "typing", working.DOCUMENT: "upload_document",
                working.IMAGE: "upload_photo"}

MAX_ALERT = 200  # a callback query answer shown as a pop-up
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
        self.chat = DoorServices(engine)
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
        self._menus: dict[str, tuple[str, str]] = {}  # chat id -> (role, locale) last set
        # Chats shown the one-tap "share location" keyboard, until a reply takes it away.
        self._location_keyboards: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        # Webhook mode: updates are recorded in the intake, acknowledged, then worked.
        self.webhook = (TelegramWebhook(
            engine, self.bot, url=webhook_url, secret=self.webhook_secret, listen=listen,
            port=port, handle=self.handle_update, chat_of=self._chat_key)
            if webhook_url else None)
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
        freeze_startup_heap()
        if self.webhook is not None:
            await self.webhook.start(list(ALLOWED_UPDATES))
        else:
            assert self.application.updater is not None
            await self.application.updater.start_polling(
                poll_interval=0, timeout=self.poll_timeout,
                allowed_updates=list(ALLOWED_UPDATES), drop_pending_updates=False)

    async def stop(self) -> None:
        """Stop receiving, finish what is in flight, disconnect."""
        if self.webhook is not None:
            await self.webhook.stop()
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    def _remember_username(self) -> None:
        """Keep getMe's username (initialize asked for it) for invite deep links."""
        try:
            self.chat.remember_bot_username(self.bot.username or "")
        except Exception as exc:  # links then show the code only; the door still starts
            log.warning("could not keep the bot's username: %s", exc.__class__.__name__)

    @property
    def bound_port(self) -> int | None:
        """The webhook's port (the one the OS picked when asked for port 0)."""
        return self.webhook.bound_port if self.webhook is not None else None

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
        wanted = await self.chat.role_and_locale(PLATFORM, inc.user_id)
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
        """PTB's handler (long polling): see handle_update."""
        await self.handle_update(update)

    async def handle_update(self, update: object) -> None:
        """Handle one Telegram update; a failure is logged and answered, never propagated."""
        if not isinstance(update, Update):
            log.debug("dropped something that is not a telegram update")
            return
        key = self._chat_key(update)
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
        """The chat an update's answer goes to; None when it names none (a message without
        its chat, a press without its sender: forged or broken updates)."""
        try:
            return TelegramDoor._chat_of(update)
        except AttributeError:
            return None

    @staticmethod
    def _chat_of(update: Update) -> str | None:
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
            # engine's apology would tell the user it was. The update is held (long polling
            # has it in memory, a webhook in the intake's inbox) and tried again once the
            # database is back.
            await asyncio.sleep(max(availability.retry_in(), 0.5))
        progress["handled"] = True  # from here on, a failure is in sending the answer
        reply_to = None
        if query is not None:
            if inc.chat_is_group and replies and all(r.ephemeral for r in replies):
                # Only the presser should see it: a pop-up, the message stays as it was.
                text = "\n".join(r.text for r in replies)
                await self._answer(query, _shorten(text, MAX_ALERT), alert=True)
                replies.acknowledge()
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
        replies.acknowledge()
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

    async def to_incoming(self, update: Update) -> Incoming | None:
        """Translate an update into the engine's Incoming (None: nothing for the engine)."""
        return await to_incoming(self.bot, update, self.max_upload_bytes)

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
        t = Translator(language_of(user.language_code if user else None) or "en")
        try:
            await self.bot.send_message(int(chat), t(_NOT_SENT if handled else _SORRY))
        except Exception as exc:  # the apology itself failed: the log has the story
            log.warning("could not apologise in a chat: %s", exc.__class__.__name__)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram error: %s", context.error.__class__.__name__,
                  exc_info=context.error)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["SECRET_HEADER", "TELEGRAM_API", "AiohttpRequest", "TelegramDoor", "TelegramSender",
           "TelegramStartError", "api_urls", "keyboard", "protect_logs", "send_reply",
           "split_text", "to_html"]
