"""A minimal Telegram-Bot-API-shaped HTTP sender: `sfa scheduler --sink URL` and the
benchmark use it to deliver to a local fake endpoint (or any service speaking the shape).

POST {url}/sendMessage with JSON {"chat_id", "text", "platform", "buttons"} (the message is
the renderer's, read by its `text` and its button rows' `label`s); the answer is
{"ok": true, "result": {"message_id": N}}, or {"ok": false, "error_code": 429,
"parameters": {"retry_after": S}}; 400/403 mean the chat cannot be reached.
"""

from __future__ import annotations

from typing import Any

from core.ports import DeliveryError, PermanentFailure, RateLimited


class BotApiSink:
    """Delivers every message of one platform name to a Bot-API-shaped HTTP endpoint."""

    def __init__(self, url: str, platform: str = "telegram") -> None:
        self.url = url.rstrip("/")
        self.platform = platform
        self._session: Any = None

    async def _http(self) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=15),
                connector=aiohttp.TCPConnector(limit=64))
        return self._session

    async def deliver(self, chat_id: str, message: Any, key: str | None = None
                      ) -> str | None:
        import aiohttp

        body = {"chat_id": chat_id, "text": message.text, "platform": self.platform,
                "buttons": [[button.label for button in row] for row in message.buttons]}
        http = await self._http()
        try:
            async with http.post(f"{self.url}/sendMessage", json=body) as resp:
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise DeliveryError(f"sink unreachable: {exc.__class__.__name__}") from exc
        if data.get("ok"):
            return str(data.get("result", {}).get("message_id", ""))
        code = int(data.get("error_code") or resp.status)
        if code == 429:
            raise RateLimited(float((data.get("parameters") or {}).get("retry_after", 1)))
        if code in (400, 403):
            raise PermanentFailure(str(data.get("description", code)))
        raise DeliveryError(f"sink answered {code}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
