"""Slack's Web API: the clients, posting one reply (files by the external upload), and the
scheduler's sender (core.ports.MessageSender) that maps Slack's refusals to the outbox's."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversations.messages import Form, IncomingFile, Reply
from bot.handlers.slack_blocks import render
from core.models import Platform
from core.ports import DeliveryError, PermanentFailure, RateLimited
from core.settings import Settings

log = logging.getLogger("bot.handlers.slack")

PLATFORM = Platform.SLACK.value
DEFAULT_API_URL = "https://slack.com/api/"
PUSH_EVENT = "sfa_push"  # the metadata event type of scheduled pushes (reminders, alerts)
_PERMANENT_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "account_inactive",
    "user_not_found", "user_disabled", "cannot_dm_bot", "invalid_auth", "not_authed",
    "token_revoked", "missing_scope",
})


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

    async def deliver(self, chat_id: str, message: Reply, key: str | None = None
                      ) -> str | None:
        metadata = ({"event_type": PUSH_EVENT, "event_payload": {"key": key}}
                    if key else None)
        try:
            return await post_reply(self.client, chat_id, message, metadata=metadata)
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


async def safe(call: Any) -> Any:
    """Await a Web API call; a Slack error or an unreachable Slack is logged, None returned."""
    try:
        return await call
    except SlackApiError as exc:
        data = exc.response.data
        log.warning("slack API error: %s", data.get("error") if isinstance(data, dict)
                    else f"HTTP {exc.response.status_code}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("slack API unreachable: %s", exc.__class__.__name__)
    return None


async def download(http: aiohttp.ClientSession, token: str | None, info: dict[str, Any],
                   limit: int) -> IncomingFile | None:
    """Fetch an uploaded file (bot token); files over `limit` bytes are passed on without
    bytes so the engine answers with the size limit. None when Slack would not give it."""
    size = int(info.get("size") or 0)
    name = info.get("name") or "file"
    mime = info.get("mimetype") or "application/octet-stream"
    url = info.get("url_private_download") or info.get("url_private")
    if size > limit or not url:
        return IncomingFile(name=name, mime=mime, size=size)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with http.get(url, headers=headers) as resp:
            if resp.status != 200:
                return None
            data = await resp.content.read(limit + 1)
    except (aiohttp.ClientError, TimeoutError):
        return None
    return IncomingFile(name=name, mime=mime, size=max(size, len(data)), data=data)
