"""A database URL that cannot be used stops every command with one line (password masked);
only the default SQLite file's directory is created on first run."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from core.db import DatabaseUnavailable, make_engine


@pytest.mark.parametrize("url, words", [
    ("sqlite:///{tmp}/missing/dir/x.db", "directory {tmp}/missing/dir does not exist"),
    ("mysql://x", "driver is not installed"),
    ("nosuchdb://x", "unknown database driver 'nosuchdb'"),
    ("postgresql+psycopg://sfa:s3cret-pw@127.0.0.1:1/sfa", "Connection refused"),
    ("not a url", "Invalid database URL"),
])
@pytest.mark.parametrize("command", [["health"], ["run"], ["users", "list"], ["db", "upgrade"],
                                     ["import", "contacts", "x.csv"]])
def test_unusable_url_stops_with_one_line(url: str, words: str, command: list[str],
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.csv").write_text("name,company\nA,B\n")
    monkeypatch.setenv("SFA_DATABASE_URL", url.format(tmp=tmp_path))
    monkeypatch.setenv("SFA_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(main, command)
    lines = result.output.strip().splitlines()
    if command == ["health"] and "Connection refused" in words:
        # A well-formed URL whose server is down: `sfa health` reports it as /healthz does.
        assert result.exit_code == 1 and lines == [
            '{"status": "fail", "database": "unreachable"}'], result.output
    else:
        assert result.exit_code == 2, result.output
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert words.format(tmp=tmp_path) in lines[0]
    assert "s3cret-pw" not in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "missing").exists()  # nothing created for a mistyped path
    assert not (tmp_path / "var").exists()


def test_only_the_default_directory_is_created(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    make_engine("sqlite:///var/sfa.db").dispose()
    assert (tmp_path / "var").is_dir()
    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        make_engine("sqlite:///other/sfa.db")
    (tmp_path / "afile").write_text("")
    with pytest.raises(DatabaseUnavailable, match="is not a directory"):
        make_engine(f"sqlite:///{tmp_path}/afile/x.db")
