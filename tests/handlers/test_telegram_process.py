"""`sfa run --telegram-webhook URL --port N` in a real process against the fake Bot API:
it registers the webhook with a secret, refuses calls without it, links a user by invite
code, and never prints the token."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.handlers.telegram import SECRET_HEADER
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.telegram_fixtures import fake_fixture  # noqa: F401

pytestmark = pytest.mark.process
SFA = Path(sys.executable).parent / "sfa"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _post(url: str, update: dict, secret: str | None) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with aiohttp.ClientSession() as http, http.post(url, json=update,
                                                          headers=headers) as response:
        return response.status


async def test_sfa_run_in_webhook_mode(tmp_path: Path, fake: FakeTelegram) -> None:
    port = _free_port()
    env = {**os.environ, "SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "TELEGRAM_BOT_TOKEN": fake.token,
           "SFA_TELEGRAM_API_URL": fake.url, "SFA_IN_PROCESS_SCHEDULER": "0",
           "SFA_LOG_LEVEL": "INFO"}
    env.pop("SFA_TEST_DATABASE_URL", None)
    seed = await asyncio.create_subprocess_exec(
        str(SFA), "seed", "--companies", "10", "--contacts", "20", "--base-only", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    assert await seed.wait() == 0
    invite = await asyncio.create_subprocess_exec(
        str(SFA), "users", "invite", "budi", env=env, stdout=asyncio.subprocess.PIPE)
    # With the bot's token set, the deep link to the bot follows the code on the same output.
    code, *link = (await invite.communicate())[0].decode().split()
    assert len(code) == 8 and link == [f"https://t.me/sfa_test_bot?start={code}"]

    proc = await asyncio.create_subprocess_exec(
        str(SFA), "run", "--telegram-webhook", f"https://bot.example.com/tg/{port}",
        "--port", str(port), env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        await fake.wait_for(lambda: fake.webhook, timeout=60)
        assert fake.webhook["url"] == f"https://bot.example.com/tg/{port}"
        secret = fake.webhook["secret_token"]
        assert secret and secret != fake.token and fake.token not in secret
        hook = f"http://127.0.0.1:{port}/tg/{port}"
        user = FakeTelegram.user(8001, "Budi")
        update = {"update_id": 1, **fake.build_text(user, f"/start {code}")}
        assert await _post(hook, update, None) == 403
        assert await _post(hook, update, "not-the-secret") == 403
        assert fake.sent_to(8001) == []
        assert await _post(hook, update, secret) == 200
        [welcome] = await fake.wait_sent(8001, 1, timeout=20)
        assert welcome["text"] == "Welcome, Budi Santoso! Your chat is now linked."
        update = {"update_id": 2, **fake.build_text(user, "/whoami")}
        assert await _post(hook, update, secret) == 200
        sent = await fake.wait_sent(8001, 2, timeout=20)
        assert "Budi Santoso (budi), role rep" in sent[1]["text"]
    finally:
        proc.terminate()
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert fake.token not in err.decode()
    assert fake.token.split(":", 1)[1] not in err.decode()
