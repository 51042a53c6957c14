"""The Slack door: a thin slack-bolt AsyncApp over the neutral conversation engine.

Input: the `/sfa` slash command, direct messages, app mentions in channels, Block Kit button
presses, modal submissions (forms) and the App Home tab. Every listener acks first and puts
the work on a queue (sharded by Slack user, so one user's updates stay in order); workers
run the engine and render its replies with the Web API. Identity is (team id, user id) ->
`Incoming.user_id = "T:U"`. HTTP mode verifies the signing secret (bolt: a bad signature or a
timestamp older than 5 minutes is answered 401); Socket Mode is used when SLACK_APP_TOKEN is
set. `SFA_SLACK_API_URL` points the Web API client at another base URL (tests).

Setting up the Slack app (api.slack.com/apps):
- Bot token scopes: chat:write, commands, im:history, im:read, im:write, app_mentions:read,
  users:read, files:read, files:write (and users:read.email for SFA_SLACK_LINK_BY_EMAIL=1);
  channels:history and groups:history let a scheduler that took over from a dead one see
  whether a push to a team channel already arrived (without them it is sent again).
- Slash command `/sfa`; Interactivity on; events message.im, app_mention, app_home_opened;
  App Home: Home tab and Messages tab on. In HTTP mode all three URLs are
  https://HOST/slack/events (`sfa run --slack-http --port N`); in Socket Mode none is needed.
- Environment: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (HTTP mode), SLACK_APP_TOKEN (Socket Mode).

Forms: a flow may answer with a `FormReply` (bot.conversations.messages): here its form button
opens a modal; field errors (required, number, date, choice, length) are shown in the modal
(`response_action: errors`); valid values reach the step as a press of that button with
`form_values(inc)`. Other doors show the text and the button, and the step asks in text.
Log visit, new lead and quote items offer forms; what only the core can refuse (a date in the
past, an unknown product) comes back as a message with the form again, filled in.

Acks: listeners only ack and queue (a modal is opened by a task after the ack), and bolt runs
them inline (`process_before_response=True`), so the HTTP answer leaves as soon as the job is
queued; the work happens on the main loop's workers.

Inbox (on by default, on every database): Slack never redelivers an update it got an ack
for, so before the ack each job is written to the database inbox (bot.intake), claimed by
this worker, and the Incoming asks the engine to keep its answer. Once the replies are posted,
the inbox row and the kept answer are forgotten together (batched). Every worker renews its
claims and, every few seconds, takes over rows whose claim lapsed
(`slack_inbox_lease_seconds`): a killed worker's job is then worked by another one, and the
engine's update record makes that a first run, a replay of the kept answer, or nothing. A
Slack retry of an event still in the inbox is acked and dropped.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import functools
import json
import logging
import os
import re
import secrets
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.conversations.engine import Engine
from bot.conversations.messages import (
    Button,
    Form,
    FormField,
    FormReply,
    Incoming,
    IncomingFile,
    Reply,
    form_file,
    from_outbound,
)
from bot.conversations.models import ConversationState
from bot.i18n import N_, Translator
from bot.intake import store as inbox
from core import home as home_service
from core import users as user_service
from core.models import Platform
from core.ports import DeliveryError, OutboundMessage, PermanentFailure, RateLimited
from core.settings import Settings

SLACK_LOCATION_HINT = N_("📍 Slack cannot share a location: paste a Google Maps or "
                         "OpenStreetMap link of where you are.")

log = logging.getLogger(__name__)
_T = TypeVar("_T")

PLATFORM = Platform.SLACK.value
DEFAULT_API_URL = "https://slack.com/api/"
EVENTS_PATH = "/slack/events"
PUSH_EVENT = "sfa_push"  # the metadata event type of scheduled pushes (reminders, alerts)
SHARDS = 64  # worker queues; one user's updates always go to the same one
_MAX_SECTION = 2900  # Slack allows 3000 characters in a section's text
_MAX_BUTTON_VALUE = 2000
_PERMANENT_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "account_inactive",
    "user_not_found", "user_disabled", "cannot_dm_bot", "invalid_auth", "not_authed",
    "token_revoked", "missing_scope",
})
_BUILTIN_COMMANDS = frozenset({"start", "help", "cancel", "language"})
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
_LINK_WITH_LABEL = re.compile(r"<([^<>|]+)\|([^<>]*)>")
_LINK = re.compile(r"<((?:mailto:|tel:|https?://)?[^<>|@#!][^<>|]*)>")
_DM_COMMAND = re.compile(r"(?i)^(help|cancel|start\s+[A-Za-z0-9]{4,16}|language\s+[a-z]{2})$")

STAGE_LABELS = {
    "opportunity": N_("Opportunity"),
    "lead_allocated": N_("Lead allocated"),
    "contacted": N_("Contacted"),
    "qualified": N_("Prospect qualified"),
    "solution": N_("Solution identified"),
}
JOB_STATUS_LABELS = {
    "assigned": N_("assigned"),
    "en_route": N_("on the way"),
    "on_site": N_("on site"),
}
FIELD_ERRORS = {
    "required": N_("This field is required."),
    "number": N_("Enter a number, e.g. 1500000."),
    "date": N_("Enter a date as YYYY-MM-DD."),
    "choice": N_("Choose one of the options."),
    "long": N_("Keep it under {limit} characters."),
}


# -- text in and out ---------------------------------------------------------------------------
def from_slack_text(text: str) -> str:
    """Slack message text to plain text: mentions removed, links unwrapped, entities decoded."""
    text = _MENTION.sub("", text or "")
    text = _LINK_WITH_LABEL.sub(lambda m: m.group(2), text)
    text = _LINK.sub(lambda m: m.group(1).removeprefix("mailto:").removeprefix("tel:"), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def escape(text: str) -> str:
    """Escape text for Slack mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def command_text(text: str, commands: set[str] | dict[str, str]) -> str:
    """`/sfa TEXT` as engine input: a known command word becomes `/word`, else plain text."""
    text = (text or "").strip()
    if not text:
        return "/help"
    if text.startswith("/"):
        return text
    word = text.split(None, 1)[0].lower()
    if word in _BUILTIN_COMMANDS or word in commands:
        return "/" + text
    return text


def dm_text(text: str, commands: set[str] | frozenset[str] | dict[str, str] = frozenset()) -> str:
    """A DM cannot start with "/" in Slack: `help`, `cancel`, `start CODE`, `language id`
    and a command's name typed alone (`report`, `whoami`) are the commands."""
    if _DM_COMMAND.match(text) or text.lower() in commands:
        return "/" + text.lower() if " " not in text else "/" + text
    return text


