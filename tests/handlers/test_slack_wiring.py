"""Which Slack door the composition root builds, the CLI's --slack-http checks, and the pure
helpers of the door (text in and out, forms)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from pydantic import SecretStr

from bot.app import App, slack_doors
from bot.cli import main
from bot.conversations.messages import Button, Form, FormField, FormReply, Reply
from bot.handlers.slack import (
    SlackDoor,
    check_form,
    command_text,
    dm_text,
    form_from_json,
    form_to_json,
    from_slack_text,
    render,
)
from bot.i18n import Translator


def _with(app: App, **values: object) -> App:
    app.settings = app.settings.model_copy(update=values)
    return app


def test_no_token_no_door(app: App) -> None:
    assert slack_doors(app) == []


def test_http_mode_by_default_and_socket_mode_with_an_app_token(app: App) -> None:
    _with(app, slack_bot_token=SecretStr("xoxb-1"), slack_signing_secret=SecretStr("s"))
    (door,) = slack_doors(app)
    assert isinstance(door, SlackDoor) and door.http_port == 3000
    assert door.sender.platform == "slack"
    app.run.slack_http_port = 8080
    (door,) = slack_doors(app)
    assert door.http_port == 8080
    app.run.slack_http_port = None
    _with(app, slack_app_token=SecretStr("xapp-1"))
    (door,) = slack_doors(app)
    assert door.http_port is None  # Socket Mode: no public endpoint
    _with(app, slack_app_token=None, slack_signing_secret=None)
    assert slack_doors(app) == []  # HTTP mode without a signing secret is refused


def test_cli_slack_http_needs_token_and_secret(tmp_path: Path) -> None:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "SLACK_BOT_TOKEN": "",
           "SLACK_SIGNING_SECRET": "", "TELEGRAM_BOT_TOKEN": ""}
    result = CliRunner().invoke(main, ["run", "--slack-http", "--port", "3999"], env=env)
    assert result.exit_code == 2
    assert "--slack-http needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET" in result.output


def test_text_in_and_commands() -> None:
    assert from_slack_text("<@UBOT> find <mailto:a@b.co|a@b.co> &amp; <https://x.id|x>") == \
        "find a@b.co & x"
    commands = {"visit": "log_visit", "report": "report"}
    assert command_text("", commands) == "/help"
    assert command_text("visit Sinar Jaya", commands) == "/visit Sinar Jaya"
    assert command_text("start ABCD2345", commands) == "/start ABCD2345"
    assert command_text("who handles Sinar Jaya?", commands) == "who handles Sinar Jaya?"
    assert dm_text("Help", commands) == "/help"
    assert dm_text("report", commands) == "/report"
    assert dm_text("visit went well", commands) == "visit went well"  # an answer, not a command


def test_render_escapes_splits_and_lays_out_buttons() -> None:
    buttons = [Button(f"B{i}", value=str(i), payload=f"f|x|1|{i}") for i in range(7)]
    text, blocks = render(Reply.with_buttons("a < b & c\n" + "x" * 6000, buttons))
    assert text.startswith("a &lt; b &amp; c")  # the fallback is mrkdwn too
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == 3 and sections[0]["text"]["text"].startswith("a &lt; b &amp; c")
    actions = [b for b in blocks if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [5, 2]
    _, blocks = render(Reply("| a | b |", preformatted=True))
    assert blocks[0]["text"]["text"] == "```| a | b |```"


def test_form_round_trip_and_field_checks() -> None:
    form = Form("Lead", (FormField("company", "Company"),
                         FormField("amount", "Amount", kind="number", required=False),
                         FormField("when", "Close by", kind="date"),
                         FormField("note", "Note", kind="long_text", required=False,
                                   max_length=5)))
    assert form_from_json(form_to_json(form)) == form
    reply = FormReply("Fill in", buttons=((Button("Open", value="form", payload="f|l|2|form"),),),
                      form=form)
    _, blocks = render(reply)
    (element,) = blocks[-1]["elements"]
    assert element["action_id"].startswith("sfa_form")
    t = Translator("id")
    values, errors = check_form(form, {
        "company": {"v": {"value": "  "}}, "amount": {"v": {"value": "lots"}},
        "when": {"v": {"selected_date": "2026-02-30"}}, "note": {"v": {"value": "too long"}},
    }, t)
    assert values == {}
    assert errors == {"company": "Kolom ini wajib diisi.",
                      "amount": "Masukkan angka, mis. 1500000.",
                      "when": "Masukkan tanggal dengan format YYYY-MM-DD.",
                      "note": "Maksimal 5 karakter."}
    values, errors = check_form(form, {
        "company": {"v": {"value": "PT X"}}, "amount": {"v": {"value": "2.500.000"}},
        "when": {"v": {"selected_date": "2026-03-31"}}}, t)
    assert errors == {"amount": "Masukkan angka, mis. 1500000."}  # dots are not thousands
