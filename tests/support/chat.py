"""A collecting chat: drive the neutral engine as any user, on any platform name."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.conversations.engine import Engine
from bot.conversations.messages import Button, Incoming, IncomingFile, Reply
from core import users as user_service
from core.models import ChatIdentity

_update_ids = itertools.count(1)


@dataclass
class ChatUser:
    """One linked user talking to the engine; remembers the latest buttons it saw."""

    chat: CollectingChat
    login: str
    platform: str = "console"
    chat_id: str | None = None
    buttons: list[Button] = field(default_factory=list)
    transcript: list[Reply] = field(default_factory=list)

    @property
    def external_id(self) -> str:
        return f"ext-{self.login}"

    def incoming(self, **kw: object) -> Incoming:
        kw.setdefault("update_id", f"u{next(_update_ids)}")
        return Incoming(platform=self.platform, chat_id=self.chat_id or self.external_id,
                        user_id=self.external_id, **kw)  # type: ignore[arg-type]

    async def send(self, incoming: Incoming) -> list[Reply]:
        replies = await self.chat.engine.handle(incoming)
        self.transcript.extend(replies)
        flat = [b for r in replies for row in r.buttons for b in row]
        if flat:
            self.buttons = flat
        return replies

    async def say(self, text: str) -> list[Reply]:
        return await self.send(self.incoming(text=text))

    async def press(self, label: str) -> list[Reply]:
        """Press the button whose label is `label` (exact, then case-insensitive prefix)."""
        button = self.find(label)
        return await self.send(self.incoming(button=button.payload))

    def find(self, label: str) -> Button:
        for b in self.buttons:
            if b.label == label:
                return b
        matches = [b for b in self.buttons if b.label.lower().startswith(label.lower())]
        if len(matches) != 1:
            raise AssertionError(
                f"no single button {label!r} among {[b.label for b in self.buttons]}")
        return matches[0]

    async def share_location(self, lat: float, lon: float) -> list[Reply]:
        return await self.send(self.incoming(location=(lat, lon)))

    async def upload(self, name: str, data: bytes, mime: str = "application/octet-stream"
                     ) -> list[Reply]:
        return await self.send(self.incoming(
            file=IncomingFile(name=name, mime=mime, size=len(data), data=data)))


class CollectingChat:
    """Links users on demand and collects what the engine answers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.users: dict[str, ChatUser] = {}

    def as_user(self, login: str, *, platform: str = "console", link: bool = True) -> ChatUser:
        key = f"{platform}:{login}"
        if key not in self.users:
            user = ChatUser(self, login, platform)
            if link:
                with self.engine.db.session() as session:
                    row = user_service.get_user_by_login(session, login)
                    exists = session.scalar(select(ChatIdentity.id).where(
                        ChatIdentity.platform == platform,
                        ChatIdentity.external_id == user.external_id))
                    if exists is None:
                        user_service.link_identity(session, row, platform=platform,
                                                   external_id=user.external_id,
                                                   chat_id=user.external_id,
                                                   now=self.engine.clock.now())
            self.users[key] = user
        return self.users[key]


def texts(replies: list[Reply]) -> str:
    """All reply texts joined by newlines (for assertions)."""
    return "\n".join(r.text for r in replies)
