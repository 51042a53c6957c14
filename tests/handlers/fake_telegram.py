"""A local fake Telegram Bot API server (aiohttp on 127.0.0.1, a random port).

It speaks enough of the Bot API for python-telegram-bot's real HTTP stack: getMe, getUpdates
(long polling), setWebhook, deleteWebhook, setMyCommands, sendMessage, editMessageText,
editMessageReplyMarkup, answerCallbackQuery, sendDocument, sendPhoto, sendContact, getFile
and file downloads. It records every call, keeps the messages it "sent" (so a test can press
their buttons) and can be told to answer a method with 429 / 500 / 403 / 400.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "987654321:AAFakeTokenForTests_xyz-0123456789abc"
BOT_ID = 987654321
# Parameters PTB sends as plain strings (everything else is JSON-encoded).
_STRING_KEYS = {"text", "caption", "callback_query_id", "url", "secret_token", "file_id",
                "parse_mode", "language_code", "first_name", "last_name", "phone_number",
                "vcard", "description"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    status: int = 200


@dataclass
class Failure:
    status: int
    retry_after: int | None = None
    description: str = ""


class FakeTelegram:
    """The fake server; `await start()`, then point the bot at `url`."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, int], dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.webhook: dict[str, Any] | None = None
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.failures: dict[str, list[Failure]] = defaultdict(list)
        self.record_updates = True
        self.requests: Counter[str] = Counter()  # every API call by method (getUpdates too)
        self.sent_ok = 0  # sendMessage calls answered 200
        self._updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.pushed_at: dict[int, float] = {}  # update id -> when it became available
        self._pushed: dict[int, dict[str, Any]] = {}
        self._pacer: asyncio.Task[None] | None = None

    # -- server -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._download)
        app.router.add_post("/_test/schedule", self._schedule)
        app.router.add_get("/_test/stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- test controls ---------------------------------------------------------------------
    def fail(self, method: str, status: int, *, times: int = 1, retry_after: int | None = None,
             description: str = "") -> None:
        """Answer the next `times` calls of `method` with an error."""
        self.failures[method].extend(
            Failure(status, retry_after, description) for _ in range(times))

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent_to(self, chat_id: int | str) -> list[dict[str, Any]]:
        """Messages sent to a chat, oldest first (text, document, photo, contact)."""
        return [m for (chat, _), m in sorted(self.messages.items(), key=lambda kv: kv[0][1])
                if chat == str(chat_id)]

    def texts_to(self, chat_id: int | str) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.sent_to(chat_id)]

    def last_with_buttons(self, chat_id: int | str) -> dict[str, Any]:
        for message in reversed(self.sent_to(chat_id)):
            if message.get("reply_markup", {}).get("inline_keyboard"):
                return message
        raise AssertionError(f"no message with buttons in chat {chat_id}")

    async def wait_for(self, predicate: Any, timeout: float = 5.0) -> Any:
        """Wait until `predicate()` is truthy; return its value (or fail the test)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the bot")
            await asyncio.sleep(0.01)

    async def wait_sent(self, chat_id: int | str, count: int, timeout: float = 5.0
                        ) -> list[dict[str, Any]]:
        """Wait until `count` messages went to the chat; return them."""
        await self.wait_for(lambda: len(self.sent_to(chat_id)) >= count, timeout)
        return self.sent_to(chat_id)

    # -- updates the "users" send -------------------------------------------------------------
    @staticmethod
    def user(user_id: int, first_name: str = "Test", language_code: str = "en"
             ) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name,
                "language_code": language_code}

    @staticmethod
    def private_chat(user: dict[str, Any]) -> dict[str, Any]:
        return {"id": user["id"], "type": "private", "first_name": user["first_name"]}

    @staticmethod
    def group_chat(chat_id: int, title: str = "Team") -> dict[str, Any]:
        return {"id": chat_id, "type": "supergroup", "title": title}

    def push(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        update = {"update_id": update_id, **update}
        self._updates.append(update)
        self._pushed[update_id] = update
        self.pushed_at[update_id] = time.monotonic()
        self._new_update.set()
        return update_id

    # -- benchmark controls (when the server runs in its own process) --------------------------
    async def _schedule(self, request: web.Request) -> web.Response:
        """Push text updates: all at once (rate 0) or paced at `rate` per second."""
        body = await request.json()
        items = [(self.user(int(uid), f"U{uid}"), text) for uid, text in body["messages"]]
        rate = float(body.get("rate") or 0)
        self.record_updates = False
        if rate <= 0:
            ids = [self.send_text(user, text) for user, text in items]
            return web.json_response({"ids": ids})

        async def pace() -> None:
            start = time.monotonic()
            for i, (user, text) in enumerate(items):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                self.send_text(user, text)

        self._pacer = asyncio.get_running_loop().create_task(pace())
        return web.json_response({"scheduled": len(items)})

    async def _stats(self, request: web.Request) -> web.Response:
        """What was pushed when, and every successful send: (chat, at); with ?summary=1
        only the counts (cheap to poll: the benchmark's bot shares a process with its
        poller)."""
        if request.query.get("summary"):
            return web.json_response({"sent": self.sent_ok, "now": time.monotonic(),
                                      "cpu": time.process_time(), "requests": self.requests})
        sends = [(str(c.params.get("chat_id")), c.at) for c in self.calls
                 if c.method == "sendMessage" and c.status == 200]
        pushes = [(str(u["message"]["chat"]["id"]), at) for u_id, at in self.pushed_at.items()
                  for u in [self._pushed.get(u_id)] if u]
        return web.json_response({"sends": sends, "pushes": pushes, "now": time.monotonic(),
                                  "cpu": time.process_time(), "requests": self.requests})

    def _message(self, user: dict[str, Any], chat: dict[str, Any] | None, **body: Any
                 ) -> dict[str, Any]:
        return {"message_id": next(self._message_ids), "date": int(time.time()),
                "chat": chat or self.private_chat(user), "from": user, **body}

    def build_text(self, user: dict[str, Any], text: str, chat: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
        body: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            body["entities"] = [{"type": "bot_command", "offset": 0,
                                 "length": len(text.split()[0])}]
        return {"message": self._message(user, chat, **body)}

    def send_text(self, user: dict[str, Any], text: str, chat: dict[str, Any] | None = None
                  ) -> int:
        return self.push(self.build_text(user, text, chat))

    def press(self, user: dict[str, Any], message: dict[str, Any], label: str) -> int:
        """Press the button labelled `label` (prefix match) on a message the bot sent."""
        buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
        matches = [b for b in buttons if b["text"] == label] or [
            b for b in buttons if b["text"].lower().startswith(label.lower())]
        if not matches:
            raise AssertionError(f"no button {label!r} in {[b['text'] for b in buttons]}")
        return self.press_data(user, message, matches[0]["callback_data"])

    def press_data(self, user: dict[str, Any], message: dict[str, Any], data: str) -> int:
        return self.push({"callback_query": {
            "id": str(next(self._ids)), "from": user, "message": message,
            "chat_instance": "ci", "data": data}})

    def send_location(self, user: dict[str, Any], lat: float, lon: float) -> int:
        return self.push({"message": self._message(
            user, None, location={"latitude": lat, "longitude": lon})})

    def send_live_location(self, user: dict[str, Any], lat: float, lon: float,
                           live_period: int = 900) -> tuple[int, dict[str, Any]]:
        """Start sharing a live location: a location message with a live period (returned,
        to move it with `move_live_location`)."""
        message = self._message(user, None, location={
            "latitude": lat, "longitude": lon, "live_period": live_period})
        return self.push({"message": message}), message

    def move_live_location(self, message: dict[str, Any], lat: float, lon: float) -> int:
        """The live location moved: Telegram sends the same message, edited."""
        moved = {**message, "edit_date": int(time.time()), "location": {
            **message["location"], "latitude": lat, "longitude": lon}}
        return self.push({"edited_message": moved})

    def send_contact(self, user: dict[str, Any], phone: str, first: str, last: str = "") -> int:
        return self.push({"message": self._message(user, None, contact={
            "phone_number": phone, "first_name": first, "last_name": last})})

    def _file(self, data: bytes, size: int | None) -> dict[str, Any]:
        n = next(self._ids)
        file_id = f"file-{n}"
        self.files[file_id] = data
        return {"file_id": file_id, "file_unique_id": f"u{n}",
                "file_size": len(data) if size is None else size}

    def send_document(self, user: dict[str, Any], name: str, data: bytes,
                      mime: str = "application/octet-stream", *, size: int | None = None,
                      caption: str | None = None) -> int:
        doc = {**self._file(data, size), "file_name": name, "mime_type": mime}
        extra = {"caption": caption} if caption else {}
        return self.push({"message": self._message(user, None, document=doc, **extra)})

    def send_photo(self, user: dict[str, Any], data: bytes, *, size: int | None = None) -> int:
        photo = {**self._file(data, size), "width": 640, "height": 480}
        small = {**self._file(data[:10], 10), "width": 90, "height": 60}
        return self.push({"message": self._message(user, None, photo=[small, photo])})

    # -- the API ------------------------------------------------------------------------------
    def _ok(self, result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    def _error(self, status: int, description: str, retry_after: int | None = None
               ) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=status)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        if request.method == "GET":
            raw: Any = request.query
        else:
            raw = await request.post()
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, web.FileField):
                params[key] = {"filename": value.filename, "content_type": value.content_type,
                               "data": value.file.read()}
            elif key in _STRING_KEYS:
                params[key] = value
            else:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    params[key] = value
        # sendDocument/sendPhoto may attach the file under its own field name.
        for key, value in list(params.items()):
            if isinstance(value, str) and value.startswith("attach://"):
                params[key] = params.get(value[len("attach://"):], value)
        return params

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        self.requests[method] += 1
        params = await self._params(request)
        call = Call(method, params)
        if method != "getUpdates" or self.record_updates:
            self.calls.append(call)
        queued = self.failures.get(method)
        if queued:
            failure = queued.pop(0)
            call.status = failure.status
            default = {429: f"Too Many Requests: retry after {failure.retry_after}",
                       500: "Internal Server Error", 403: "Forbidden: bot was blocked by the user",
                       400: "Bad Request: chat not found"}.get(failure.status, "Error")
            return self._error(failure.status, failure.description or default,
                               failure.retry_after)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        response: web.Response = await handler(params)
        if method == "sendMessage" and response.status == 200:
            self.sent_ok += 1
        return response

    async def _m_getMe(self, params: dict[str, Any]) -> web.Response:
        return self._ok({"id": BOT_ID, "is_bot": True, "first_name": "SFA",
                         "username": "sfa_test_bot", "can_join_groups": True,
                         "can_read_all_group_messages": False, "supports_inline_queries": False})

    async def _m_getUpdates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while not self._updates and time.monotonic() < deadline:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return self._ok(self._updates[:limit])

    async def _m_setWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = params
        return self._ok(True)

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = None
        return self._ok(True)

    async def _m_setMyCommands(self, params: dict[str, Any]) -> web.Response:
        scope = params.get("scope") or {"type": "default"}
        key = (json.dumps(scope, sort_keys=True), params.get("language_code") or "")
        self.commands[key] = params.get("commands") or []
        return self._ok(True)

    def _store(self, chat_id: Any, **body: Any) -> dict[str, Any]:
        chat = str(chat_id)
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": {"id": int(chat), "type": "private" if int(chat) > 0
                            else "supergroup"},
                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "SFA"}, **body}
        self.messages[(chat, message["message_id"])] = message
        return message

    @staticmethod
    def _markup(params: dict[str, Any]) -> dict[str, Any]:
        markup = params.get("reply_markup")
        return {"reply_markup": markup} if markup else {}

    async def _m_sendMessage(self, params: dict[str, Any]) -> web.Response:
        text = params.get("text") or ""
        if not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if len(text) > 4096 + 2000:
            return self._error(400, "Bad Request: message is too long")
        message = self._store(params["chat_id"], text=text, **self._markup(params))
        if "inline_keyboard" not in message.get("reply_markup", {"inline_keyboard": 1}):
            # Telegram's Message carries inline keyboards only (a reply keyboard or its
            # removal is kept here for the tests, not returned)
            message = {k: v for k, v in message.items() if k != "reply_markup"}
        return self._ok(message)

    def _find(self, params: dict[str, Any]) -> dict[str, Any] | None:
        return self.messages.get((str(params.get("chat_id")), int(params.get("message_id", 0))))

    async def _m_editMessageText(self, params: dict[str, Any]) -> web.Response:
        message = self._find(params)
        if message is None:
            return self._error(400, "Bad Request: message to edit not found")
        message["text"] = params.get("text") or ""
        message.pop("reply_markup", None)
        message.update(self._markup(params))
        message["edited"] = True
        return self._ok(message)

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]
                                        ) -> web.Response:
        message = self._find(params)
        if message is None:
            return self._error(400, "Bad Request: message to edit not found")
        message.pop("reply_markup", None)
        message.update(self._markup(params))
        message["edited"] = True
        return self._ok(message)

    async def _m_answerCallbackQuery(self, params: dict[str, Any]
                                     ) -> web.Response:
        return self._ok(True)

    def _upload(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        value = params.get(key)
        if not isinstance(value, dict) or "data" not in value:
            raise ValueError(f"no uploaded file in {key}")
        return value

    async def _m_sendDocument(self, params: dict[str, Any]) -> web.Response:
        upload = self._upload(params, "document")
        doc = {**self._file(upload["data"], None), "file_name": upload["filename"],
               "mime_type": upload["content_type"]}
        extra = {"caption": params["caption"]} if params.get("caption") else {}
        return self._ok(self._store(params["chat_id"], document=doc, **extra,
                                    **self._markup(params)))

    async def _m_sendPhoto(self, params: dict[str, Any]) -> web.Response:
        upload = self._upload(params, "photo")
        photo = {**self._file(upload["data"], None), "width": 800, "height": 600}
        extra = {"caption": params["caption"]} if params.get("caption") else {}
        return self._ok(self._store(params["chat_id"], photo=[photo], **extra,
                                    **self._markup(params)))

    async def _m_sendContact(self, params: dict[str, Any]) -> web.Response:
        contact = {k: params[k] for k in ("phone_number", "first_name", "last_name", "vcard")
                   if params.get(k)}
        return self._ok(self._store(params["chat_id"], contact=contact, **self._markup(params)))

    async def _m_sendChatAction(self, params: dict[str, Any]) -> web.Response:
        if params.get("action") not in ("typing", "upload_photo", "upload_document",
                                         "find_location", "record_video", "upload_video"):
            return self._error(400, "Bad Request: wrong parameter action in request")
        return self._ok(True)

    async def _m_getFile(self, params: dict[str, Any]) -> web.Response:
        file_id = params.get("file_id", "")
        if file_id not in self.files:
            return self._error(400, "Bad Request: invalid file_id")
        return self._ok({"file_id": file_id, "file_unique_id": f"u-{file_id}",
                         "file_size": len(self.files[file_id]),
                         "file_path": f"documents/{file_id}"})

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        self.calls.append(Call("download", {"path": path}))
        file_id = path.rsplit("/", 1)[-1]
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id])


async def _serve_forever() -> None:
    server = FakeTelegram()
    await server.start()
    print(server.port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":  # a standalone fake (benchmarks): prints its port, runs until killed
    asyncio.run(_serve_forever())
