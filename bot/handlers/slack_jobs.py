"""What a Slack request asks, as a `Job` the intake records and a worker turns into an
`Incoming`: one function per kind of request (slash command, DM, mention, Home tab opened,
button, form submitted). Pure translation: no I/O."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Job:
    """One unit of work, recorded and queued by a listener before its ack."""

    kind: str  # "command" | "message" | "mention" | "button" | "form" | "home"
    team: str
    user: str
    channel: str = ""
    text: str = ""
    payload: str = ""
    label: str = ""
    update_id: str | None = None
    is_group: bool = False
    message_ts: str | None = None
    message_blocks: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, str] | None = None
    enqueued: float = 0.0

    def __post_init__(self) -> None:
        # A forged or broken payload may carry any JSON where Slack sends a string: a job
        # holds only what it declares (a dict as channel id once reached the engine's lock).
        for name in ("kind", "team", "user", "channel", "text", "payload", "label"):
            setattr(self, name, text_of(getattr(self, name)))
        for name in ("update_id", "message_ts"):
            if not isinstance(getattr(self, name), str):
                setattr(self, name, None)
        self.message_blocks = _objects(self.message_blocks)
        self.files = _objects(self.files)
        if not isinstance(self.values, dict):
            self.values = None

    @property
    def external_id(self) -> str:
        return f"{self.team}:{self.user}"

    @property
    def key(self) -> str:
        """One user's jobs are worked in order (the intake's shard key)."""
        return self.external_id

    def pack(self) -> bytes:
        """The job as the inbox stores it (compact JSON)."""
        data = asdict(self)
        del data["enqueued"]
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def unpack(cls, body: bytes) -> Job:
        """A job from its inbox body."""
        return cls(**json.loads(body))


def text_of(value: object) -> str:
    """`value` when it is a string, else "" (what a missing field reads as)."""
    return value if isinstance(value, str) else ""


def _objects(value: object) -> list[dict[str, Any]]:
    """The objects of a list (anything else reads as an empty list)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def malformed_event(body: object) -> bool:
    """An event callback whose event is not an object (Slack never sends one)."""
    return (isinstance(body, dict) and body.get("type") == "event_callback"
            and not isinstance(body.get("event"), dict))


def team_of(body: dict[str, Any]) -> str:
    """The team of an interaction (button press, modal) from its user or its team."""
    user = body.get("user") or {}
    return user.get("team_id") or (body.get("team") or {}).get("id") or ""


def command_job(body: dict[str, Any]) -> Job:
    return Job(kind="command", team=body.get("team_id") or "",
               user=body.get("user_id") or "", channel=body.get("channel_id") or "",
               text=body.get("text") or "",
               update_id=f"c:{body.get('trigger_id')}" if body.get("trigger_id") else None)


def message_job(body: dict[str, Any], event: dict[str, Any]) -> Job | None:
    """A direct message to the bot (None: not one, or an edit, a deletion, a join)."""
    if event.get("channel_type") != "im" or event.get("bot_id"):
        return None
    if event.get("subtype") not in (None, "file_share"):
        return None
    return Job(kind="message", team=body.get("team_id") or event.get("team") or "",
               user=event.get("user") or "", channel=event.get("channel") or "",
               text=event.get("text") or "", files=event.get("files") or [],
               update_id=body.get("event_id"))


def mention_job(body: dict[str, Any], event: dict[str, Any]) -> Job | None:
    """The bot mentioned in a channel (None: in a DM, which the message event has, or a bot)."""
    channel = text_of(event.get("channel"))
    if channel.startswith("D") or event.get("bot_id"):
        return None
    return Job(kind="mention", team=body.get("team_id") or event.get("team") or "",
               user=event.get("user") or "", channel=channel,
               text=event.get("text") or "", is_group=True, update_id=body.get("event_id"))


def home_job(body: dict[str, Any], event: dict[str, Any]) -> Job | None:
    if event.get("tab") != "home":
        return None
    return Job(kind="home", team=body.get("team_id") or "", user=event.get("user") or "",
               update_id=body.get("event_id"))


def button_job(body: dict[str, Any], action: dict[str, Any]) -> Job:
    user = body.get("user") or {}
    channel = text_of((body.get("channel") or {}).get("id"))
    container = body.get("container") or {}
    message = body.get("message") or {}
    return Job(
        kind="button", team=team_of(body),
        user=user.get("id") or "", channel=channel, payload=action.get("value") or "",
        label=((action.get("text") or {}).get("text") or ""),
        update_id=f"b:{user.get('id')}:{action.get('action_ts')}",
        # A button on the Home tab comes with no channel: it is answered in the DM.
        is_group=bool(channel) and not channel.startswith("D"),
        message_ts=None if container.get("is_ephemeral") else container.get("message_ts"),
        message_blocks=message.get("blocks") or [])


def form_job(body: dict[str, Any], view: dict[str, Any], metadata: dict[str, Any],
             values: dict[str, str]) -> Job:
    """A modal submitted with valid values: a press of the form's button."""
    user = body.get("user") or {}
    channel = text_of(metadata.get("c"))
    return Job(kind="form", team=team_of(body), user=user.get("id") or "", channel=channel,
               payload=metadata.get("p") or "", label=metadata.get("l") or "",
               values=values, update_id=f"v:{view.get('id')}:{view.get('hash')}",
               is_group=not channel.startswith("D"), message_ts=metadata.get("ts"))