def _chunks(text: str, size: int) -> list[str]:
    out: list[str] = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size)
        cut = cut if cut > size // 2 else size
        out.append(text[:cut])
        text = text[cut:].lstrip("\n")
    out.append(text)
    return out


def render(reply: Reply, forms: dict[str, Form] | None = None) -> tuple[str, list[dict[str, Any]]]:
    """A Reply as (fallback text, Block Kit blocks). A form's button opens a modal."""
    text = reply.text or (reply.attachment.caption if reply.attachment else "") or ""
    blocks: list[dict[str, Any]] = []
    if text:
        body = escape(text)
        for part in _chunks(body, _MAX_SECTION - 8):
            shown = f"```{part}```" if reply.preformatted else part
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": shown}})
    form = reply.form if isinstance(reply, FormReply) else None
    for r, row in enumerate(reply.buttons):
        elements = []
        for c, b in enumerate(row):
            element: dict[str, Any] = {
                "type": "button", "text": {"type": "plain_text", "text": b.label[:75] or "?"},
                "action_id": f"sfa_btn_{r}_{c}", "value": b.payload,
            }
            if form is not None and b.value == form.value and not b.action:
                element["action_id"] = f"sfa_form_{r}_{c}"
                packed = json.dumps({"p": b.payload, "f": form_to_json(form)},
                                    ensure_ascii=False, separators=(",", ":"))
                if len(packed) > _MAX_BUTTON_VALUE:  # a long form: compressed
                    packed = json.dumps({"p": b.payload, "f": squeeze_form(form)},
                                        separators=(",", ":"))
                if len(packed) <= _MAX_BUTTON_VALUE:
                    element["value"] = packed
                elif forms is not None:  # too big even so: this process keeps it
                    forms[b.payload] = form
                    element["value"] = json.dumps({"p": b.payload})
            elements.append(element)
        for k in range(0, len(elements), 5):  # at most 5 elements per actions block
            blocks.append({"type": "actions", "block_id": f"sfa_row_{r}_{k}",
                           "elements": elements[k:k + 5]})
    # The fallback is mrkdwn too (notifications): user text in it could ping <!channel>.
    return (escape(text) or " ")[:3000], blocks[:50]


def form_to_json(form: Form) -> dict[str, Any]:
    return {"t": form.title, "s": form.submit_label, "v": form.value,
            "f": [[f.name, f.label, f.kind, int(f.required), [list(o) for o in f.options],
                   f.hint, f.initial, f.max_length] for f in form.fields]}


def squeeze_form(form: Form) -> str:
    """A form packed small (zlib + base64) for a button value or a modal's metadata, so any
    worker can open and check it without this process's memory."""
    raw = json.dumps(form_to_json(form), ensure_ascii=False, separators=(",", ":"))
    return "z" + base64.b64encode(zlib.compress(raw.encode(), 9)).decode()


def unpack_form(data: Any) -> Form:
    """A form from a button value or metadata: plain JSON, or squeezed."""
    if isinstance(data, str) and data.startswith("z"):
        inflate = zlib.decompressobj()
        raw = inflate.decompress(base64.b64decode(data[1:], validate=True), 200_000)
        if inflate.unconsumed_tail:  # more than any form of ours: refused, not inflated
            raise ValueError("form too large")
        data = json.loads(raw)
    if not isinstance(data, dict):
        raise TypeError("not a form")
    return form_from_json(data)


def form_from_json(data: dict[str, Any]) -> Form:
    fields = tuple(FormField(name=f[0], label=f[1], kind=f[2], required=bool(f[3]),
                             options=tuple((o[0], o[1]) for o in f[4]), hint=f[5],
                             initial=f[6], max_length=int(f[7])) for f in data["f"])
    return Form(title=data["t"], fields=fields, submit_label=data["s"], value=data["v"])


def modal_view(form: Form, metadata: dict[str, Any], t: Translator) -> dict[str, Any]:
    """A Slack modal for a form; each field is an input block named after the field."""
    blocks = []
    for f in form.fields:
        element: dict[str, Any]
        if f.kind == "choice":
            element = {"type": "static_select", "action_id": "v", "options": [
                {"text": {"type": "plain_text", "text": label[:75]}, "value": value}
                for value, label in f.options[:100]]}
            initial = [o for o in element["options"] if o["value"] == f.initial]
            if initial:
                element["initial_option"] = initial[0]
        elif f.kind == "date":
            element = {"type": "datepicker", "action_id": "v"}
            if f.initial:
                element["initial_date"] = f.initial
        else:
            element = {"type": "plain_text_input", "action_id": "v",
                       "multiline": f.kind == "long_text", "max_length": max(1, f.max_length)}
            if f.initial:
                element["initial_value"] = f.initial
        block: dict[str, Any] = {"type": "input", "block_id": f.name, "optional": not f.required,
                                 "label": {"type": "plain_text", "text": f.label[:2000]},
                                 "element": element}
        if f.hint:
            block["hint"] = {"type": "plain_text", "text": f.hint[:2000]}
        blocks.append(block)
    return {
        "type": "modal", "callback_id": "sfa_form",
        "title": {"type": "plain_text", "text": form.title[:24] or "SFA"},
        "submit": {"type": "plain_text", "text": form.submit_label[:24]},
        "close": {"type": "plain_text", "text": t("Cancel")[:24]},
        "private_metadata": json.dumps(metadata, separators=(",", ":"))[:3000],
        "blocks": blocks,
    }


