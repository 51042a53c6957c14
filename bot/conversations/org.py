"""/org for admins: the company's own details, printed on every quote, proposal and contract
summary (core.organisation); the same as `sfa org show|set|logo` in the shell.

```mermaid
stateDiagram-v2
    [*] --> field: /org (the details and a button per detail)
    field --> language: payment / delivery terms
    language --> value
    field --> value: any other detail
    field --> logo: Logo
    value --> field: saved (the details again)
    logo --> field: saved
    field --> [*]: Done
```
"""

from __future__ import annotations

from bot.conversations.flow import Ctx, Flow, Step, done, goto
from bot.conversations.messages import Button, Incoming, Reply, button_rows
from bot.conversations.registry import Registry
from bot.conversations.understanding.intents import Phrasings
from bot.i18n import N_, Translator
from core import organisation
from core.models import Role
from core.organisation import FIELD_BY_KEY, FIELDS, Seller

ADMINS = frozenset({Role.ADMIN})
LABELS = {
    "name": N_("Company name"), "legal-name": N_("Legal name"), "address": N_("Address"),
    "phone": N_("Phone"), "email": N_("E-mail"), "website": N_("Website"),
    "tax-number": N_("Tax number (NPWP)"), "bank": N_("Bank details"),
    "payment-terms": N_("Payment terms"), "delivery-terms": N_("Delivery terms"),
    "quote-validity": N_("Quote validity (days)"),
}
LANGUAGE_LABELS = {"en": N_("English"), "id": N_("Indonesian")}

ERRORS = {
    "org.admin_only": N_("Only an admin can change the company details."),
    "org.bad_language": N_("Unknown language {language}; use {known}."),
    "org.unknown_field": N_("There is no company detail called {field}; use one of {known}."),
    "org.bad_days": N_("The quote validity is a number of days from 1 to 365, not {value}."),
    "org.too_long": N_("That is too long: {field} can have at most {limit} characters."),
    "org.bad_email": N_("{value} is not an e-mail address (like sales@company.co.id)."),
    "org.bad_phone": N_("{value} is not a phone number (like +62 21 555 0123)."),
    "org.bad_url": N_("{value} is not a web address (like www.company.co.id)."),
    "org.logo_too_big": N_("The logo is too big: send a PNG or JPEG under {limit} KB."),
    "org.bad_logo": N_("That is not a PNG or JPEG image. Send the logo as a PNG or JPEG."),
    "org.logo_size": N_("The logo is {width} x {height} pixels: send one between 8 x 8 and "
                        "4000 x 4000."),
}


def describe(t: Translator, seller: Seller) -> str:
    """The details in the reader's language, what is still missing last."""
    not_set = t("(not set)")
    lines = [t("Company details on every quote, proposal and contract summary:")]
    for item in FIELDS:
        value = getattr(seller, item.column)
        if item.kind == "per_language":
            shown = "; ".join(f"{t(LANGUAGE_LABELS[lang])}: {value.get(lang) or not_set}"
                              for lang in organisation.LANGUAGES)
        elif item.kind == "days":
            shown = t.n("{count} day", "{count} days", value)
        else:
            shown = str(value) if value else not_set
        lines.append(f"• {t(LABELS[item.key])}: {' '.join(shown.split())}")
    logo, logo_state = t("Logo"), t("set") if seller.logo else not_set
    lines.append(f"• {logo}: {logo_state}")
    if seller.is_draft:
        missing = [t(LABELS[key]) if key != "phone" else t("a phone or an e-mail")
                   for key in seller.missing]
        lines.append(t("Documents say DRAFT until you set: {missing}.",
                       missing=", ".join(missing)))
    else:
        lines.append(t("Documents carry these details."))
    return "\n".join(lines)


def _menu(ctx: Ctx, prefix: str | None = None) -> Step:
    seller = organisation.seller(ctx.session)
    buttons = [Button(ctx.t(LABELS[item.key]), value=item.key) for item in FIELDS]
    buttons.append(Button(ctx.t("Logo"), value="logo"))
    buttons.append(Button(ctx.t("Done"), value="done"))
    text = describe(ctx.t, seller)
    if prefix:
        text = f"{prefix}\n\n{text}"
    return goto("field", Reply(text + "\n\n" + ctx.t("Tap a detail to change it."),
                               buttons=button_rows(buttons, 3)))


async def org_start(ctx: Ctx, inc: Incoming) -> Step:
    """Show the company details with a button per detail."""
    return _menu(ctx)


