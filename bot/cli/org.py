"""`sfa org show|set|logo`: the company's own details, printed on every quote, proposal and
contract summary (core.organisation)."""

from __future__ import annotations

from pathlib import Path

import click

from core.organisation import FIELDS, LANGUAGES, Seller

LABELS = {
    "name": "company name (letterhead)", "legal-name": "legal name", "address": "address",
    "phone": "phone", "email": "e-mail", "website": "website", "tax-number": "tax number",
    "bank": "bank details", "payment-terms": "payment terms",
    "delivery-terms": "delivery terms", "quote-validity": "quote validity (days)",
}


def describe(seller: Seller) -> list[str]:
    """The details as `sfa org show` prints them, what documents still lack last."""
    lines = ["Company details (printed on every quote, proposal and contract summary):"]
    for item in FIELDS:
        value = getattr(seller, item.column)
        if item.kind == "per_language":
            shown = "; ".join(f"{lang}: {value[lang]}" if value.get(lang) else
                              f"{lang}: (not set)" for lang in LANGUAGES)
        elif item.kind == "days":
            shown = f"{value} days"
        else:
            shown = str(value) if value else "(not set)"
        lines.append(f"  {item.key:<15} {' '.join(shown.split())}")
    logo = (f"{seller.logo_mime}, {len(seller.logo) // 1024 + 1} KB" if seller.logo
            else "(not set)")
    lines.append(f"  {'logo':<15} {logo}")
    if seller.is_draft:
        needed = ", ".join("phone or email" if key == "phone" else key
                           for key in seller.missing)
        lines.append(f"Documents say DRAFT until these are set: {needed} "
                     f"(e.g. sfa org set --{seller.missing[0]} ...).")
    else:
        lines.append("Documents carry these details (no DRAFT line).")
    return lines


def register(main: click.Group) -> None:
    """Add `sfa org`."""
    from bot.cli import english, fail, load_app

    @main.group("org")
    def org() -> None:
        """The company's own details on every document (name, address, tax, bank, terms,
        logo)."""

    @org.command("show")
    def show() -> None:
        """Print the company details and what documents still lack."""
        from core import organisation

        app = load_app()
        with app.db.session() as session:
            for line in describe(organisation.seller(session)):
                click.echo(line)

    def _set(language: str, **values: str | None) -> None:
        from core import organisation
        from core.errors import DomainError

        changes = {key.replace("_", "-"): value for key, value in values.items()
                   if value is not None}
        if not changes:
            fail("nothing to set: give at least one option, e.g. sfa org set --name "
                 "\"PT Maju Teknik\" (see sfa org set --help)")
        app = load_app()
        try:
            with app.db.session() as session:
                organisation.update_profile(session, None, changes, language=language,
                                            now=app.clock.now())
                lines = describe(organisation.seller(session))
        except DomainError as exc:
            fail(english(app).error(exc.code, exc.params))
        click.echo(f"saved: {', '.join(sorted(changes))}")
        for line in lines:
            click.echo(line)

    options = [click.option(f"--{item.key}", item.key.replace("-", "_"), default=None,
                            metavar="DAYS" if item.kind == "days" else "TEXT",
                            help=f"The {LABELS[item.key]}"
                                 + (" in --lang's language" if item.kind == "per_language"
                                    else "") + "; \"\" clears it.")
               for item in FIELDS]
    set_command = _set
    for option in reversed(options):
        set_command = option(set_command)
    set_command = click.option(
        "--lang", "language", type=click.Choice(LANGUAGES), default="en", show_default=True,
        help="Language of the payment and delivery terms given.")(set_command)
    org.command("set", help="Set company details: each option sets one detail.")(set_command)

    @org.command("logo")
    @click.argument("file", required=False, type=click.Path(path_type=Path))
    @click.option("--remove", is_flag=True, help="Remove the logo.")
    def logo(file: Path | None, remove: bool) -> None:
        """Put FILE (PNG or JPEG, up to 1 MB) at the top of every document."""
        from core import organisation
        from core.errors import DomainError

        if remove == (file is not None):
            fail("give the logo file, or --remove")
        data = None
        if file is not None:
            try:
                if file.stat().st_size > organisation.MAX_LOGO_BYTES:
                    fail(f"{file.name} is larger than {organisation.MAX_LOGO_BYTES // 1000} "
                         f"KB; use a smaller PNG or JPEG")
                data = file.read_bytes()
            except OSError as exc:
                fail(f"cannot read {file}: {exc.strerror or exc}")
        app = load_app()
        try:
            with app.db.session() as session:
                organisation.set_logo(session, None, data, now=app.clock.now())
        except DomainError as exc:
            fail(english(app).error(exc.code, exc.params))
        click.echo("logo removed" if remove else f"logo saved ({len(data or b'') // 1024 + 1} KB)")
