"""Neutral messages: what a door hands the engine (Incoming) and what it renders (Reply)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime


@dataclass(frozen=True)
class IncomingFile:
    """A file the user uploaded; `data` is read by the door only when under the size cap."""

    name: str
    mime: str
    size: int
    data: bytes = b""


@dataclass(frozen=True)
class Incoming:
    """One update from a user, whatever the door: text, a button press, a location or a file."""

    platform: str
    chat_id: str
    user_id: str
    update_id: str | None = None
    text: str | None = None
    button: str | None = None
    location: tuple[float, float] | None = None
    file: IncomingFile | None = None
    chat_is_group: bool = False
    # In a group: the message is for the bot (a mention, a reply to it, a slash command);
    # plain chatter in a group is not.
    addressed: bool = False
    display_name: str | None = None
    language: str | None = None  # the platform's language hint, e.g. "id"
    email: str | None = None  # the platform profile e-mail, when the door knows it
    received_at: datetime | None = None
    # The door answers after the commit and the platform redelivers an update it got no
    # answer for (Telegram webhooks): the engine keeps the replies with the update record,
    # so a redelivery after a crash between commit and send can still send them.
    keep_answer: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        """The conversation key: (platform, chat, user)."""
        return (self.platform, self.chat_id, self.user_id)


# A live-location update (Telegram's edits of a shared live location, the terminal's @live)
# reaches the engine as a press of this action with the location attached: it runs beside
# whatever flow is open (never taken as that flow's answer) and usually answers nothing.
LIVE_LOCATION_ACTION = "field.live"


def live_location_update(*, platform: str, chat_id: str, user_id: str, lat: float, lon: float,
                         update_id: str | None = None, chat_is_group: bool = False,
                         language: str | None = None) -> Incoming:
    """The Incoming a door hands the engine for one live-location update."""
    return Incoming(platform=platform, chat_id=chat_id, user_id=user_id, update_id=update_id,
                    button=f"a|{LIVE_LOCATION_ACTION}|", location=(lat, lon),
                    chat_is_group=chat_is_group, language=language)


@dataclass(frozen=True)
class Button:
    """A button: a label and a short value (flow buttons) or an action with an argument.

    Flow buttons carry `value`; the engine stamps them with the state token so an old button
    is recognised. Action buttons (`action`, `arg`) work outside a flow, e.g. "claim lead 42";
    their handler checks the current state of the record they name.
    """

    label: str
    value: str = ""
    action: str | None = None
    arg: str = ""
    payload: str = ""  # filled by the engine: what the door sends back when pressed


@dataclass(frozen=True)
class Attachment:
    """A file sent to the user: a PDF quote, a vCard, a CSV export, a chart image."""

    filename: str
    data: bytes
    mime: str = "application/octet-stream"
    caption: str | None = None

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")


@dataclass(frozen=True)
class Reply:
    """One message to the user: text, optional button rows and an optional attachment."""

    text: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()
    attachment: Attachment | None = None
    ephemeral: bool = False  # Slack: only the asker sees it in a channel
    preformatted: bool = False  # a table: doors show it in a monospace block
    # The reply asks for a location: the (translated) label of a one-tap "share location"
    # button. Telegram shows it as a request_location reply keyboard (removed once answered);
    # doors without one say their own way (Slack: paste a map link; terminal: @location).
    ask_location: str = ""

    @staticmethod
    def with_buttons(text: str, *rows: list[Button] | tuple[Button, ...]) -> Reply:
        return Reply(text=text, buttons=tuple(tuple(r) for r in rows if r))


def shorten(text: str, limit: int = 44) -> str:
    """`text` cut to `limit` characters at a word's end, with "…" when cut (a button's
    label: "#3 Samudra Mulia: CCTV for the…", not "…for the warehous")."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.:;-·") + "…"


def button_rows(buttons: list[Button], per_row: int = 2) -> tuple[tuple[Button, ...], ...]:
    """Lay buttons out in rows of `per_row`."""
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


# -- forms: several fields at once (Slack shows a modal; other doors show the text) ---------
FORM_MIME = "application/x-sfa-form+json"


