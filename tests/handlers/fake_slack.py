"""A local mock of the Slack Web API (aiohttp on 127.0.0.1, random port) for the door's tests.

It answers the methods the door uses, records every call (method, merged arguments), serves
uploaded and downloadable files, and can answer 429 (with Retry-After) for the next N calls
of a method, or take its time over a method (a call whose client is gone meanwhile, e.g. a
killed worker, is not recorded: it never reached Slack).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = "UBOT"
TEAM = "T1"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    result: dict[str, Any] = field(default_factory=dict)

    def blocks(self) -> list[dict[str, Any]]:
        value = self.args.get("blocks") or []
        return json.loads(value) if isinstance(value, str) else list(value)

    def buttons(self) -> list[dict[str, Any]]:
        return [e for b in self.blocks() if b.get("type") == "actions" for e in b["elements"]]

    @property
    def text(self) -> str:
        return str(self.args.get("text") or self.args.get("initial_comment") or "")


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    emails: dict[str, str] = field(default_factory=dict)  # Slack user id -> profile e-mail
    uploads: dict[str, bytes] = field(default_factory=dict)  # file id -> bytes uploaded
    downloads: dict[str, bytes] = field(default_factory=dict)  # name -> bytes served
    rate_limit: dict[str, int] = field(default_factory=dict)  # method -> 429s still to send
    retry_after: int = 1
    fail_channels: dict[str, str] = field(default_factory=dict)  # channel -> error to answer
    fail_methods: dict[str, str] = field(default_factory=dict)  # method -> error to answer
    delay: dict[str, float] = field(default_factory=dict)  # method -> seconds before it runs
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> posts
    socket_acks: list[dict[str, Any]] = field(default_factory=list)  # Socket Mode acks
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files/{name}", self._download)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- queries for assertions --------------------------------------------------------------
    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posted(self) -> list[Call]:
        return self.of("chat.postMessage") + self.of("chat.postEphemeral")

    def texts(self, method: str = "chat.postMessage") -> str:
        return "\n".join(c.text for c in self.of(method))

    def last_buttons(self) -> list[dict[str, Any]]:
        for call in reversed(self.of("chat.postMessage")):
            if call.buttons():
                return call.buttons()
        return []

    def clear(self) -> None:
        self.calls.clear()

    # -- handlers ----------------------------------------------------------------------------
    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                args.update(body)
        elif request.can_read_body:
            args.update(dict(await request.post()))
        for key in ("blocks", "view", "files", "metadata"):
            if isinstance(args.get(key), str):
                with contextlib.suppress(ValueError):
                    args[key] = json.loads(args[key])
        return args

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        if self.delay.get(method):
            await asyncio.sleep(self.delay[method])
            if request.transport is None or request.transport.is_closing():
                return web.Response(status=499)  # the caller is gone: nothing happened
        if self.rate_limit.get(method, 0) > 0:
            self.rate_limit[method] -= 1
            self.calls.append(Call(method + ":429", args))
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(self.retry_after)})
        call = Call(method, args)
        self.calls.append(call)
        error = self.fail_channels.get(str(args.get("channel") or args.get("channel_id"))) or \
            self.fail_methods.get(method)
        if error:
            return web.json_response({"ok": False, "error": error})
        call.result = self._answer(method, args)
        return web.json_response(call.result)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        ts = f"{int(time.time())}.{next(self._ts):06d}"  # real seconds: `oldest` filters
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": "BBOT", "team_id": TEAM,
                    "user": "sfa", "team": "Demo", "url": "https://demo.slack.com/"}
        if method == "chat.postMessage":
            channel = str(args.get("channel") or "")
            message = {"type": "message", "text": args.get("text"), "ts": ts}
            if isinstance(args.get("metadata"), dict):
                message["metadata"] = args["metadata"]
            # A post to a user id lands in the bot's DM with them (as conversations.open says).
            self.history.setdefault("D" + channel if channel.startswith("U") else channel,
                                    []).append(message)
            return {"ok": True, "channel": args.get("channel"), "ts": ts,
                    "message": {"text": args.get("text"), "ts": ts}}
        if method == "conversations.history":
            oldest = float(args.get("oldest") or 0)
            with_meta = str(args.get("include_all_metadata")).lower() in ("1", "true")
            found = [m if with_meta else {k: v for k, v in m.items() if k != "metadata"}
                     for m in self.history.get(str(args.get("channel") or ""), [])
                     if float(m["ts"]) > oldest]
            return {"ok": True, "messages": list(reversed(found)), "has_more": False,
                    "response_metadata": {"next_cursor": ""}}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method in ("views.open", "views.update", "views.publish"):
            return {"ok": True, "view": {"id": f"V{next(self._ts)}", "hash": ts,
                                         **(args.get("view") or {})}}
        if method == "conversations.open":
            users = str(args.get("users") or "")
            return {"ok": True, "channel": {"id": "D" + users.split(",")[0]}}
        if method == "users.info":
            user = str(args.get("user") or "")
            return {"ok": True, "user": {"id": user, "team_id": TEAM, "profile": {
                "email": self.emails.get(user, ""), "real_name": user}}}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts)}"
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = args.get("files") or []
            return {"ok": True, "files": [{"id": f.get("id"), "title": f.get("title")}
                                          for f in files]}
        return {"ok": False, "error": "unknown_method"}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello, then read the client's acks ({"envelope_id": ...})."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        async for message in ws:
            if message.type == 1:  # text
                with contextlib.suppress(ValueError):
                    self.socket_acks.append(json.loads(message.data))
        self._sockets.remove(ws)
        return ws

    async def push(self, kind: str, payload: dict[str, Any], envelope_id: str) -> None:
        """Send one Socket Mode envelope to every connected client."""
        for ws in self._sockets:
            await ws.send_str(json.dumps({"envelope_id": envelope_id, "type": kind,
                                          "payload": payload, "accepts_response_payload":
                                          kind != "events_api"}))

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        self.uploads[file_id] = await request.read()
        self.calls.append(Call("upload", {"file_id": file_id}))
        return web.Response(text="OK - 200")

    async def _download(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.calls.append(Call("download", {"name": name}))
        if request.headers.get("Authorization") != "Bearer xoxb-test":
            return web.Response(status=403)
        if name not in self.downloads:
            return web.Response(status=404)
        return web.Response(body=self.downloads[name])
