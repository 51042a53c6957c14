"""`sfa` commands of the quotes area: `sfa import products|pricelists FILE.csv`.

The row report (created / updated / unchanged, errors with row numbers) and idempotency (the
same file twice changes nothing) follow the contacts import; the rows are checked and written
by core.catalog, in one transaction per file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import click


def _read_rows(path: Path) -> list[dict[str, str]]:
    from bot.cli import fail

    if not path.is_file():
        fail(f"no file {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text (save the CSV as UTF-8)")
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    if not reader.fieldnames:
        fail(f"{path} is empty")
    return [{(k or "").strip().lower(): (v or "") for k, v in row.items()} for row in reader]


def _run(path: Path, required: tuple[str, ...], importer: Callable, dry_run: bool) -> None:
    from bot.cli import fail, load_app

    rows = _read_rows(path)
    missing = [c for c in required if rows and c not in rows[0]]
    if missing:
        fail(f"{path.name}: missing column(s) {', '.join(missing)}")
    app = load_app()
    with app.db.session() as session:
        report = importer(session, rows, app.clock.now())
        if dry_run:
            session.rollback()
    verb = "would import" if dry_run else "imported"
    click.echo(f"{path.name}: {verb} {len(rows)} rows: {report.created} created, "
               f"{report.updated} updated, {report.unchanged} unchanged, "
               f"{len(report.errors)} with errors")
    for number, message in report.errors:
        click.echo(f"  row {number}: {message}")
    if report.errors and not (report.created or report.updated or report.unchanged):
        raise SystemExit(1)


def register(main: click.Group) -> None:
    """Add `sfa import products` and `sfa import pricelists`."""
    from bot.cli import import_group

    @import_group.command("products")
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Check and report, change nothing.")
    def import_products(file: Path, dry_run: bool) -> None:
        """Products CSV: sku, name, category, unit, tax_rate, active, description."""
        from core.catalog import import_products as run

        _run(file, ("sku", "name"), run, dry_run)

    @import_group.command("pricelists")
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Check and report, change nothing.")
    def import_pricelists(file: Path, dry_run: bool) -> None:
        """Price list CSV: price_list, currency, segment, valid_from, valid_to, sku,
        unit_price, floor_price (one row per product price)."""
        from core.catalog import import_price_lists as run

        _run(file, ("price_list", "currency", "sku", "unit_price"), run, dry_run)
