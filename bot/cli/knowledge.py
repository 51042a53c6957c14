"""`sfa` commands of the knowledge area: import files, sync a watched folder, list the
library, rebuild the search index."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from bot.cli import english, fail


def _owner(session, login: str | None):
    from core import users as user_service
    from core.errors import NotFound

    if login is None:
        return None
    try:
        return user_service.get_user_by_login(session, login)
    except NotFound:
        fail(f"no user with login {login!r} (see `sfa users list`)")


def _print_report(report, verbose: bool) -> None:
    click.echo(f"added {len(report.added)}, updated {len(report.updated)}, unchanged "
               f"{len(report.unchanged)}, failed {len(report.failed)}")
    if verbose:
        for kind in ("added", "updated"):
            for path in getattr(report, kind):
                click.echo(f"  {kind}: {path}")
    for path, reason in report.failed:
        click.echo(f"  cannot read {path}: {reason}", err=True)


def _reason(exc, t) -> str:
    """Words for a refused file: the limit it hit in full, else the code and its reason."""
    from core.textextract import LIMIT_CODES

    if exc.code in LIMIT_CODES:
        return t.error(exc.code, exc.params)
    reason = exc.params.get("reason")
    return exc.code + (f" ({reason})" if reason else "")


def _sync_index(app) -> int:
    if app.services.knowledge is None:
        return 0
    with app.db.session() as session:
        return app.services.knowledge.sync(session).upserted


def register(main: click.Group) -> None:
    """Add `sfa kb ...` and `sfa index rebuild`."""

    @main.group("kb")
    def kb_group() -> None:
        """The document library (knowledge management)."""

    @kb_group.command("add")
    @click.argument("paths", nargs=-1, required=True,
                    type=click.Path(exists=True, path_type=Path))
    @click.option("--owner", default="admin", show_default=True, help="Owner login.")
    @click.option("--draft", is_flag=True, help="Add as drafts instead of published.")
    @click.option("-v", "--verbose", is_flag=True)
    def kb_add(paths: tuple[Path, ...], owner: str, draft: bool, verbose: bool) -> None:
        """Import files or folders (.md .txt .pdf .docx .pptx); a changed file becomes a new
        version, an unreadable one is reported and skipped."""
        from core import knowledge
        from core.errors import DomainError

        app = load()
        files = list(knowledge.iter_files(paths))
        if not files:
            fail("no .md, .txt, .pdf, .docx or .pptx files found there")
        with app.db.session() as session:
            user = _owner(session, owner)
            report = knowledge.ImportReport()
            with click.progressbar(files, label="Importing", show_pos=True,
                                   file=sys.stderr) as bar:
                for path in bar:
                    try:
                        with session.begin_nested():
                            _doc, outcome = knowledge.import_file(
                                session, path, owner=user, now=app.clock.now(),
                                status="draft" if draft else "published")
                    except DomainError as exc:
                        report.failed.append((str(path), _reason(exc, english(app))))
                    except OSError as exc:
                        report.failed.append((str(path), str(exc)))
                    else:
                        getattr(report, outcome).append(str(path))
        indexed = _sync_index(app)
        _print_report(report, verbose)
        click.echo(f"indexed {indexed} document(s)")
        if report.failed:
            raise SystemExit(1)

    @kb_group.command("sync")
    @click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--owner", default="admin", show_default=True, help="Owner of new files.")
    @click.option("--every", type=click.IntRange(min=5), default=None,
                  help="Keep watching: re-sync every N seconds until interrupted.")
    def kb_sync(folder: Path, owner: str, every: int | None) -> None:
        """The watched-folder source: import new files, re-version changed ones, archive
        documents whose file was removed."""
        from core import knowledge

        app = load()
        while True:
            with app.db.session() as session:
                report = knowledge.sync_folder(session, folder, owner=_owner(session, owner),
                                               now=app.clock.now())
            indexed = _sync_index(app)
            _print_report(report, False)
            click.echo(f"indexed {indexed} document(s)")
            if every is None:
                return
            try:
                time.sleep(every)
            except KeyboardInterrupt:
                return

    @kb_group.command("list")
    @click.option("--all", "show_all", is_flag=True, help="Include drafts and archived.")
    def kb_list(show_all: bool) -> None:
        """List the documents of the library."""
        from sqlalchemy import select

        from core.models.knowledge import Document

        app = load()
        with app.db.session() as session:
            stmt = select(Document).order_by(Document.doc_type, Document.title)
            if not show_all:
                stmt = stmt.where(Document.status == "published")
            for d in session.scalars(stmt):
                lock = " [checked out]" if d.locked_by_id else ""
                click.echo(f"#{d.id:<5} {d.doc_type:<18} v{d.version:<3} {d.status:<9} "
                           f"{d.language}  {d.title}{lock}")

    @main.group("index")
    def index_group() -> None:
        """The search index (derived data, rebuildable)."""

    @index_group.command("rebuild")
    @click.option("--batch", default=1000, show_default=True, type=click.IntRange(1))
    def index_rebuild(batch: int) -> None:
        """Recreate this node's knowledge index from the database."""
        from sqlalchemy import func, select

        from core import knowledge, migrate
        from core.db import Database, DatabaseUnavailable
        from core.knowledge_search import rebuild_index
        from core.models.knowledge import Document
        from core.settings import Settings
        from search_index import WhooshKnowledgeIndex

        settings = Settings()
        try:  # no full app: its start-up sync would index everything once before the rebuild
            db = Database(settings.resolved_database_url())
            db.check()
            migrate.upgrade(db.engine)
        except DatabaseUnavailable as exc:
            fail(str(exc))
        index = WhooshKnowledgeIndex(settings.data_dir / "index" / "knowledge")
        started = time.perf_counter()
        with db.session() as session:
            total = session.scalar(select(func.count(Document.id)).where(
                Document.status.in_(knowledge.SEARCHABLE))) or 0
            with click.progressbar(length=total, label="Indexing", show_pos=True,
                                   file=sys.stderr) as bar:
                done = rebuild_index(session, index, batch=batch, progress=bar.update)
        click.echo(f"indexed {done} document(s) in {time.perf_counter() - started:.1f} s")


def load():
    from bot.cli import load_app

    return load_app()
