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

Intake (on by default, on every database): Slack never redelivers an update it got an ack
for, so each job goes through the neutral reliable intake (bot.intake.queue.Intake): recorded
before the ack, worked in order per user, forgotten with its kept answer once the replies
are posted, taken over by another worker when this one dies (`inbox_lease_seconds`).
A Slack retry of an event still in the inbox is acked and dropped.

The door only translates: Slack requests to jobs (slack_jobs) and jobs to `Incoming`, replies
to Web API calls (slack_blocks, slack_api). What needs the database (the user's language,
linking by e-mail, the App Home view, whether a form still applies) it asks the chat side
(bot.conversations.door_services); it opens no session and takes no engine lock.
"""


from __future__ import annotations

import asyncio
import collections
import json
import logging
import re
import threading
import time
import zlib
from dataclasses import replace
from datetime import timedelta
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversations.door_services import DoorServices
from bot.conversations.engine import Engine
from bot.conversations.messages import Button, Form, Incoming, IncomingFile, Reply, form_file
from bot.handlers.slack_api import (
    PLATFORM,
    PUSH_EVENT,
    SlackSender,
    api_base_url,
    download,
    make_client,
    post_reply,
    safe,
)
from bot.handlers.slack_blocks import (
    check_form,
    command_text,
    dm_text,
    escape,
    form_from_json,
    form_modal,
    form_to_json,
    from_slack_text,
    home_blocks,
    render,
    unpack_form,
)
from bot.handlers.slack_jobs import (
    Job,
    button_job,
    command_job,
    form_job,
    home_job,
    mention_job,
    message_job,
    team_of,
)
from bot.handlers.slack_server import SlackServer
from bot.i18n import N_, Translator
from bot.intake.queue import Intake, IntakeStats
from core.settings import Settings

SLACK_LOCATION_HINT = N_("📍 Slack cannot share a location: paste a Google Maps or "
                         "OpenStreetMap link of where you are.")

log = logging.getLogger(__name__)

SHARDS = 64  # worker queues; one user's updates always go to the same one
DoorStats = IntakeStats  # the name the benchmark and tests knew


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
        self.chat = DoorServices(engine)
        # Workers reply through `client`; the listeners (which may run on the intake thread's
        # own event loop) use `intake_client`, which opens its own connections.
        self.client = client or make_client(settings, retry_rate_limits=True)
        self.intake_client = make_client(settings, retry_rate_limits=True)
        self.sender = SlackSender(make_client(settings, retry_rate_limits=False))
        self.intake_thread = intake_thread
        # The durable intake (module docstring). On PostgreSQL another worker takes a killed
        # one's jobs over; on SQLite (one process) the next start does. Its cost on SQLite
        # (benchmarks/slack_ack.py, 100/s): ack median 2.0 -> 2.9 ms, p99 6.2 -> 7.7 ms; there
        # the intake's INSERT waits for the one write lock while a step's transaction holds it.
        self.intake: Intake[Job] = Intake(
            engine, PLATFORM, work=self._work_job, unpack=Job.unpack,
            lease=timedelta(seconds=settings.inbox_lease_seconds),
            enabled=inbox_enabled, shards=shards, takeover_every=takeover_every)
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
        self._dm: dict[str, str] = {}
        self._seen_events: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._forms: collections.OrderedDict[str, Form] = collections.OrderedDict()
        self._listener_tasks: set[asyncio.Future[Any]] = set()
        self._http: aiohttp.ClientSession | None = None
        self.server = SlackServer(self.app, settings, host=host, http_port=http_port,
                                  own_thread=intake_thread, health=lambda: {
                                      "slack": "ok", "queued": self.intake.queued})
        self._register()

    @property
    def stats(self) -> IntakeStats:
        return self.intake.stats

    @property
    def inbox_enabled(self) -> bool:
        return self.intake.enabled

    async def take_over(self) -> int:
        """One takeover pass of the intake (tests; the intake runs them every few seconds)."""
        return await self.intake.take_over()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        for client in (self.client, self.sender.client):
            if client.session is None:
                client.session = self._http
        self.intake.start()
        # HTTP on its own thread: the intake learns that loop before the first request.
        await self.server.start(on_loop=self.intake.received_on)

    @property
    def port(self) -> int | None:
        return self.server.port

    @property
    def _intake_loop(self) -> asyncio.AbstractEventLoop | None:
        return self.server.loop

    @property
    def _thread(self) -> threading.Thread | None:
        return self.server.thread

    async def stop(self) -> None:
        on_thread = self.server.loop is not None
        await self.server.stop(self._finish_listener_tasks)
        self.intake.received_on(None)
        if self._listener_tasks and not on_thread:  # they ran on this loop
            await self._finish_listener_tasks()
        await self.intake.stop()
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _finish_listener_tasks(self, timeout: float = 5.0) -> None:
        """Let modals being opened finish (they are short Web API calls) before the loop ends."""
        if self._listener_tasks:
            await asyncio.wait(list(self._listener_tasks), timeout=timeout)

    async def drain(self, settle: float = 0.05, timeout: float = 120.0) -> None:
        """Wait until every received job is done (tests, benchmarks); a TimeoutError after
        `timeout` seconds says what is still open."""
        await asyncio.sleep(settle)  # a listener may still be running on the intake loop
        deadline = time.monotonic() + timeout
        while self._listener_tasks or self.intake.busy:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self._listener_tasks)} listener tasks open; "
                                   f"{self.intake.describe()}")
            await asyncio.sleep(0.005)
        await self.intake.drain(timeout=max(1.0, deadline - time.monotonic()))

    # -- listeners: record, ack, queue -------------------------------------------------------
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

    async def _acked(self, job: Job, ack: Any) -> None:
        """Record, ack, queue (a retry of a job still in the inbox is acked and dropped)."""
        fresh = await self.intake.take_in(job)
        await ack()
        if fresh:
            self.intake.submit(job)

    async def _event(self, job: Job | None, body: dict[str, Any], request: Any) -> None:
        """Events are acked by bolt when the listener returns: record and queue."""
        if job is None or (job.kind != "home"
                           and not self._first_time(body.get("event_id"), request.headers)):
            return
        if await self.intake.take_in(job):
            self.intake.submit(job)

    async def _on_command(self, ack: Any, body: dict[str, Any]) -> None:
        await self._acked(command_job(body), ack)

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any],
                          request: Any) -> None:
        await self._event(message_job(body, event), body, request)

    async def _on_mention(self, body: dict[str, Any], event: dict[str, Any],
                          request: Any) -> None:
        await self._event(mention_job(body, event), body, request)

    async def _on_home(self, body: dict[str, Any], event: dict[str, Any],
                       request: Any) -> None:
        await self._event(home_job(body, event), body, request)

    async def _on_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await self._acked(button_job(body, action), ack)

    async def _on_form_button(self, ack: Any, body: dict[str, Any],
                              action: dict[str, Any]) -> None:
        await ack()
        # The modal is opened after the ack is answered (views.open is a Slack round trip).
        task = asyncio.ensure_future(self._open_form(body, action))
        self._listener_tasks.add(task)  # drain() waits for it
        task.add_done_callback(self._listener_tasks.discard)

    async def _listener_translator(self, external_id: str) -> Translator:
        """The user's translator from a listener: on the intake thread a plain read (its own
        connection, never blocking the main loop); on the main loop in the engine's turn."""
        if self._intake_loop is not None and asyncio.get_running_loop() is self._intake_loop:
            return self.chat.translator_now(PLATFORM, external_id)
        return await self.chat.translator(PLATFORM, external_id)

    async def _open_form(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Open the modal of a form button (the trigger id is valid for 3 seconds)."""
        user = body.get("user") or {}
        t = await self._listener_translator(f"{team_of(body)}:{user.get('id')}")
        view = form_modal(body, action, self._forms, t)
        if view is None:
            await safe(self.intake_client.chat_postEphemeral(
                channel=(body.get("channel") or {}).get("id") or "", user=user.get("id") or "",
                text=t("That form is no longer available. Please start again.")))
            return
        await safe(self.intake_client.views_open(trigger_id=body.get("trigger_id"), view=view))

    async def _on_form_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]
                              ) -> None:
        user = body.get("user") or {}
        t = await self._listener_translator(f"{team_of(body)}:{user.get('id')}")
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
        await self._acked(form_job(body, view, metadata, values), ack)

    async def _on_form_closed(self, ack: Any) -> None:
        await ack()

    # -- work: a job to an Incoming, the engine's replies to Web API calls -------------------
    async def _work_job(self, job: Job) -> None:
        await self._handle(job)  # looked up on each job (a test may replace _handle)

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
                t = await self._t(job)
                await safe(self.client.chat_postEphemeral(
                    channel=job.channel, user=job.user,
                    text=t("I could not open a direct message with you. Please message me "
                           "directly (Apps → SFA) and try again.")))
                return
            chat_id = dm or job.channel
            text = command_text(from_slack_text(job.text), self.engine.registry.commands)
        elif job.kind == "message":
            text = dm_text(from_slack_text(job.text), self.engine.registry.commands) or None
            if job.files:
                assert self._http is not None
                upload = await download(self._http, self.client.token, job.files[0],
                                        self.settings.max_upload_bytes)
                if upload is None:
                    t = await self._t(job)
                    await safe(post_reply(self.client, chat_id, Reply(t(
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
                    job, await self._t(job))
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
                or (job.kind == "form" and await self.chat.form_moved_on(
                    PLATFORM, job.channel, job.external_id, job.payload))):
            await self._close_message(job, await self._t(job))
        await self.send_replies(chat_id, replies, user=job.user, is_group=job.is_group,
                                team=job.team)
        replies.acknowledge()  # sent: a kept answer is forgotten (a takeover gets nothing)
        if job.kind == "button" and not job.channel:  # the Home tab shows what is left
            await self.publish_home(job.team, job.user)
        if job.kind == "command" and job.channel and job.channel != chat_id \
                and not job.channel.startswith("D"):
            t = await self._t(job)
            await safe(self.client.chat_postEphemeral(
                channel=job.channel, user=job.user,
                text=t("I answered in our direct messages.")))

    async def send_replies(self, channel: str, replies: list[Reply], *, user: str,
                           is_group: bool, team: str = "") -> None:
        """Render the engine's replies: in a channel, ephemeral ones only to the asker (and
        their files to the asker's DM); in a DM, everything as messages."""
        for reply in replies:
            if reply.ask_location:  # Slack has no location sharing: say how instead
                t = await self.chat.translator(PLATFORM, f"{team}:{user}")
                hint = t(SLACK_LOCATION_HINT)
                reply = replace(reply, text=f"{reply.text}\n{hint}" if reply.text else hint)
            target, ephemeral_to = channel, None
            if is_group and reply.ephemeral:
                if reply.attachment is not None:
                    target = await self._dm_channel(user) or channel
                else:
                    ephemeral_to = user
            await safe(post_reply(self.client, target, reply, user=ephemeral_to,
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
        await safe(self.client.chat_update(channel=job.channel, ts=job.message_ts or "",
                                                 text=fallback[:3000], blocks=kept))

    async def _dm_channel(self, user: str) -> str | None:
        if user in self._dm:
            return self._dm[user]
        resp = await safe(self.client.conversations_open(users=user))
        channel = ((resp or {}).get("channel") or {}).get("id") if resp is not None else None
        if channel:
            self._dm[user] = channel
        return channel

    async def _t(self, job: Job) -> Translator:
        """The user's translator for the door's own words."""
        return await self.chat.translator(PLATFORM, job.external_id)

    async def _link_by_email(self, job: Job, chat_id: str) -> None:
        """When enabled, link an unknown Slack user whose profile e-mail matches one user."""
        if not self.settings.slack_link_by_email \
                or not await self.chat.needs_link(PLATFORM, job.external_id):
            return
        info = await safe(self.client.users_info(user=job.user))
        email = (((info or {}).get("user") or {}).get("profile") or {}).get("email") \
            if info is not None else None
        welcome = await self.chat.link_by_email(PLATFORM, job.external_id, chat_id, email)
        if welcome is not None:
            await safe(post_reply(self.client, chat_id, Reply(welcome)))

    async def publish_home(self, team: str, user_id: str) -> None:
        """Publish the App Home tab: the chat side's home view as Slack blocks."""
        view = await self.chat.home(PLATFORM, f"{team}:{user_id}")
        await safe(self.client.views_publish(user_id=user_id, view=home_blocks(view)))


def build_slack_door(engine: Engine, settings: Settings, *, http_port: int | None = None,
                     host: str = "0.0.0.0") -> SlackDoor:
    """The door the composition root runs (Socket Mode with SLACK_APP_TOKEN, else HTTP)."""
    return SlackDoor(engine, settings, http_port=http_port, host=host)


__all__ = [
    "PUSH_EVENT", "Button", "DoorStats", "Job", "SlackDoor", "SlackSender", "api_base_url",
    "build_slack_door", "check_form", "command_text", "dm_text", "escape", "form_from_json",
    "form_to_json", "from_slack_text", "make_client", "render", "unpack_form",
]
