"""Drive the real Slack door over HTTP with correctly signed requests (tests, benchmark)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.handlers.fake_slack import TEAM

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test"
_ids = itertools.count(1)


def sign(body: str, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SignedSlack:
    """Posts what Slack would post to the door's /slack/events, signed."""

    def __init__(self, http: aiohttp.ClientSession, url: str,
                 secret: str = SIGNING_SECRET) -> None:
        self.http = http
        self.url = url
        self.secret = secret

    async def post(self, body: str, content_type: str, *, timestamp: int | None = None,
                   signature: str | None = None, headers: dict[str, str] | None = None
                   ) -> tuple[int, str]:
        ts = int(time.time()) if timestamp is None else timestamp
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature or sign(body, ts, self.secret),
            **(headers or {}),
        }
        async with self.http.post(self.url, data=body.encode(), headers=all_headers) as resp:
            return resp.status, await resp.text()

    async def command(self, user: str, text: str, *, channel: str | None = None,
                      **kw: Any) -> tuple[int, str]:
        body = urlencode({
            "token": "x", "team_id": TEAM, "team_domain": "demo", "user_id": user,
            "user_name": user.lower(), "channel_id": channel or f"D{user}",
            "command": "/sfa", "text": text, "trigger_id": f"tr{next(_ids)}",
            "response_url": "https://hooks.invalid/r", "api_app_id": "A1",
        })
        return await self.post(body, "application/x-www-form-urlencoded", **kw)

    async def event(self, event: dict[str, Any], *, event_id: str | None = None,
                    retry: int | None = None, **kw: Any) -> tuple[int, str]:
        body = json.dumps({
            "token": "x", "team_id": TEAM, "api_app_id": "A1", "type": "event_callback",
            "event_id": event_id or f"Ev{next(_ids)}", "event_time": int(time.time()),
            "event": event,
        })
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} \
            if retry else None
        return await self.post(body, "application/json", headers=headers, **kw)

    async def dm(self, user: str, text: str, **kw: Any) -> tuple[int, str]:
        event = {"type": "message", "channel_type": "im", "channel": f"D{user}", "user": user,
                 "text": text, "ts": f"{time.time():.6f}", "team": TEAM}
        event.update(kw.pop("extra", {}))
        return await self.event(event, **kw)

    async def interaction(self, payload: dict[str, Any], **kw: Any) -> tuple[int, str]:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded", **kw)

    async def press(self, user: str, button: dict[str, Any], *, channel: str,
                    message_ts: str, blocks: list[dict[str, Any]] | None = None,
                    **kw: Any) -> tuple[int, str]:
        return await self.interaction({
            "type": "block_actions", "team": {"id": TEAM},
            "user": {"id": user, "team_id": TEAM}, "api_app_id": "A1",
            "trigger_id": f"tr{next(_ids)}", "channel": {"id": channel},
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "message": {"ts": message_ts, "blocks": blocks or []},
            "response_url": "https://hooks.invalid/a",
            "actions": [{**button, "block_id": "b", "type": "button",
                         "action_ts": f"{time.time():.6f}{next(_ids)}"}],
        }, **kw)

    async def submit(self, user: str, view: dict[str, Any], values: dict[str, Any],
                     **kw: Any) -> tuple[int, str]:
        return await self.interaction({
            "type": "view_submission", "team": {"id": TEAM},
            "user": {"id": user, "team_id": TEAM}, "api_app_id": "A1",
            "view": {**view, "id": view.get("id") or f"V{next(_ids)}",
                     "hash": f"h{next(_ids)}", "state": {"values": values}},
        }, **kw)


class SlackUser:
    """One Slack user talking to the door: DMs, /sfa, button presses by label (tests)."""

    def __init__(self, slack: SignedSlack, fake: Any, door: Any, user: str) -> None:
        self.slack, self.fake, self.door, self.user = slack, fake, door, user

    @property
    def dm(self) -> str:
        return f"D{self.user}"

    async def _run(self, send: Any) -> str:
        mark = len(self.fake.calls)
        status, _ = await send
        assert status == 200
        await self.door.drain()
        new = self.fake.calls[mark:]
        return "\n".join(c.text for c in new if c.method in (
            "chat.postMessage", "chat.postEphemeral", "files.completeUploadExternal"))

    async def say(self, text: str) -> str:
        return await self._run(self.slack.dm(self.user, text))

    async def cmd(self, text: str) -> str:
        return await self._run(self.slack.command(self.user, text))

    def find(self, label: str, channel: str | None = None) -> tuple[Any, dict[str, Any]]:
        """The latest message in `channel` (default: the DM) with a button labelled `label`."""
        channel = channel or self.dm
        for call in reversed(self.fake.of("chat.postMessage")):
            if call.args.get("channel") != channel:
                continue
            for button in call.buttons():
                text = button["text"]["text"]
                if text == label or text.lower().startswith(label.lower()):
                    return call, button
        raise AssertionError(f"no button {label!r} in {channel}")

    async def press(self, label: str, channel: str | None = None) -> str:
        call, button = self.find(label, channel)
        return await self._run(self.slack.press(
            self.user, button, channel=call.args["channel"], message_ts=call.result["ts"],
            blocks=call.blocks()))