async def org_field(ctx: Ctx, inc: Incoming) -> Step:
    """Take the detail to change."""
    key = inc.button or ""
    t = ctx.t
    if key == "done":
        return done(t("Saved. Every new document carries these details."))
    if key == "logo":
        seller = organisation.seller(ctx.session)
        buttons = [Button(t("Remove the logo"), value="remove")] if seller.logo else []
        buttons.append(Button(t("Back"), value="back"))
        return goto("logo", Reply(t("Send the logo as an image (PNG or JPEG, up to 1 MB)."),
                                  buttons=(tuple(buttons),)))
    item = FIELD_BY_KEY.get(key)
    if item is None:
        return _menu(ctx, t("Tap one of the details, or Done."))
    ctx.data["field"] = key
    if item.kind == "per_language":
        buttons = [Button(t(LANGUAGE_LABELS[lang]), value=lang)
                   for lang in organisation.LANGUAGES]
        return goto("language", Reply(t("{detail} in which language? Indonesian documents "
                                         "print the Indonesian text, English ones the "
                                         "English.", detail=t(LABELS[key])),
                                      buttons=(tuple(buttons),)))
    return _ask_value(ctx, key, "en")


def _ask_value(ctx: Ctx, key: str, language: str) -> Step:
    t = ctx.t
    ctx.data["language"] = language
    item = FIELD_BY_KEY[key]
    current = getattr(organisation.seller(ctx.session), item.column)
    if item.kind == "per_language":
        current = current.get(language)
    hint = t("Now: {value}", value=current) if current else t("Not set yet.")
    buttons = [Button(t("Clear"), value="clear"), Button(t("Back"), value="back")]
    ask = t("Type the new {detail}.", detail=t(LABELS[key]))
    return goto("value", Reply(f"{ask} {hint}", buttons=(tuple(buttons),)))


async def org_language(ctx: Ctx, inc: Incoming) -> Step:
    """Take the language of a per-language text."""
    if inc.button not in organisation.LANGUAGES:
        return _menu(ctx)
    return _ask_value(ctx, ctx.data["field"], inc.button or "en")


async def org_value(ctx: Ctx, inc: Incoming) -> Step:
    """Save the typed value (or clear it)."""
    if inc.button == "back":
        return _menu(ctx)
    key = ctx.data["field"]
    if inc.button == "clear":
        value = ""
    elif inc.text and inc.text.strip():
        value = inc.text
    else:
        return goto("value", ctx.t("Type the new {detail}, or tap Clear or Back.",
                                   detail=ctx.t(LABELS[key])))
    organisation.update_profile(ctx.session, ctx.user, {key: value},
                                language=ctx.data.get("language", "en"), now=ctx.now)
    return _menu(ctx, ctx.t("Saved: {detail}.", detail=ctx.t(LABELS[key])))


async def org_logo(ctx: Ctx, inc: Incoming) -> Step:
    """Store the uploaded logo (or remove it)."""
    if inc.button == "back":
        return _menu(ctx)
    if inc.button == "remove":
        organisation.set_logo(ctx.session, ctx.user, None, now=ctx.now)
        return _menu(ctx, ctx.t("The logo is removed."))
    if inc.file is None or not inc.file.data:
        return goto("logo", ctx.t("Send the logo as a PNG or JPEG image, or tap Back."))
    organisation.set_logo(ctx.session, ctx.user, inc.file.data, now=ctx.now)
    return _menu(ctx, ctx.t("The logo is saved; it is printed at the top of every document."))


def register(registry: Registry) -> None:
    """Register /org (admins)."""
    registry.add_errors(ERRORS)
    registry.add_flow(Flow(
        "org", start=org_start, roles=ADMINS, commands=("org",),
        states={"field": org_field, "language": org_language, "value": org_value,
                "logo": org_logo},
        accepts={"field": "button", "language": "button", "value": "text", "logo": "any"},
        help=N_("The company details printed on every document")))
    registry.add_phrasings(Phrasings(
        "org_profile", flow="org", label=N_("The company details on documents"),
        en=("company details", "show our company details", "our company profile",
            "set our company name", "change the company address on the quotes",
            "update our bank details", "what does our letterhead say",
            "edit the company profile", "set our tax number for documents",
            "change the payment terms on quotes", "upload the company logo",
            "change the logo on our documents", "update our company info",
            "set up our company details", "the seller details on proposals", "our letterhead",
            "fix the company phone number on quotes", "update our bank details on documents",
            "our letterhead details"),
        id=("data perusahaan", "lihat data perusahaan kita", "profil perusahaan kita",
            "ganti nama perusahaan di penawaran", "ubah alamat perusahaan",
            "atur rekening bank perusahaan", "npwp perusahaan kita buat dokumen",
            "ubah syarat pembayaran di penawaran", "ganti logo perusahaan", "kop surat kita",
            "setel identitas perusahaan", "perbarui info perusahaan",
            "alamat kantor kita di dokumen", "ubah nomor telepon perusahaan",
            "identitas penjual di proposal", "upload logo kantor",
            "data kantor kita buat penawaran", "ganti rekening bank perusahaan",
            "data kop surat kita")))
