"""`sfa` commands of the quotes area: `sfa import products|pricelists FILE.csv`.

Same row report and idempotency as the contacts import (core.imports: one savepoint per row,
the same file twice changes nothing); the rows are checked and written by core.catalog.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

PROGRESS_FROM = 500  # rows; a progress bar on stderr for longer files


def _import(path: Path, required: tuple[str, ...], importer: Callable, label: str,
            dry_run: bool) -> None:
    from bot.cli import read_import_file, run_import

    rows = read_import_file(path, required).rows
    run_import(importer, rows, label=label, path=path, dry_run=dry_run,
               progress_from=PROGRESS_FROM)


def register(main: click.Group) -> None:
    """Add `sfa import products` and `sfa import pricelists`."""
    from bot.cli import import_group

    @import_group.command("products")
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Check and report, change nothing.")
    def import_products(file: Path, dry_run: bool) -> None:
        """Products CSV: sku, name, category, unit, tax_rate, active, description."""
        from core.catalog import import_products as run

        _import(file, ("sku", "name"), run, "products", dry_run)

    @import_group.command("pricelists")
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Check and report, change nothing.")
    def import_pricelists(file: Path, dry_run: bool) -> None:
        """Price list CSV: price_list, currency, segment, valid_from, valid_to, sku,
        unit_price, floor_price (one row per product price)."""
        from core.catalog import import_price_lists as run

        _import(file, ("price_list", "currency", "sku", "unit_price"), run, "price lists",
                dry_run)
