"""The terminal door: chat with the bot in a terminal, or play a script of messages.

Script lines: plain text is a message; `[Label]` (or `[2]`) presses a button of the latest
bot message; `@location LAT,LON` shares a location; `@live LAT,LON` is one update of a
live location; `@file PATH` uploads a file;
`@as LOGIN` switches to another user; `@advance 2h` moves a manual clock (with
`--now`) and runs the tick hooks (the scheduler's sweeps); `#` starts a comment.
"""

from __future__ import annotations

import asyncio
import itertools
import mimetypes
import re
import sys
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from bot.conversations.door_services import DoorServices
from bot.conversations.engine import Engine
from bot.conversations.messages import (
    Button,
    Incoming,
    IncomingFile,
    Reply,
    live_location_update,
)
from core.clock import ManualClock
from core.models import Platform

PLATFORM = Platform.CONSOLE.value
_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
TickHook = Callable[[], Awaitable[None]]


def _plain(label: str) -> str:
    """A label without leading symbols or emoji, lower-cased: "👍 Positive" -> "positive"."""
    text = label.strip().lower()
    while text and not text[0].isalnum():
        text = text[1:]
    return text.strip()


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text.strip().lower())
    if not m:
        raise ValueError(f"bad duration {text!r} (use e.g. 30m, 2h, 1d)")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


_TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

