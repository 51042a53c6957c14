"""What a door may ask the chat side besides `Engine.handle`, so that no door opens a database
session or takes the engine's lock: the user's translator for the door's own words, whether
an identity is linked, linking one by the e-mail of its platform profile, the App Home view,
and whether a form's button still applies. Reads run in the engine's one-transaction-at-a-
time turn (SQLite begins every transaction IMMEDIATE; see Engine.writer_lock), except
`translator_now`, a plain read on its own connection for a door's own intake thread."""

from __future__ import annotations

import time

from bot.conversations import home
from bot.conversations.engine import Engine
from bot.conversations.models import ConversationState
from bot.conversations.pipeline.run import decode_payload
from bot.i18n import N_, Translator
from core import users as user_service

WELCOME_BY_EMAIL = N_("Linked to {name} by your Slack e-mail. Welcome!")
_CACHE_SECONDS = 60


class DoorServices:
    """The chat side's answers to a door's questions (one per engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.settings = engine.settings
        self._languages: dict[tuple[str, str], tuple[float, str, str]] = {}
        self._linked: set[tuple[str, str]] = set()

    # -- words -------------------------------------------------------------------------------
    def cached_translator(self, platform: str, external_id: str) -> Translator | None:
        cached = self._languages.get((platform, external_id))
        if cached is not None and cached[0] > time.monotonic():
            return Translator(cached[1], cached[2])
        return None

    async def translator(self, platform: str, external_id: str) -> Translator:
        """The user's translator for the door's own words (cached for a minute)."""
        cached = self.cached_translator(platform, external_id)
        if cached is not None:
            return cached
        async with self.engine.writer_lock:
            return self.translator_now(platform, external_id)

    def translator_now(self, platform: str, external_id: str) -> Translator:
        """As `translator`, read at once on a connection of its own (a door's intake thread,
        which must never wait for the main loop)."""
        cached = self.cached_translator(platform, external_id)
        if cached is not None:
            return cached
        with self.engine.db.session() as session:
            user = user_service.identity_user(session, platform, external_id)
            if user is None:
                return Translator(self.settings.default_locale, self.settings.default_timezone)
            if len(self._languages) > 20_000:
                self._languages.clear()
            self._languages[(platform, external_id)] = (
                time.monotonic() + _CACHE_SECONDS, user.locale, user.timezone)
            return Translator(user.locale, user.timezone)

    # -- identity ----------------------------------------------------------------------------
    async def needs_link(self, platform: str, external_id: str) -> bool:
        """True when the identity is linked to nobody yet (known links are remembered)."""
        if (platform, external_id) in self._linked:
            return False
        async with self.engine.writer_lock:
            with self.engine.db.session() as session:
                linked = user_service.identity_user(session, platform, external_id) is not None
        if linked:
            self._linked.add((platform, external_id))
        return not linked

    async def link_by_email(self, platform: str, external_id: str, chat_id: str,
                            email: str | None) -> str | None:
        """Link an unknown identity to the one active user with this profile e-mail; return
        the welcome to send, or None when nobody was linked."""
        if not email:
            return None
        async with self.engine.writer_lock:  # one writer per process (see Engine)
            with self.engine.db.session() as session:
                user = user_service.link_by_email(
                    session, email=email, platform=platform, external_id=external_id,
                    chat_id=chat_id, now=self.engine.clock.now())
                if user is None:
                    return None
                t = Translator(user.locale, user.timezone)
                welcome = t(WELCOME_BY_EMAIL, name=user.name)
        self._linked.add((platform, external_id))
        return welcome

    # -- views -------------------------------------------------------------------------------
    async def home(self, platform: str, external_id: str) -> home.HomeView:
        """The App Home view of this identity's user (or how to link, when none)."""
        now = self.engine.clock.now()
        async with self.engine.writer_lock:
            with self.engine.db.session() as session:
                user = user_service.identity_user(session, platform, external_id)
                if user is None or not user.active:
                    return home.not_linked(Translator(self.settings.default_locale,
                                                      self.settings.default_timezone))
                return home.home_view(session, Translator(user.locale, user.timezone),
                                      user, now)

    async def form_moved_on(self, platform: str, chat_id: str, external_id: str,
                            payload: str) -> bool:
        """True when a form's button no longer applies (the submission was taken); a refused
        submission leaves the button, so the user can open the form again and correct it."""
        button = decode_payload(payload)
        if button is None or button.kind != "f":
            return True
        async with self.engine.writer_lock:
            with self.engine.db.session() as session:
                state = session.get(ConversationState, (platform, chat_id, external_id))
                return (state is None or state.flow != button.name
                        or f"{state.token:x}" != button.token)

    # -- menus and links ---------------------------------------------------------------------
    async def role_and_locale(self, platform: str, external_id: str) -> tuple[str, str] | None:
        """The role and language of this identity's active user (a door's command menu);
        None when linked to nobody (or deactivated). A plain read outside the engine's turn,
        as the Telegram door always made it: it runs in the background after a reply, and
        holding the writer's turn for it delays the next update's transaction."""
        with self.engine.db.session() as session:
            user = user_service.identity_user(session, platform, external_id)
            return (user.role, user.locale) if user is not None and user.active else None

    def remember_bot_username(self, username: str) -> None:
        """Keep the bot's username for invite deep links (a door's start-up, on a thread)."""
        from core import invites

        with self.engine.db.session() as session:
            invites.remember_username(session, username, self.engine.clock.now())

    def link_by_login(self, platform: str, login: str) -> None:
        """Link a trusted local door's identity (the terminal) to the user with this login
        (core.errors.NotFound when there is none)."""
        with self.engine.db.session() as session:
            user = user_service.get_user_by_login(session, login)
            if user_service.identity_user(session, platform, user.login) is None:
                user_service.link_identity(session, user, platform=platform,
                                           external_id=user.login, chat_id=user.login,
                                           now=self.engine.clock.now())
