"""Settings from the environment (and an optional .env file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the product; each maps to an `SFA_...` (or platform) environment variable."""

    model_config = SettingsConfigDict(env_file=".env", env_prefix="SFA_", extra="ignore")

    database_url: str = "sqlite:///var/sfa.db"
    data_dir: Path = Path("var")
    default_timezone: str = "Asia/Jakarta"
    default_locale: str = "en"
    conversation_timeout_minutes: int = 30
    invite_ttl_hours: int = 72
    max_message_chars: int = 4096
    max_upload_bytes: int = 20 * 1024 * 1024
    # A CSV file given to `sfa import ...` larger than this is refused before it is read.
    max_import_bytes: int = 100 * 1024 * 1024
    # Documents (chat uploads, `sfa kb add`): a ZIP-based file (.docx, .pptx) whose entries
    # unpack to more bytes, or that has more entries, is refused before it is parsed; more
    # pages (PDF pages, slides) or extracted characters are refused; parsing runs in a child
    # process killed after this many seconds or above this much memory.
    upload_max_unpacked_bytes: int = 100 * 1024 * 1024
    upload_max_entries: int = 5000
    upload_max_pages: int = 1000
    upload_max_chars: int = 5_000_000
    upload_parse_seconds: float = 30.0
    upload_parse_memory_bytes: int = 1024 * 1024 * 1024
    # Abuse limit: more than this many updates from one user in the window are dropped
    # (the first one over the limit is answered once, politely).
    rate_limit_messages: int = 20
    rate_limit_window_seconds: int = 10
    # A redelivered update whose answer was kept but not yet sent (Telegram webhooks) is
    # answered from the record once this many seconds passed since it was handled: the
    # worker that handled it is then taken for dead (a live one sends within milliseconds).
    replay_after_seconds: float = 10.0
    # A worker's claim on an update it acknowledged before working it (the reliable intake,
    # bot.intake: Slack, the Telegram webhook) unrenewed this long: the worker is taken for
    # dead and another one takes its acknowledged, unfinished updates over. The name it had
    # when only Slack used it (SFA_SLACK_INBOX_LEASE_SECONDS) is still read.
    inbox_lease_seconds: float = Field(
        default=15.0, gt=0,
        validation_alias=AliasChoices("inbox_lease_seconds", "SFA_INBOX_LEASE_SECONDS",
                                      "SFA_SLACK_INBOX_LEASE_SECONDS"))
    # The field day (core.sites, core.dayplan): a visit check-in within this many metres of
    # the customer's site is verified, and a live location this close counts as arrived.
    checkin_radius_m: int = 300
    near_radius_km: float = 5.0  # "customers near me" looks this far
    location_fresh_minutes: int = 15  # "near me" without a new share uses a location this new
    dayplan_max_visits: int = 6
    dayplan_visit_minutes: int = 45  # time spent at each customer
    dayplan_work_start: str = "08:30"  # working hours (the rep's own time zone)
    dayplan_work_end: str = "17:30"
    dayplan_speed_kmh: float = 30.0  # average speed on the road distance
    # road distance = straight-line distance x the factor of the destination's city
    dayplan_road_factors: str = ("Jakarta=1.8,Surabaya=1.6,Bandung=1.6,Semarang=1.5,"
                                 "Medan=1.5,Makassar=1.5,default=1.4")
    log_level: str = "INFO"
    log_format: str = "text"

    # Platform secrets: read from the environment only, never logged.
    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, alias="TELEGRAM_WEBHOOK_SECRET"
    )
    telegram_api_url: str | None = None
    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_api_url: str | None = None
    slack_link_by_email: bool = False  # link a Slack user by their profile e-mail

    def resolved_database_url(self) -> str:
        """Return the database URL with a relative SQLite path made absolute."""
        url = self.database_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(Path(url[len(prefix):]).resolve())
        return url

    def secrets(self) -> list[str]:
        """Return every configured secret value (for log redaction and leak tests)."""
        values = [
            self.telegram_bot_token,
            self.telegram_webhook_secret,
            self.slack_bot_token,
            self.slack_app_token,
            self.slack_signing_secret,
        ]
        return [v.get_secret_value() for v in values if v and v.get_secret_value()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (read once)."""
    return Settings()
