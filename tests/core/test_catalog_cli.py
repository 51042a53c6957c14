"""`sfa import products|pricelists FILE.csv`: a row report, idempotent, errors by row."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bot.cli import main


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_import_products_and_price_lists(tmp_path: Path) -> None:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "CRITICAL"}
    assert run(env, "db", "upgrade")[0] == 0
    products = tmp_path / "products.csv"
    products.write_text(
        "sku;name;category;unit;tax_rate\n"
        "NB-1;Notebook 1;laptops;unit;11\n"
        "NB-2;Notebook 2;laptops;unit;11\n"
        ";No SKU;laptops;unit;11\n"
        "NB-3;Bad tax;laptops;unit;lots\n", encoding="utf-8")
    code, out, _ = run(env, "import", "products", str(products))
    assert code == 0, out
    assert ("products.csv: 4 rows, imported 2: 2 created, 0 updated, 0 unchanged; "
            "2 with errors") in out
    assert "line 4: sku and name are required" in out
    assert "line 5: tax_rate is not a number of zero or more: lots" in out
    code, out, _ = run(env, "import", "products", str(products))
    assert "imported 2: 0 created, 0 updated, 2 unchanged" in out

    prices = tmp_path / "prices.csv"
    prices.write_text(
        "price_list,currency,segment,valid_from,valid_to,sku,unit_price,floor_price\n"
        "STD-2026,IDR,,2026-01-01,2026-12-31,NB-1,15000000,12000000\n"
        "STD-2026,IDR,,2026-01-01,2026-12-31,NB-2,17000000,\n"
        "STD-2026,IDR,,2026-01-01,2026-12-31,NOPE,1,\n", encoding="utf-8")
    code, out, _ = run(env, "import", "pricelists", str(prices), "--dry-run")
    assert "3 rows, would import 2: 2 created" in out
    code, out, _ = run(env, "import", "pricelists", str(prices))
    assert "imported 2: 2 created, 0 updated, 0 unchanged; 1 with errors" in out
    assert "line 4: unknown sku NOPE (import the products first)" in out
    code, out, _ = run(env, "import", "pricelists", str(prices))
    assert "imported 2: 0 created, 0 updated, 2 unchanged" in out

    bad = tmp_path / "bad.csv"
    bad.write_text("name,price\nx,1\n", encoding="utf-8")
    code, _, err = run(env, "import", "pricelists", str(bad))
    assert code == 2 and "missing columns price_list, currency, sku, unit_price" in err
    code, _, err = run(env, "import", "products", str(tmp_path / "none.csv"))
    assert code == 2 and "no file" in err
