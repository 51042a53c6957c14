"""`sfa` commands of the contacts area: import contacts|companies, export contacts."""

from __future__ import annotations

import sys
from pathlib import Path

import click

PROGRESS_FROM = 500  # rows; a progress bar on stderr for longer files


def _import(kind: str, path: Path, dry_run: bool) -> None:
    from bot.cli import fail, read_import_file, run_import
    from core import imports

    csv_file = read_import_file(path, ("name",))
    header = csv_file.header
    if kind == "contacts" and "company" not in header and "company_external_id" not in header:
        fail(f"{path.name}: missing column company (or company_external_id)")
    importer = imports.import_contacts if kind == "contacts" else imports.import_companies
    run_import(importer, csv_file.rows, label=kind, path=path, dry_run=dry_run,
               progress_from=PROGRESS_FROM)


def register(main: click.Group) -> None:
    """Add `sfa import contacts|companies` and `sfa export contacts`."""
    from bot.cli import export_group, import_group

    @import_group.command("contacts")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
    def import_contacts(file: Path, dry_run: bool) -> None:
        """Import contacts from a CSV (name, company or company_external_id, department,
        job_title, phone, mobile, email, decision_maker, owner, external_id). Rows match
        existing contacts by external id, then e-mail, then phone, then name within the
        company: a second run of the same file creates no duplicates."""
        _import("contacts", file, dry_run)

    @import_group.command("companies")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
    def import_companies(file: Path, dry_run: bool) -> None:
        """Import companies from a CSV (name, legal_form, industry, segment, employees,
        territory, owner, phone, email, website, city, addresses, external_id)."""
        _import("companies", file, dry_run)

    @export_group.command("contacts")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                  default=None, help="Write to this file (default: standard output).")
    def export_contacts(output: Path | None) -> None:
        """Export every contact as CSV (the same columns `sfa import contacts` reads)."""
        from bot.cli import load_app
        from core.csv_files import write_csv
        from core.imports import CONTACT_COLUMNS
        from core.imports import export_contacts as rows

        app = load_app()
        handle = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
        try:
            with app.db.session() as session:
                # Cells a spreadsheet would run (=, +, -, @ ...) get a leading ' (OWASP);
                # `sfa import contacts` takes it off again.
                count = write_csv(handle, CONTACT_COLUMNS, rows(session))
        finally:
            if output:
                handle.close()
        if output:
            click.echo(f"exported {count} contacts to {output}", err=True)
