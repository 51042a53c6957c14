"""`sfa chat --script`: one deal from Opportunity generated to Order placed, answering every
gate (a refused jump on the way), then its history; plus `sfa territory` and `sfa import
leads` through the real CLI."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bot.cli import main

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def test_deal_from_opportunity_to_order_through_the_cli(tmp_path: Path) -> None:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "CRITICAL"}
    runner = CliRunner()
    seeded = runner.invoke(main, ["seed", "--companies", "30", "--contacts", "60"], env=env)
    assert seeded.exit_code == 0, seeded.output
    run = runner.invoke(main, ["chat", "--as", "budi", "--script",
                               str(SCENARIOS / "pipeline_deal.txt"),
                               "--now", "2026-03-02T02:00:00+00:00"], env=env)
    assert run.exit_code == 0, run.output
    out = run.stdout
    assert "Territory Jakarta: it will be allocated to a rep by rule." in out
    assert "bot → budi: 📥 Lead #" in out and "is yours" in out
    assert "Prospect contacted needs a logged visit" in out
    assert "You cannot jump to Order placed: Prospect qualified comes first" in out
    for stage in ("Prospect contacted", "Prospect qualified", "Solution identified",
                  "Order placed"):
        assert f"moved to {stage}." in out
    assert "📌 Scheduled: Book a meeting on Tue 3 Mar 2026 09:00." in out
    assert "Stage: Order placed (100%)" in out
    history = out.split("History of ")[-1]
    assert "- → Opportunity generated" in history
    assert "Opportunity generated → Lead allocated (allocated by rule)" in history
    assert "Solution identified → Order placed" in history

    leads = tmp_path / "leads.csv"
    leads.write_text("company,contact,need,source,amount\n"
                     "Sinar Jaya Abadi,Joko Susilo,Laptops,event,150000000\n"
                     "Atlantis Corp,,Boats,web,\n", encoding="utf-8")
    imported = runner.invoke(main, ["import", "leads", str(leads)], env=env)
    assert imported.exit_code == 0, imported.output
    assert "2 rows, imported 1: 1 created" in imported.output
    assert "1 with errors" in imported.output
    assert 'line 3: no company "Atlantis Corp"' in imported.output

    added = runner.invoke(main, ["territory", "add", "Jakarta Hotels", "--region", "Jakarta",
                                 "--industry", "Hospitality", "--team", "Java West"], env=env)
    assert added.exit_code == 0, added.output
    rep = runner.invoke(main, ["territory", "rep", "Jakarta Hotels", "sari"], env=env)
    assert rep.exit_code == 0, rep.output
    bad = runner.invoke(main, ["territory", "rep", "Nowhere", "sari"], env=env)
    assert bad.exit_code != 0 and "There is no territory called Nowhere" in bad.output
    listed = runner.invoke(main, ["territory", "list"], env=env)
    assert "Jakarta Hotels\tregion=Jakarta\tindustry=Hospitality\tteam=Java West" in \
        listed.output and "reps=sari" in listed.output
