"""`sfa configurator load FILE.json | list`: the product families of the guided configurator
(their questions and components) and the attributes of their products, as data."""

from __future__ import annotations

import json
from pathlib import Path

import click

from core.errors import DomainError


def register(main: click.Group) -> None:
    """Add `sfa configurator ...`."""

    @main.group()
    def configurator() -> None:
        """Product families for the guided configurator."""

    @configurator.command("load")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    def load(file: Path) -> None:
        """Families and product attributes from a JSON document: {"families": [...],
        "products": {SKU: {"family": CODE, "attrs": {...}}}} (core/demo/configurator.json is
        an example). Loading the same file again changes nothing new."""
        from bot.cli import english, fail, load_app
        from core.config_families import load_families

        if not file.is_file():
            fail(f"no file {file}")
        try:
            data = json.loads(file.read_text(encoding="utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            fail(f"{file} is not JSON: {str(exc)[:80]}")
            return
        if not isinstance(data, dict):
            fail(f"{file}: expected an object with families and products")
            return
        app = load_app()
        try:
            with app.db.session() as session:
                families, products = load_families(session, data, app.clock.now())
        except DomainError as exc:
            fail(english(app).error(exc.code, exc.params))
            return
        click.echo(f"{families} families and {products} products saved")

    @configurator.command("list")
    def listing() -> None:
        """Every family with its questions and how many products it has."""
        from sqlalchemy import func, select

        from bot.cli import load_app
        from core.models.configurator import ConfigFamily, ProductSpec

        app = load_app()
        with app.db.session() as session:
            counts = dict(session.execute(select(ProductSpec.family, func.count())
                                          .group_by(ProductSpec.family)).all())
            rows = list(session.scalars(select(ConfigFamily).order_by(ConfigFamily.code)))
            for row in rows:
                questions = ",".join(str(q.get("attr")) for q in row.spec.get("questions", []))
                click.echo(f"{row.code}\t{row.name}\tquestions={questions}"
                           f"\tproducts={counts.get(row.code, 0)}"
                           f"\t{'active' if row.active else 'inactive'}")
            if not rows:
                click.echo("no families")