@dataclass(frozen=True)
class FormField:
    """One field of a form. `kind`: text, long_text, number, date (YYYY-MM-DD) or choice."""

    name: str
    label: str
    kind: str = "text"
    required: bool = True
    options: tuple[tuple[str, str], ...] = ()  # choice: (value, label) pairs
    hint: str = ""
    initial: str = ""
    max_length: int = 500


@dataclass(frozen=True)
class Form:
    """Fields asked at once. The reply carrying it must also offer a flow button whose value
    is `value`: a door with forms (Slack) turns that button into "open the form" and, when the
    user submits valid values, presses it with the values attached (see `form_values`);
    other doors show the button as is, so the step gets `inc.button == value` without values
    and should ask for the fields in text instead."""

    title: str
    fields: tuple[FormField, ...]
    submit_label: str = "Save"
    value: str = "form"


@dataclass(frozen=True)
class FormReply(Reply):
    """A Reply that also offers a form (labels and title are already translated)."""

    form: Form | None = None


def form_file(values: dict[str, str]) -> IncomingFile:
    """Pack submitted form values as the IncomingFile a door attaches to the button press."""
    import json

    data = json.dumps(values, ensure_ascii=False).encode()
    return IncomingFile(name="form.json", mime=FORM_MIME, size=len(data), data=data)


def form_values(inc: Incoming) -> dict[str, str] | None:
    """The values of a submitted form, or None when the update is not a form submission."""
    import json

    if inc.file is None or inc.file.mime != FORM_MIME:
        return None
    try:
        values = json.loads(inc.file.data.decode())
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, dict):
        return None
    return {str(k): str(v) for k, v in values.items()}


# -- kept answers: the replies of an update, stored with its record for a redelivery ---------
# A button's fields are all plain values: read one by one, as dataclasses.asdict would give
# them (asdict's deep copy cost a third of packing a question with its buttons).
_BUTTON_FIELDS = tuple(f.name for f in dataclass_fields(Button))


def pack_replies(replies: list[Reply]) -> bytes:
    """Serialize replies (stamped buttons, attachments, forms) to compact bytes."""
    import base64
    import dataclasses
    import json
    import zlib

    def one(reply: Reply) -> dict[str, object]:
        out: dict[str, object] = {
            "text": reply.text, "ephemeral": reply.ephemeral,
            "preformatted": reply.preformatted, "ask_location": reply.ask_location,
            "buttons": [[{name: getattr(b, name) for name in _BUTTON_FIELDS} for b in row]
                        for row in reply.buttons]}
        if reply.attachment is not None:
            a = reply.attachment
            out["attachment"] = {"filename": a.filename, "mime": a.mime, "caption": a.caption,
                                 "data": base64.b64encode(a.data).decode()}
        if isinstance(reply, FormReply) and reply.form is not None:
            out["form"] = dataclasses.asdict(reply.form)
        return out

    return zlib.compress(json.dumps([one(r) for r in replies],
                                    ensure_ascii=False).encode(), 6)


def unpack_replies(data: bytes) -> list[Reply]:
    """The replies `pack_replies` stored."""
    import base64
    import json
    import zlib

    out: list[Reply] = []
    for item in json.loads(zlib.decompress(data)):
        buttons = tuple(tuple(Button(**b) for b in row) for row in item["buttons"])
        attachment = None
        if item.get("attachment"):
            a = item["attachment"]
            attachment = Attachment(filename=a["filename"], mime=a["mime"],
                                    caption=a["caption"], data=base64.b64decode(a["data"]))
        common = dict(text=item["text"], buttons=buttons, attachment=attachment,
                      ephemeral=item["ephemeral"], preformatted=item["preformatted"],
                      ask_location=item.get("ask_location", ""))
        if item.get("form"):
            f = item["form"]
            fields = tuple(FormField(**{**fld, "options": tuple(tuple(o) for o in fld["options"])})
                           for fld in f["fields"])
            form = Form(title=f["title"], fields=fields, submit_label=f["submit_label"],
                        value=f["value"])
            out.append(FormReply(**common, form=form))  # type: ignore[arg-type]
        else:
            out.append(Reply(**common))  # type: ignore[arg-type]
    return out
