"""The deployment files in deploy/ are real and agree with the command line: every command a
systemd unit, the Procfile, the Dockerfile or compose.yaml runs is parsed by click's own
parser against `bot.cli.main` (an unknown command or option, or a bad value, fails), and
every health check asks /healthz on the ops port its process serves. Docker itself cannot
run here: the files are checked, not started."""

from __future__ import annotations

import configparser
import json
import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from bot.cli import main

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SAMPLES = {"PUBLIC_URL": "https://bot.example.com", "PORT": "8080", "SLACK_PORT": "3000",
           "OPS_PORT": "9100", "POSTGRES_PASSWORD": "pw"}
_VAR = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}|\$(\w+)")


def expand(text: str, instance: str = "8081") -> str:
    """Environment variables (also compose's ${X:?msg} / ${X:-default}) and systemd's %i."""
    text = _VAR.sub(lambda m: SAMPLES[m[1] or m[2]], text)
    return text.replace("%i", instance)


def parse_sfa(args: list[str]) -> list[str]:
    """Parse `sfa ARGS` with click down to the last subcommand, without running anything;
    returns the command path (e.g. ["db", "upgrade"]). Raises click's UsageError (unknown
    command or option, missing or bad value) like the real command line would."""
    ctx = main.make_context("sfa", list(args))
    path: list[str] = []
    command: click.Command = main
    while isinstance(command, click.Group):
        # A group's context keeps the subcommand and its words unparsed (click >= 8.2 under
        # a private name; the public one is deprecated).
        unparsed = ctx._protected_args if hasattr(ctx, "_protected_args") \
            else ctx.protected_args
        rest = [*unparsed, *ctx.args]
        if not rest:
            raise click.UsageError(f"`sfa {' '.join(args)}` names no command")
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None and name is not None
        path.append(name)
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return path


def unit_commands() -> dict[str, list[str]]:
    found = {}
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        text = unit.read_text().replace("\\\n", " ")
        parser.read_string(text)
        exec_start = parser["Service"]["ExecStart"]
        instance = "1" if "scheduler" in unit.name else "8081"  # sfa-scheduler@1, worker@8081
        words = shlex.split(expand(exec_start, instance))
        assert words[0] == "/srv/sfa/.venv/bin/sfa", (unit.name, words[0])
        found[unit.name] = words[1:]
        assert parser["Service"]["EnvironmentFile"] == "/etc/sfa/env"
        assert parser["Service"]["User"] == "sfa"
    return found


def procfile_commands() -> dict[str, list[str]]:
    found = {}
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        words = shlex.split(expand(command))
        assert words[0] == "sfa", line
        found[name.strip()] = words[1:]
    return found


def dockerfile() -> dict[str, str]:
    instructions: dict[str, str] = {}
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            instructions[keyword.upper()] = rest.strip()  # the last one counts, as in Docker
    return instructions


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_systemd_units_run_real_commands() -> None:
    commands = unit_commands()
    assert set(commands) >= {"sfa-worker@.service", "sfa-scheduler@.service",
                             "sfa-migrate.service", "sfa-slack@.service"}
    paths = {name: parse_sfa(args) for name, args in commands.items()}
    assert paths["sfa-migrate.service"] == ["db", "upgrade"]
    assert paths["sfa-worker@.service"] == ["run"] and paths["sfa-scheduler@.service"] == [
        "scheduler"]
    worker = commands["sfa-worker@.service"]
    assert "--no-scheduler" in worker and "--ops-port" in worker
    assert worker[worker.index("--ops-port") + 1] == "18081"  # 1%i for sfa-worker@8081


def test_procfile_runs_real_commands() -> None:
    commands = procfile_commands()
    assert set(commands) == {"release", "web", "slack", "scheduler"}
    for args in commands.values():
        parse_sfa(args)
    assert parse_sfa(commands["release"]) == ["db", "upgrade"]


def test_dockerfile_runs_sfa_and_checks_healthz() -> None:
    instructions = dockerfile()
    entrypoint = json.loads(instructions["ENTRYPOINT"])
    command = json.loads(instructions["CMD"])
    assert entrypoint == ["sfa"]
    assert parse_sfa(command) == ["run"]
    ops_port = command[command.index("--ops-port") + 1]
    healthcheck = instructions["HEALTHCHECK"]
    assert "/healthz" in healthcheck and f"'{ops_port}'" in healthcheck
    assert instructions["USER"] == "sfa"
    assert "pip install -e ." in instructions["RUN"]  # the migrations stay readable


def test_compose_runs_worker_scheduler_and_postgresql_with_health_checks() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "migrate", "worker", "scheduler"}
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    paths = {}
    for name in ("migrate", "worker", "scheduler"):
        service = services[name]
        assert service["image"] == "sfa-assistant" and service["build"]["dockerfile"] == \
            "deploy/Dockerfile"
        args = [expand(word) for word in service["command"]]
        paths[name] = parse_sfa(args)
        env = service["environment"]
        assert env["SFA_DATABASE_URL"].startswith("postgresql+psycopg://sfa:")
        assert "@db:5432/sfa" in env["SFA_DATABASE_URL"]
        if name == "migrate":
            assert service["depends_on"]["db"]["condition"] == "service_healthy"
            continue
        ops_port = args[args.index("--ops-port") + 1]
        probe = " ".join(service["healthcheck"]["test"])
        assert f"127.0.0.1:{ops_port}/healthz" in probe, (name, probe)
        assert env["SFA_OPS_PORT"] == ops_port
        assert service["depends_on"]["migrate"]["condition"] == \
            "service_completed_successfully"
    assert paths == {"migrate": ["db", "upgrade"], "worker": ["run"],
                     "scheduler": ["scheduler"]}
    assert "--no-scheduler" in services["worker"]["command"]


@pytest.mark.parametrize("args", [["run", "--no-such-option"], ["scheduler", "--ops-port", "0"],
                                  ["db", "downgrade"], ["run", "--port"]])
def test_the_check_refuses_what_the_cli_would(args: list[str]) -> None:
    with pytest.raises(click.UsageError):
        parse_sfa(args)