def check_form(form: Form, state: dict[str, Any], t: Translator
               ) -> tuple[dict[str, str], dict[str, str]]:
    """Read a modal's state: (values, field errors by field name)."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for f in form.fields:
        raw = (state.get(f.name) or {}).get("v") or {}
        if f.kind == "choice":
            value = ((raw.get("selected_option") or {}).get("value")) or ""
        elif f.kind == "date":
            value = raw.get("selected_date") or ""
        else:
            value = (raw.get("value") or "").strip()
        if not value:
            if f.required:
                errors[f.name] = t(FIELD_ERRORS["required"])
            continue
        if f.kind == "number":
            try:
                number = Decimal(value.replace(",", "").replace(" ", ""))
                if not number.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                errors[f.name] = t(FIELD_ERRORS["number"])
                continue
            value = str(number)  # "1,500,000" -> "1500000"
        elif f.kind == "date":
            try:
                date.fromisoformat(value)
            except ValueError:
                errors[f.name] = t(FIELD_ERRORS["date"])
                continue
        elif f.kind == "choice" and value not in {v for v, _label in f.options}:
            errors[f.name] = t(FIELD_ERRORS["choice"])
            continue
        elif len(value) > f.max_length:
            errors[f.name] = t(FIELD_ERRORS["long"], limit=f.max_length)
            continue
        values[f.name] = value
    return values, errors


# -- clients and the outbox sender ------------------------------------------------------------
def api_base_url(settings: Settings) -> str:
    url = settings.slack_api_url or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


def make_client(settings: Settings, *, retry_rate_limits: bool) -> AsyncWebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = AsyncWebClient(token=token, base_url=api_base_url(settings), timeout=15)
    if retry_rate_limits:  # interactive replies wait out a 429; the outbox backs off instead
        client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    return client


async def post_reply(client: AsyncWebClient, channel: str, reply: Reply, *,
                     user: str | None = None, forms: dict[str, Form] | None = None,
                     metadata: dict[str, Any] | None = None) -> str | None:
    """Post one reply to a channel (ephemeral to `user` when given); files via the
    getUploadURLExternal / completeUploadExternal upload. Returns the message ts or file id.
    `metadata` (Slack message metadata) rides on the message posted, not on a file."""
    text, blocks = render(reply, forms)
    if reply.attachment is not None and user is None:
        a = reply.attachment
        resp = await client.files_upload_v2(
            channel=channel, file=a.data, filename=a.filename, title=a.caption or a.filename,
            initial_comment=reply.text or None)
        file_id = (resp.get("file") or {}).get("id")
        if reply.buttons:  # buttons ride on a message of their own
            buttons_only = Reply(text=reply.text or a.filename, buttons=reply.buttons)
            text, blocks = render(buttons_only, forms)
            await client.chat_postMessage(channel=channel, text=text, blocks=blocks,
                                          metadata=metadata)
        return file_id
    if user is not None:
        resp = await client.chat_postEphemeral(channel=channel, user=user, text=text,
                                               blocks=blocks)
        return resp.get("message_ts")
    resp = await client.chat_postMessage(channel=channel, text=text, blocks=blocks,
                                         metadata=metadata)
    return resp.get("ts")


class SlackSender:
    """core.ports.MessageSender for Slack: the scheduler's outbox delivers through it."""

    platform = PLATFORM

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def deliver(self, chat_id: str, message: OutboundMessage) -> str | None:
        metadata = ({"event_type": PUSH_EVENT, "event_payload": {"key": message.key}}
                    if message.key else None)
        try:
            return await post_reply(self.client, chat_id, from_outbound(message),
                                    metadata=metadata)
        except SlackApiError as exc:
            response = exc.response
            if response.status_code == 429:
                headers = {k.lower(): v for k, v in (response.headers or {}).items()}
                retry = headers.get("retry-after", "1")
                retry = retry[0] if isinstance(retry, list) else retry
                try:
                    seconds = float(retry)
                except ValueError:
                    seconds = 1.0
                raise RateLimited(seconds) from None
            error = str(response.data.get("error") or "") if isinstance(
                response.data, dict) else ""
            if error in _PERMANENT_ERRORS:
                raise PermanentFailure(error) from None
            raise DeliveryError(error or f"HTTP {response.status_code}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(exc.__class__.__name__) from None

    async def find_sent(self, chat_id: str, key: str, since: datetime) -> str | None:
        """The ts of the push sent with `key` (its message metadata) in this chat since
        `since`, else None (core.ports.SentMessageFinder: asked before a push whose result
        was lost is sent again). Reads up to 1,000 messages back; a Slack error propagates
        (the outbox then sends again, the safe side)."""
        channel = chat_id
        if channel.startswith(("U", "W")):  # a push to a person goes to the bot's DM
            opened = await self.client.conversations_open(users=chat_id)
            channel = str((opened.get("channel") or {}).get("id") or chat_id)
        cursor = None
        for _ in range(5):
            page = await self.client.conversations_history(
                channel=channel, oldest=f"{since.timestamp():.6f}", limit=200,
                include_all_metadata=True, cursor=cursor)
            for msg in page.get("messages") or []:
                meta = msg.get("metadata") or {}
                if meta.get("event_type") == PUSH_EVENT and \
                        (meta.get("event_payload") or {}).get("key") == key:
                    return str(msg.get("ts"))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None


# -- the door ---------------------------------------------------------------------------------
@dataclass
class Job:
    """One unit of work, queued by a listener after its ack."""

    kind: str  # "command" | "message" | "mention" | "button" | "form" | "home"
    team: str
    user: str
    channel: str = ""
    text: str = ""
    payload: str = ""
    label: str = ""
    update_id: str | None = None
    is_group: bool = False
    message_ts: str | None = None
    message_blocks: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, str] | None = None
    enqueued: float = 0.0

    @property
    def external_id(self) -> str:
        return f"{self.team}:{self.user}"

    def pack(self) -> bytes:
        """The job as the inbox stores it (compact JSON)."""
        data = asdict(self)
        del data["enqueued"]
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def unpack(cls, body: bytes) -> Job:
        """A job from its inbox body."""
        return cls(**json.loads(body))


@dataclass
class DoorStats:
    """What the benchmark and tests read: queue waits (seconds), jobs done, jobs failed."""

    queue_waits: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=200_000))
    work_seconds: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=200_000))
    received: int = 0
    done: int = 0
    failed: int = 0
    duplicates: int = 0
    taken_over: int = 0  # inbox jobs of a stopped worker this door worked
    given_up: int = 0


def _malformed_event(body: object) -> bool:
    """An event callback whose event is not an object (Slack never sends one)."""
    return (isinstance(body, dict) and body.get("type") == "event_callback"
            and not isinstance(body.get("event"), dict))