class ConsoleDoor:
    """Renders replies as text; buttons print as `[1] Label`; files are saved to disk."""

    def __init__(
        self,
        engine: Engine,
        login: str,
        *,
        out: TextIO | None = None,
        files_dir: Path | None = None,
    ) -> None:
        self.engine = engine
        self.out = out or sys.stdout
        self.files_dir = files_dir or (engine.settings.data_dir / "downloads")
        self.login = login
        self.tick_hooks: list[TickHook] = []
        self._buttons: dict[str, list[Button]] = {}
        self._ids = itertools.count(1)
        self.ensure_identity(login)

    # -- identity ----------------------------------------------------------------------------
    def ensure_identity(self, login: str) -> None:
        """The console is a trusted local door: the terminal user is linked by login."""
        DoorServices(self.engine).link_by_login(PLATFORM, login)

    def switch(self, login: str) -> None:
        self.ensure_identity(login)
        self.login = login.strip().lower()
        self.print(f"--- now chatting as {self.login} ---")

    # -- output ------------------------------------------------------------------------------
    def print(self, text: str) -> None:
        # Whatever the data holds, no control character reaches the terminal (an ESC[2J in
        # a stored name would clear the screen).
        self.out.write(_TERMINAL_CONTROL.sub("", text) + "\n")
        self.out.flush()

    def render(self, replies: Iterable[Reply], *, to: str | None = None) -> None:
        """Print replies; the buttons of all of them are numbered in one sequence and become
        the user's "latest buttons" (an answer may have several messages with buttons)."""
        who = to or self.login
        prefix = f"bot → {who}: " if to else "bot: "
        numbered: list[Button] = []
        for reply in replies:
            if reply.text:
                lines = reply.text.splitlines() or [""]
                self.print(prefix + lines[0])
                for line in lines[1:]:
                    self.print("     " + line)
            if reply.attachment is not None:
                self.files_dir.mkdir(parents=True, exist_ok=True)
                path = self.files_dir / Path(reply.attachment.filename).name
                path.write_bytes(reply.attachment.data)
                caption = f" — {reply.attachment.caption}" if reply.attachment.caption else ""
                self.print(f"     📎 {reply.attachment.filename} ({len(reply.attachment.data)} "
                           f"bytes) saved to {path}{caption}")
            if reply.ask_location:  # the terminal's way to share one
                self.print(f"     ({reply.ask_location}: type @location LAT,LON)")
            flat = [b for row in reply.buttons for b in row]
            if flat:
                start = len(numbered) + 1
                numbered.extend(flat)
                self.print("     " + "  ".join(f"[{i}] {b.label}" for i, b in
                                                enumerate(flat, start)))
        if numbered:
            self._buttons[who] = numbered

    # -- input -------------------------------------------------------------------------------
    def _incoming(self, **kw: object) -> Incoming:
        return Incoming(platform=PLATFORM, chat_id=self.login, user_id=self.login,
                        update_id=None, **kw)  # type: ignore[arg-type]

    def find_button(self, choice: str) -> Button | None:
        """The latest message's button by label (leading emoji ignored), number or prefix."""
        buttons = self._buttons.get(self.login, [])
        wanted = _plain(choice)
        for b in buttons:
            if b.label.lower() == choice.strip().lower() or _plain(b.label) == wanted:
                return b
        if wanted.isdigit() and 1 <= int(wanted) <= len(buttons):
            return buttons[int(wanted) - 1]
        starts = [b for b in buttons if _plain(b.label).startswith(wanted)]
        return starts[0] if len(starts) == 1 and wanted else None

    async def send(self, line: str, *, interactive: bool = False) -> None:
        """Handle one script or terminal line."""
        line = line.rstrip("\n")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return
        if stripped.startswith("@"):
            await self._directive(stripped)
            return
        if not interactive:
            self.print(f"{self.login}: {stripped}")
        pressed: Button | None = None
        if stripped.startswith("[") and stripped.endswith("]"):
            pressed = self.find_button(stripped[1:-1])
            if pressed is None:
                self.print("     (no such button on the latest message)")
                return
        elif interactive and stripped.isdigit() and self._buttons.get(self.login):
            pressed = self.find_button(stripped)
        if pressed is not None:
            self._buttons.pop(self.login, None)
            incoming = self._incoming(button=pressed.payload)
        else:
            incoming = self._incoming(text=line)
        self.render(await self.engine.handle(incoming))

    async def _directive(self, line: str) -> None:
        word, _, rest = line[1:].partition(" ")
        rest = rest.strip()
        if word == "as":
            self.switch(rest)
        elif word == "location":
            try:
                lat_text, lon_text = rest.replace(" ", "").split(",")
                location = (float(lat_text), float(lon_text))
            except ValueError:
                self.print("     (use @location LAT,LON)")
                return
            self.print(f"{self.login}: 📍 {location[0]}, {location[1]}")
            self.render(await self.engine.handle(self._incoming(location=location)))
        elif word == "live":  # one update of a live location (Telegram's live sharing)
            try:
                lat_text, lon_text = rest.replace(" ", "").split(",")
                point = (float(lat_text), float(lon_text))
            except ValueError:
                self.print("     (use @live LAT,LON)")
                return
            self.print(f"{self.login}: 📡 {point[0]}, {point[1]}")
            self.render(await self.engine.handle(live_location_update(
                platform=PLATFORM, chat_id=self.login, user_id=self.login, lat=point[0],
                lon=point[1])))
        elif word == "file":
            path = Path(rest)
            if not path.is_file():
                self.print(f"     (no file {rest})")
                return
            data = path.read_bytes()
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            self.print(f"{self.login}: 📎 {path.name}")
            upload = IncomingFile(name=path.name, mime=mime, size=len(data), data=data)
            self.render(await self.engine.handle(self._incoming(file=upload)))
        elif word == "advance":
            clock = self.engine.clock
            if not isinstance(clock, ManualClock):
                self.print("     (@advance needs a manual clock: sfa chat --now ...)")
                return
            clock.advance(parse_duration(rest))
            self.print(f"--- clock: {clock.now().isoformat()} ---")
            await self.tick()
        elif word == "tick":
            await self.tick()
        else:
            self.print(f"     (unknown directive @{word})")

    async def tick(self) -> None:
        for hook in self.tick_hooks:
            await hook()

    async def run_script(self, lines: Iterable[str]) -> None:
        for line in lines:
            await self.send(line)

    async def run_interactive(self, stdin: TextIO | None = None) -> None:
        stdin = stdin or sys.stdin
        self.print(f"Chatting as {self.login}. Type /help, a question like \"who handles "
                   "Sinar Jaya?\", a button number, or Ctrl-D to quit.")
        loop = asyncio.get_running_loop()
        while True:
            self.out.write(f"{self.login}> ")
            self.out.flush()
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                self.print("")
                return
            await self.send(line, interactive=True)
            await self.tick()


class ConsoleSender:
    """The scheduler's sender for console identities: prints a push in the terminal (as
    `bot → LOGIN: ...`) and remembers its buttons, so `[Snooze 1h]` presses them."""

    platform = PLATFORM

    def __init__(self, door: ConsoleDoor) -> None:
        self.door = door

    async def deliver(self, chat_id: str, message: Reply, key: str | None = None
                      ) -> str | None:
        self.door.render([message], to=chat_id)
        return None
