"""The `sfa` command line: seed, users, invites, db, start-up errors, scripted chat."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "WARNING"}


def run(env: dict[str, str], *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, input=input)
    return result.exit_code, result.stdout, result.stderr


def test_seed_users_and_invite(env: dict[str, str]) -> None:
    code, out, _ = run(env, "seed", "--companies", "20", "--contacts", "40", "--base-only")
    assert code == 0, out
    assert "20 companies, 40 contacts" in out
    code, out, err = run(env, "seed")
    assert code == 1 and "already has users" in err
    code, out, _ = run(env, "users", "list")
    assert "budi" in out and "manager" in out
    code, out, _ = run(env, "users", "add", "joko", "--name", "Joko Widodo", "--role", "rep",
                       "--team", "Java West", "--locale", "id")
    assert code == 0 and "added joko" in out
    code, _, err = run(env, "users", "add", "joko", "--name", "J", "--role", "rep")
    assert code == 2 and "user.exists" in err
    code, _, err = run(env, "users", "add", "x1", "--name", "X", "--role", "rep",
                       "--team", "Nowhere")
    assert code == 2 and "no team named" in err
    code, out, _ = run(env, "users", "invite", "joko")
    assert code == 0 and len(out.strip()) == 8
    code, _, err = run(env, "users", "invite", "nobody")
    assert code == 2 and "no user" in err


def test_db_upgrade_and_current(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade")[0] == 0
    code, out, _ = run(env, "db", "current")
    assert code == 0 and "up to date" in out


def test_unreachable_database_is_one_clear_line_with_masked_password(tmp_path: Path) -> None:
    env = {"SFA_DATABASE_URL": "postgresql+psycopg://sales:s3cretpw@127.0.0.1:1/nowhere"}
    code, out, err = run(env, "users", "list")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: Cannot connect to database postgresql+psycopg://sales:***@127.0.0.1:1/nowhere: ")
    assert "s3cretpw" not in out + err
    code, _, err = run({"SFA_DATABASE_URL": "nonsense://"}, "users", "list")
    assert code == 2 and err.startswith("error: ")


def test_chat_script_unknown_user_and_missing_file(env: dict[str, str]) -> None:
    run(env, "seed", "--base-only", "--companies", "10", "--contacts", "10")
    code, _, err = run(env, "chat", "--as", "ghost", "--script", "-", input="/help\n")
    assert code == 2 and "no user with login 'ghost'" in err
    code, _, err = run(env, "chat", "--script", "/no/such/file")
    assert code == 2 and "no script file" in err


@pytest.mark.process
def test_scripted_conversation_through_the_real_binary(env: dict[str, str]) -> None:
    """`sfa chat --script` in a real process prints the whole transcript."""
    sfa = Path(sys.executable).parent / "sfa"
    full_env = {**os.environ, **env}
    subprocess.run([str(sfa), "seed", "--base-only"], env=full_env, check=True,
                   capture_output=True, timeout=120)
    proc = subprocess.run([str(sfa), "chat", "--as", "budi", "--script",
                           str(SCENARIOS / "foundation.txt")], env=full_env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "budi: /help" in out
    assert "/whoami — Show who this chat is linked to" in out
    assert "You are Budi Santoso (budi), role rep, team Java West" in out
    assert "Unknown command /frobnicate" in out
    assert "Bahasa diubah ke Bahasa Indonesia." in out
    assert "Tidak ada yang perlu dibatalkan." in out
    assert out.rstrip().endswith("bot: Nothing to cancel.")