class SlackDoor:
    """The Slack door (see the module docstring); `start()` / `stop()` run it."""

    name = "slack"

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        http_port: int | None = None,
        host: str = "0.0.0.0",
        client: AsyncWebClient | None = None,
        shards: int = SHARDS,
        intake_thread: bool = True,
        inbox_enabled: bool = True,
        takeover_every: float = 5.0,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.host = host
        self.http_port = http_port
        # Workers reply through `client`; the listeners (which may run on the intake thread's
        # own event loop) use `intake_client`, which opens its own connections.
        self.client = client or make_client(settings, retry_rate_limits=True)
        self.intake_client = make_client(settings, retry_rate_limits=True)
        self.sender = SlackSender(make_client(settings, retry_rate_limits=False))
        self.intake_thread = intake_thread
        # The durable inbox (module docstring). On PostgreSQL another worker takes a killed
        # one's jobs over; on SQLite (one process) the next start does. Its cost on SQLite
        # (benchmarks/slack_ack.py, 100/s): ack median 2.0 -> 2.9 ms, p99 6.2 -> 7.7 ms; there
        # the intake's INSERT waits for the one write lock while a step's transaction holds it.
        self.inbox_enabled = inbox_enabled
        self.takeover_every = takeover_every
        self.worker_name = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
        secret = settings.slack_signing_secret
        self.app = AsyncApp(
            client=self.intake_client,
            signing_secret=secret.get_secret_value() if secret else None,
            request_verification_enabled=secret is not None,
            # Listeners only ack and queue (a modal is opened by a task of its own), so bolt
            # runs them inline and answers when ack() was called. With False, bolt runs each
            # listener as a task and polls for its ack every 10 ms: every ack cost >= 10 ms,
            # and far more once the loop is busy (profiled: the ack p99 of the benchmark).
            process_before_response=True,
            raise_error_for_unhandled_request=False,
        )
        self.stats = DoorStats()
        self._queues: list[asyncio.Queue[Job]] = [asyncio.Queue() for _ in range(shards)]
        self._workers: list[asyncio.Task[None]] = []
        self._dm: dict[str, str] = {}
        self._languages: dict[str, tuple[float, str, str]] = {}  # external id -> (until, ...)
        self._linked: set[str] = set()
        self._seen_events: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._forms: collections.OrderedDict[str, Form] = collections.OrderedDict()
        self._listener_tasks: set[asyncio.Future[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._socket: Any = None
        self._http: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._intake_loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._takeover: asyncio.Task[None] | None = None
        self._done_ids: list[str] = []  # inbox jobs done, to forget in one transaction
        self._forgetting: asyncio.Task[None] | None = None
        self.port: int | None = None
        self._register()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._http = aiohttp.ClientSession()
        for client in (self.client, self.sender.client):
            if client.session is None:
                client.session = self._http
        self._workers = [asyncio.create_task(self._work(q), name=f"slack-worker-{i}")
                         for i, q in enumerate(self._queues)]
        if self.inbox_enabled:
            self._takeover = asyncio.create_task(self._take_over_loop(), name="slack-takeover")
        app_token = self.settings.slack_app_token
        if app_token is not None and self.http_port is None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket = AsyncSocketModeHandler(self.app, app_token.get_secret_value())
            await self._socket.connect_async()
            log.info("slack door: socket mode connected")
            return
        if self.intake_thread:
            # The HTTP intake (signature check, parse, ack, queue) runs on its own thread and
            # event loop, so an ack never waits behind a step's synchronous database work.
            self._intake_loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._intake_loop.run_forever,
                                            name="slack-intake", daemon=True)
            self._thread.start()
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                self._start_http(), self._intake_loop))
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

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            if self._intake_loop is not None:
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                    self._runner.cleanup(), self._intake_loop))
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                    self._finish_listener_tasks(), self._intake_loop))
                self._intake_loop.call_soon_threadsafe(self._intake_loop.stop)
                if self._thread is not None:
                    await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
                self._intake_loop.close()
                self._intake_loop = None
            else:
                await self._runner.cleanup()
            self._runner = None
        if self._listener_tasks and self._thread is None:  # they ran on this loop
            await self._finish_listener_tasks()
        if self._takeover is not None:
            self._takeover.cancel()
            await asyncio.gather(self._takeover, return_exceptions=True)
            self._takeover = None
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        if self.inbox_enabled:
            if self._forgetting is not None:
                await asyncio.gather(self._forgetting, return_exceptions=True)
            await self._forget_done(settle=0)
            with contextlib.suppress(SQLAlchemyError):  # else purged with their records
                await self.engine.flush_sent()
            await self._release_unfinished()
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _finish_listener_tasks(self, timeout: float = 5.0) -> None:
        """Let modals being opened finish (they are short Web API calls) before the loop ends."""
        if self._listener_tasks:
            await asyncio.wait(list(self._listener_tasks), timeout=timeout)

    async def drain(self, settle: float = 0.05) -> None:
        """Wait until every received job is done (tests, benchmarks, shutdown)."""
        await asyncio.sleep(settle)  # a listener may still be running on the intake loop
        while self._listener_tasks or self.stats.received > self.stats.done + self.stats.failed:
            await asyncio.sleep(0.005)
        await asyncio.gather(*(q.join() for q in self._queues))
        if self._forgetting is not None:
            await asyncio.gather(self._forgetting, return_exceptions=True)
        await self.engine.flush_sent()

    async def _on_http(self, request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        if _malformed_event(bolt_request.body):
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
        return web.json_response({"slack": "ok", "queued": sum(q.qsize() for q in self._queues)})

    # -- listeners: ack first, then queue ----------------------------------------------------
    def _register(self) -> None:
        app = self.app
        app.command(re.compile(r"^/sfa"))(self._on_command)
        app.event("message")(self._on_message)
        app.event("app_mention")(self._on_mention)
        app.event("app_home_opened")(self._on_home)
        app.action(re.compile(r"^sfa_btn"))(self._on_button)
        app.action(re.compile(r"^sfa_form"))(self._on_form_button)
        app.view("sfa_form")(self._on_form_submit)
        app.view_closed("sfa_form")(self._on_form_closed)

    def _submit(self, job: Job) -> None:
        """Queue a job for the workers (from the intake thread or the main loop)."""
        self.stats.received += 1
        job.enqueued = time.perf_counter()
        queue = self._queues[hash(job.external_id) % len(self._queues)]
        if self._loop is not None and self._intake_loop is not None:
            self._loop.call_soon_threadsafe(queue.put_nowait, job)
        else:
            queue.put_nowait(job)

    async def _take_in(self, job: Job) -> bool:
        """Record a job in the inbox before its ack (when on and the job has an update id);
        False for a platform retry of an update recorded before and not yet done."""
        if not self.inbox_enabled or job.update_id is None:
            return True
        try:
            on_intake = (self._intake_loop is not None
                         and asyncio.get_running_loop() is self._intake_loop)
            if on_intake or self.engine.db.is_postgres:
                fresh = self._record(job)  # its own connection; no write lock to share
            else:
                async with self.engine.writer_lock:  # SQLite: one writer per process
                    fresh = self._record(job)
        except SQLAlchemyError as exc:
            log.warning("slack: inbox unavailable (%s); a job is kept in memory only",
                        exc.__class__.__name__)
            return True
        if not fresh:
            self.stats.duplicates += 1
            log.info("slack: ignored a retry of an update still in the inbox")
        return fresh

    def _record(self, job: Job) -> bool:
        assert job.update_id is not None
        with self.engine.db.engine.begin() as conn:
            return inbox.record_update(conn, PLATFORM, job.update_id, job.pack(),
                                       worker=self.worker_name, now=self.engine.clock.now())

    def _first_time(self, event_id: str | None, headers: dict[str, Any]) -> bool:
        """False for a redelivery (x-slack-retry-num) of an event this process has seen."""
        if not event_id:
            return True
        if event_id in self._seen_events:
            self.stats.duplicates += 1
            log.info("slack: ignored a redelivered event (retry %s)",
                     (headers.get("x-slack-retry-num") or ["?"])[0])
            return False
        self._seen_events[event_id] = None
        if len(self._seen_events) > 50_000:
            self._seen_events.popitem(last=False)
        return True

    async def _on_command(self, ack: Any, body: dict[str, Any]) -> None:
        job = Job(kind="command", team=body.get("team_id") or "",
                  user=body.get("user_id") or "", channel=body.get("channel_id") or "",
                  text=body.get("text") or "",
                  update_id=f"c:{body.get('trigger_id')}" if body.get("trigger_id") else None)
        fresh = await self._take_in(job)
        await ack()
        if fresh:
            self._submit(job)

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any],
                          request: Any) -> None:
        if event.get("channel_type") != "im" or event.get("bot_id"):
            return
        if event.get("subtype") not in (None, "file_share"):
            return  # edits, deletions, joins
        if not self._first_time(body.get("event_id"), request.headers):
            return
        job = Job(kind="message", team=body.get("team_id") or event.get("team") or "",
                  user=event.get("user") or "", channel=event.get("channel") or "",
                  text=event.get("text") or "", files=list(event.get("files") or []),
                  update_id=body.get("event_id"))
        if await self._take_in(job):  # events are acked by bolt when the listener returns
            self._submit(job)

    async def _on_mention(self, body: dict[str, Any], event: dict[str, Any],
                          request: Any) -> None:
        channel = event.get("channel") or ""
        if channel.startswith("D") or event.get("bot_id"):
            return
        if not self._first_time(body.get("event_id"), request.headers):
            return
        job = Job(kind="mention", team=body.get("team_id") or event.get("team") or "",
                  user=event.get("user") or "", channel=channel,
                  text=event.get("text") or "", is_group=True, update_id=body.get("event_id"))
        if await self._take_in(job):
            self._submit(job)

    async def _on_home(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("tab") != "home":
            return
        job = Job(kind="home", team=body.get("team_id") or "", user=event.get("user") or "",
                  update_id=body.get("event_id"))
        if await self._take_in(job):
            self._submit(job)

    async def _on_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        user = body.get("user") or {}
        channel = (body.get("channel") or {}).get("id") or ""
        container = body.get("container") or {}
        message = body.get("message") or {}
        job = Job(
            kind="button", team=user.get("team_id") or (body.get("team") or {}).get("id") or "",
            user=user.get("id") or "", channel=channel, payload=action.get("value") or "",
            label=((action.get("text") or {}).get("text") or ""),
            update_id=f"b:{user.get('id')}:{action.get('action_ts')}",
            # A button on the Home tab comes with no channel: it is answered in the DM.
            is_group=bool(channel) and not channel.startswith("D"),
            message_ts=None if container.get("is_ephemeral") else container.get("message_ts"),
            message_blocks=list(message.get("blocks") or []))
        fresh = await self._take_in(job)
        await ack()
        if fresh:
            self._submit(job)

    async def _on_form_button(self, ack: Any, body: dict[str, Any],
                              action: dict[str, Any]) -> None:
        await ack()
        # The modal is opened after the ack is answered (views.open is a Slack round trip).
        self._background(self._open_form(body, action))

    def _background(self, work: Any) -> None:
        """Run `work` on the current loop after the listener returns; drain() waits for it."""
        task = asyncio.ensure_future(work)
        self._listener_tasks.add(task)
        task.add_done_callback(self._listener_tasks.discard)

    async def _open_form(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Open the modal of a form button (the trigger id is valid for 3 seconds)."""
        user = body.get("user") or {}
        team = user.get("team_id") or (body.get("team") or {}).get("id") or ""
        t = await self._listener_translator(f"{team}:{user.get('id')}")
        channel = (body.get("channel") or {}).get("id") or ""
        try:
            packed = json.loads(action.get("value") or "{}")
            payload = packed["p"]
            form = unpack_form(packed["f"]) if "f" in packed else self._forms[payload]
        except (ValueError, KeyError, TypeError, IndexError, zlib.error):
            await self._safe(self.intake_client.chat_postEphemeral(
                channel=channel, user=user.get("id") or "",
                text=t("That form is no longer available. Please start again.")))
            return
        container = body.get("container") or {}
        metadata = {"p": payload, "c": channel, "ts": container.get("message_ts"),
                    "l": (action.get("text") or {}).get("text") or ""}
        if "f" not in packed:
            metadata["k"] = payload  # the form is kept in memory under its payload
        else:
            metadata["f"] = packed["f"]
        view = modal_view(form, metadata, t)
        if len(view["private_metadata"]) >= 3000 and isinstance(metadata.get("f"), dict):
            metadata["f"] = squeeze_form(form)  # carried compressed
            view = modal_view(form, metadata, t)
        if len(view["private_metadata"]) >= 3000:  # too big to carry: keep it here
            self._remember_form(payload, form)
            metadata.pop("f", None)
            metadata["k"] = payload
            view = modal_view(form, metadata, t)
        await self._safe(self.intake_client.views_open(trigger_id=body.get("trigger_id"),
                                                       view=view))

    async def _on_form_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]
                              ) -> None:
        user = body.get("user") or {}
        team = user.get("team_id") or (body.get("team") or {}).get("id") or ""
        t = await self._listener_translator(f"{team}:{user.get('id')}")
        try:
            metadata = json.loads(view.get("private_metadata") or "{}")
            form = (unpack_form(metadata["f"]) if "f" in metadata
                    else self._forms[metadata["k"]])
        except (ValueError, KeyError, TypeError, IndexError, zlib.error):
            await ack()
            return
        values, errors = check_form(form, (view.get("state") or {}).get("values") or {}, t)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        channel = metadata.get("c") or ""
        job = Job(kind="form", team=team, user=user.get("id") or "", channel=channel,
                  payload=metadata.get("p") or "", label=metadata.get("l") or "",
                  values=values, update_id=f"v:{view.get('id')}:{view.get('hash')}",
                  is_group=not channel.startswith("D"), message_ts=metadata.get("ts"))
        fresh = await self._take_in(job)
        await ack()
        if fresh:
            self._submit(job)

    async def _on_form_closed(self, ack: Any) -> None:
        await ack()

    def _remember_form(self, payload: str, form: Form) -> None:
        self._forms[payload] = form
        while len(self._forms) > 5_000:
            self._forms.popitem(last=False)

    # -- workers -----------------------------------------------------------------------------
    async def _work(self, queue: asyncio.Queue[Job]) -> None:
        while True:
            job = await queue.get()
            taken = time.perf_counter()
            self.stats.queue_waits.append(taken - job.enqueued)
            try:
                await self._handle(job)
                self.stats.done += 1
                self.stats.work_seconds.append(time.perf_counter() - taken)
                self._job_done(job)
            except Exception:
                self.stats.failed += 1
                log.exception("slack job failed (kind=%s)", job.kind)
                await self._release(job)
            finally:
                queue.task_done()

    # -- the inbox: forget done jobs, take over a stopped worker's ----------------------------
    def _job_done(self, job: Job) -> None:
        """Forget a done job's kept answer (the engine, in its next transaction) and inbox row
        (batched, off the answer's path)."""
        if not self.inbox_enabled or job.update_id is None:
            return
        self.engine.answer_sent(PLATFORM, job.update_id)
        self._done_ids.append(job.update_id)
        if self._forgetting is None or self._forgetting.done():
            self._forgetting = asyncio.get_running_loop().create_task(self._forget_done())

    async def _forget_done(self, settle: float | None = None) -> None:
        if settle is None:  # at once on PostgreSQL (a thread), batched on SQLite
            settle = 0 if self.engine.db.is_postgres else 0.05
        await asyncio.sleep(settle)  # one transaction for the jobs done meanwhile
        while self._done_ids:
            batch, self._done_ids = self._done_ids[:500], self._done_ids[500:]
            try:
                await self._inbox_work(functools.partial(
                    inbox.forget_updates, platform=PLATFORM, update_ids=batch))
            except SQLAlchemyError as exc:  # kept: the next done job tries again
                log.warning("slack: could not forget done updates: %s",
                            exc.__class__.__name__)
                self._done_ids[:0] = batch
                return

    async def _inbox_work(self, work: Callable[[Session], _T]) -> _T:
        """Run inbox work in a transaction of its own: on PostgreSQL on a thread (it touches
        no row a step of this process holds, and the steps do not queue behind its commit);
        on SQLite on this loop, in this process's writer turn (see Engine)."""
        def run() -> _T:
            with self.engine.db.session() as session:
                return work(session)

        if self.engine.db.is_postgres:
            return await asyncio.to_thread(run)
        async with self.engine.writer_lock:
            return run()

    async def _release(self, job: Job) -> None:
        """Give a failed job back: the next takeover pass (here or elsewhere) tries it again,
        until inbox.MAX_ATTEMPTS."""
        if not self.inbox_enabled or job.update_id is None:
            return
        ids = [job.update_id]
        try:
            await self._inbox_work(lambda session: inbox.release_updates(
                session, PLATFORM, worker=self.worker_name, update_ids=ids))
        except SQLAlchemyError as exc:  # its claim lapses after the lease instead
            log.warning("slack: could not release a failed job: %s", exc.__class__.__name__)

    async def _release_unfinished(self) -> None:
        """On stop: give this worker's unfinished jobs to the others (or the next start)."""
        try:
            released = await self._inbox_work(lambda session: inbox.release_updates(
                session, PLATFORM, worker=self.worker_name))
        except SQLAlchemyError as exc:  # their claims lapse after the lease instead
            log.warning("slack: could not release unfinished jobs: %s", exc.__class__.__name__)
            return
        if released:
            log.info("slack: released %d unfinished jobs to other workers", released)

    async def _take_over_loop(self) -> None:
        """Renew this worker's claims and take over jobs whose claim lapsed, every few s."""
        while True:
            try:
                await self.take_over()
            except SQLAlchemyError as exc:
                log.warning("slack: inbox takeover failed: %s", exc.__class__.__name__)
            await asyncio.sleep(self.takeover_every)

    async def take_over(self) -> int:
        """One takeover pass (see _take_over_loop); return how many jobs were queued."""
        lease = timedelta(seconds=self.settings.slack_inbox_lease_seconds)
        now = self.engine.clock.now()
        found = await self._inbox_work(lambda session: inbox.take_over_updates(
            session, PLATFORM, worker=self.worker_name, now=now, lease=lease))
        for lost in found.given_up:
            self.stats.given_up += 1
            log.warning("slack: gave up an inbox job after %d attempts", lost.attempts)
        unreadable: list[str] = []
        for claimed in found.claimed:
            try:
                job = Job.unpack(claimed.body)
            except (ValueError, TypeError):
                log.warning("slack: dropped an unreadable inbox job")
                unreadable.append(claimed.update_id)
                continue
            self.stats.taken_over += 1
            self._submit(job)
        if unreadable:
            self._done_ids.extend(unreadable)
        if found.claimed:
            log.info("slack: took over %d unfinished jobs", len(found.claimed))
        return len(found.claimed) - len(unreadable)

    async def _handle(self, job: Job) -> None:
        if job.kind == "home":
            await self.publish_home(job.team, job.user)
            return
        chat_id = job.channel
        text: str | None = None
        button: str | None = None
        upload: IncomingFile | None = None
        if job.kind == "command":
            dm = await self._dm_channel(job.user)
            if dm is None and not job.channel.startswith("D"):
                # Never answer a private command in the channel: say so, to the asker only.
                t = await self._t(job.external_id)
                await self._safe(self.client.chat_postEphemeral(
                    channel=job.channel, user=job.user,
                    text=t("I could not open a direct message with you. Please message me "
                           "directly (Apps → SFA) and try again.")))
                return
            chat_id = dm or job.channel
            text = command_text(from_slack_text(job.text), self.engine.registry.commands)
        elif job.kind == "message":
            text = dm_text(from_slack_text(job.text), self.engine.registry.commands) or None
            if job.files:
                upload = await self._download(job.files[0])
                if upload is None:
                    t = await self._t(job.external_id)
                    await self._safe(post_reply(self.client, chat_id, Reply(t(
                        "I could not fetch that file from Slack. Please send it again."))))
                    return
        elif job.kind == "mention":
            text = command_text(from_slack_text(job.text), self.engine.registry.commands)
        elif job.kind in ("button", "form"):
            button = job.payload
            if job.kind == "button" and not chat_id:  # pressed on the Home tab
                chat_id = await self._dm_channel(job.user) or ""
            if job.kind == "form":
                upload = form_file(job.values or {})
            elif not job.is_group and job.message_ts:
                # The pressed message loses its buttons first: an old button cannot act twice.
                await self._close_message(
                    job, await self._t(job.external_id))
        if not job.is_group:
            await self._link_by_email(job, chat_id)
        incoming = Incoming(
            platform=PLATFORM, chat_id=chat_id, user_id=job.external_id,
            update_id=job.update_id, text=text if button is None else None, button=button,
            file=upload, chat_is_group=job.is_group, addressed=job.kind in ("mention", "command"),
            # Kept until sent: a takeover after a kill between commit and send replays it.
            keep_answer=self.inbox_enabled and job.update_id is not None)
        availability = self.engine.db.availability
        while True:
            # The database is down: this intake keeps the job (Slack was already answered)
            # and works it once the database is back, instead of answering it with an
            # apology for something that was never saved.
            while availability.unavailable():
                await asyncio.sleep(max(availability.retry_in(), 0.1))
            seen = availability.failures
            replies = await self.engine.handle(incoming)
            if availability.failures == seen or not availability.down:
                break
        if job.message_ts and (
                (job.kind == "button" and job.is_group and any(not r.ephemeral for r in replies))
                or (job.kind == "form" and await self._read(self._moved_on, job))):
            await self._close_message(job, await self._t(job.external_id))
        await self.send_replies(chat_id, replies, user=job.user, is_group=job.is_group)
        if job.kind == "button" and not job.channel:  # the Home tab shows what is left
            await self.publish_home(job.team, job.user)
        if job.kind == "command" and job.channel and job.channel != chat_id \
                and not job.channel.startswith("D"):
            t = await self._t(job.external_id)
            await self._safe(self.client.chat_postEphemeral(
                channel=job.channel, user=job.user,
                text=t("I answered in our direct messages.")))

    def _moved_on(self, job: Job) -> bool:
        """True when the form's button no longer applies (the submission was taken); a refused
        submission leaves the button, so the user can open the form again and correct it."""
        parts = job.payload.split("|")
        if len(parts) != 4:
            return True
        with self.engine.db.session() as session:
            state = session.scalar(select(ConversationState).where(
                ConversationState.platform == PLATFORM,
                ConversationState.chat_id == job.channel,
                ConversationState.external_user_id == job.external_id))
            return state is None or state.flow != parts[1] or f"{state.token:x}" != parts[2]

    async def send_replies(self, channel: str, replies: list[Reply], *, user: str,
                           is_group: bool) -> None:
        """Render the engine's replies: in a channel, ephemeral ones only to the asker (and
        their files to the asker's DM); in a DM, everything as messages."""
        for reply in replies:
            if reply.ask_location:  # Slack has no location sharing: say how instead
                hint = (await self._t(user))(SLACK_LOCATION_HINT)
                reply = replace(reply, text=f"{reply.text}\n{hint}" if reply.text else hint)
            target, ephemeral_to = channel, None
            if is_group and reply.ephemeral:
                if reply.attachment is not None:
                    target = await self._dm_channel(user) or channel
                else:
                    ephemeral_to = user
            await self._safe(post_reply(self.client, target, reply, user=ephemeral_to,
                                        forms=self._forms))

    async def _close_message(self, job: Job, t: Translator) -> None:
        """Replace the pressed message's buttons by a line saying what was chosen."""
        kept = [b for b in job.message_blocks if b.get("type") != "actions"]
        choice = escape(job.label)
        who = f"<@{job.user}>"
        line = (t("{who} chose: {label}", who=who, label=choice) if job.is_group
                else t("You chose: {label}", label=choice))
        kept.append({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]})
        fallback = next((b["text"]["text"] for b in kept if b.get("type") == "section"
                         and isinstance(b.get("text"), dict)), line)
        await self._safe(self.client.chat_update(channel=job.channel, ts=job.message_ts or "",
                                                 text=fallback[:3000], blocks=kept))

    async def _safe(self, call: Any) -> Any:
        try:
            return await call
        except SlackApiError as exc:
            data = exc.response.data
            log.warning("slack API error: %s", data.get("error") if isinstance(data, dict)
                        else f"HTTP {exc.response.status_code}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack API unreachable: %s", exc.__class__.__name__)
        return None

    async def _dm_channel(self, user: str) -> str | None:
        if user in self._dm:
            return self._dm[user]
        resp = await self._safe(self.client.conversations_open(users=user))
        channel = ((resp or {}).get("channel") or {}).get("id") if resp is not None else None
        if channel:
            self._dm[user] = channel
        return channel

    async def _download(self, info: dict[str, Any]) -> IncomingFile | None:
        """Fetch an uploaded file (bot token); too-big files are passed on without bytes so
        the engine answers with the size limit."""
        size = int(info.get("size") or 0)
        name = info.get("name") or "file"
        mime = info.get("mimetype") or "application/octet-stream"
        url = info.get("url_private_download") or info.get("url_private")
        if size > self.settings.max_upload_bytes or not url:
            return IncomingFile(name=name, mime=mime, size=size)
        assert self._http is not None
        headers = {"Authorization": f"Bearer {self.client.token}"} if self.client.token else {}
        try:
            async with self._http.get(url, headers=headers) as resp:
                if resp.status != 200:
                    return None
                data = await resp.content.read(self.settings.max_upload_bytes + 1)
        except (aiohttp.ClientError, TimeoutError):
            return None
        return IncomingFile(name=name, mime=mime, size=max(size, len(data)), data=data)

    # -- identity ----------------------------------------------------------------------------
    async def _read(self, fn: Any, *args: Any) -> Any:
        """Run a short synchronous read on the main loop inside the engine's one-transaction-
        at-a-time lock (SQLite begins every transaction IMMEDIATE; see Engine)."""
        async with self.engine.writer_lock:
            return fn(*args)

    async def _listener_translator(self, external_id: str) -> Translator:
        """The user's translator from a listener: on the intake thread a plain read (its own
        connection, never blocking the main loop); on the main loop under the engine's lock."""
        cached = self._languages.get(external_id)
        if cached is not None and cached[0] > time.monotonic():
            return Translator(cached[1], cached[2])
        if self._intake_loop is not None and asyncio.get_running_loop() is self._intake_loop:
            return self._translator(external_id)
        return await self._read(self._translator, external_id)

    async def _t(self, external_id: str) -> Translator:
        """The user's translator for the door's own words (cached for a minute)."""
        cached = self._languages.get(external_id)
        if cached is not None and cached[0] > time.monotonic():
            return Translator(cached[1], cached[2])
        return await self._read(self._translator, external_id)

    def _translator(self, external_id: str) -> Translator:
        with self.engine.db.session() as session:
            user = user_service.identity_user(session, PLATFORM, external_id)
            if user is None:
                return Translator(self.settings.default_locale, self.settings.default_timezone)
            if len(self._languages) > 20_000:
                self._languages.clear()
            self._languages[external_id] = (time.monotonic() + 60, user.locale, user.timezone)
            return Translator(user.locale, user.timezone)

    def _is_linked(self, external_id: str) -> bool:
        with self.engine.db.session() as session:
            return user_service.identity_user(session, PLATFORM, external_id) is not None

    async def _link_by_email(self, job: Job, chat_id: str) -> None:
        """When enabled, link an unknown Slack user whose profile e-mail matches one user."""
        if not self.settings.slack_link_by_email or job.external_id in self._linked:
            return
        if await self._read(self._is_linked, job.external_id):
            self._linked.add(job.external_id)
            return
        info = await self._safe(self.client.users_info(user=job.user))
        email = (((info or {}).get("user") or {}).get("profile") or {}).get("email") \
            if info is not None else None
        if not email:
            return
        async with self.engine.writer_lock:  # one writer per process (see Engine)
            with self.engine.db.session() as session:
                user = user_service.link_by_email(
                    session, email=email, platform=PLATFORM, external_id=job.external_id,
                    chat_id=chat_id, now=self.engine.clock.now())
                if user is None:
                    return
                t = Translator(user.locale, user.timezone)
                welcome = t("Linked to {name} by your Slack e-mail. Welcome!", name=user.name)
        self._linked.add(job.external_id)
        await self._safe(post_reply(self.client, chat_id, Reply(welcome)))

    # -- App Home ----------------------------------------------------------------------------
    async def publish_home(self, team: str, user_id: str) -> None:
        """Publish the App Home tab: overdue items, today's agenda, the open pipeline."""
        view = await self._read(self.home_view, f"{team}:{user_id}")
        await self._safe(self.client.views_publish(user_id=user_id, view=view))

    def home_view(self, external_id: str) -> dict[str, Any]:
        now = self.engine.clock.now()
        with self.engine.db.session() as session:
            user = user_service.identity_user(session, PLATFORM, external_id)
            if user is None or not user.active:
                t = Translator(self.settings.default_locale, self.settings.default_timezone)
                return _home([_section(t(
                    "Link your Slack account first: send /sfa start CODE with the invite "
                    "code from your admin."))])
            t = Translator(user.locale, user.timezone)
            day = home_service.my_day(session, user, now)
            blocks: list[dict[str, Any]] = [
                {"type": "header", "text": {"type": "plain_text",
                                            "text": t("Your day, {name}", name=user.name)[:150]}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(
                    t("Updated {time}", time=t.datetime(now)))}]},
            ]
            if day.overdue:
                lines = [f"• {t.datetime(i.at)} — {escape(i.title)}" for i in day.overdue[:15]]
                blocks.append(_section("*" + escape(t("Overdue")) + "*\n" + "\n".join(lines)))
            if day.today:
                lines = [f"• {t.time(i.at)} — {escape(i.title)}" for i in day.today[:20]]
                blocks.append(_section("*" + escape(t("Today")) + "*\n" + "\n".join(lines)))
            else:
                blocks.append(_section("*" + escape(t("Today")) + "*\n"
                                       + escape(t("Nothing due today."))))
            blocks += _approval_blocks(session, t, user)
            if day.jobs:
                lines = [f"• #{j.id} {escape(j.company)} — "
                         f"{escape(t(JOB_STATUS_LABELS.get(j.status, j.status)))}"
                         + (f" · {t.time(j.at)}" if j.at else "") for j in day.jobs]
                blocks.append(_section("*" + escape(t("Your jobs")) + "*\n" + "\n".join(lines)))
            lines = [f"• {escape(t(STAGE_LABELS.get(s.stage, s.stage)))}: {s.count} · "
                     f"{escape(t.money(s.amount))}" for s in day.pipeline]
            summary = t.n("{count} open deal", "{count} open deals", day.open_deals)
            blocks.append(_section("*" + escape(t("Pipeline")) + "* — " + escape(summary)
                                   + ("\n" + "\n".join(lines) if lines else "")))
            return _home(blocks)


