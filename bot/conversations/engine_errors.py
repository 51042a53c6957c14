"""The words of the errors the engine's own steps meet (an invite code, /language,
/timezone, a role refused): every Registry starts with them."""

from __future__ import annotations

from bot.i18n import N_

ENGINE_ERRORS = {
    "link.bad_code": N_(
        "That invite code is not valid: it may be mistyped, used or expired. "
        "Ask your admin for a new one."
    ),
    "user.bad_locale": N_("Unknown language {locale}. Use /language en or /language id."),
    "user.bad_timezone": N_("Unknown time zone {timezone}."),
    "user.not_found": N_("No user {login}."),
    "user.exists": N_("A user with the login {login} already exists."),
    "user.bad_role": N_("Unknown role {role}: use rep, manager, technician or admin."),
    "user.bad_login": N_("A login may use letters, digits, dots, dashes and underscores."),
    "engine.role_refused": N_("Your role cannot use that."),
}