def _approval_blocks(session: Any, t: Translator, user: Any) -> list[dict[str, Any]]:
    """The manager's inbox on the Home tab: each waiting request with its buttons."""
    from bot.conversations.approvals import INBOX_LIMIT, request_reply
    from bot.conversations.engine import encode_payload
    from core import approvals

    waiting = approvals.waiting_for(session, user, limit=INBOX_LIMIT)
    if not waiting:
        return []
    count = approvals.count_waiting(session, user)
    blocks = [_section("*" + escape(t("Waiting for your decision")) + "* — "
                       + escape(t.n("{count} request", "{count} requests", count)))]
    for request in waiting:
        reply = request_reply(session, t, request)
        stamped = replace(reply, buttons=tuple(
            tuple(replace(b, payload=encode_payload(b, None, 0)) for b in row)
            for row in reply.buttons))
        for block in render(stamped)[1]:
            if "block_id" in block:  # unique within the view
                block["block_id"] = f"approval_{request.id}_{block['block_id']}"
            blocks.append(block)
    return blocks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:_MAX_SECTION]}}


def _home(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "home", "blocks": blocks[:100]}


def build_slack_door(engine: Engine, settings: Settings, *, http_port: int | None = None,
                     host: str = "0.0.0.0") -> SlackDoor:
    """The door the composition root runs (Socket Mode with SLACK_APP_TOKEN, else HTTP)."""
    return SlackDoor(engine, settings, http_port=http_port, host=host)


__all__ = ["Button", "SlackDoor", "SlackSender", "build_slack_door", "render"]
