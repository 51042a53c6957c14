"""`sfa contacts merge A B` and `sfa companies merge A B`: a manager's (or admin's) merge of
a duplicate into the record kept, from the shell."""

from __future__ import annotations

import click


def _merge(kind: str, keep: str, drop: str, by: str | None, yes: bool) -> None:
    from bot.cli import english, fail, load_app
    from core import customers as svc
    from core import users as user_service
    from core.errors import DomainError
    from core.models import Role, User

    app = load_app()
    t = english(app)
    with app.db.session() as session:
        if by:
            try:
                actor = user_service.get_user_by_login(session, by)
            except DomainError:
                fail(f"no user with login {by!r}")
        else:
            from sqlalchemy import select

            found = session.scalar(select(User).where(User.role == Role.ADMIN.value,
                                                      User.active).order_by(User.id).limit(1))
            if found is None:
                fail("no active admin: name the manager who merges with --by LOGIN")
            actor = found
        try:
            if kind == "contact":
                kept, gone = (svc.find_contact_ref(session, actor, keep),
                              svc.find_contact_ref(session, actor, drop))
                what = f"contact {gone.name} (#{gone.id}) into {kept.name} (#{kept.id})"
            else:
                kept_c, gone_c = (svc.find_company_ref(session, actor, keep),
                                  svc.find_company_ref(session, actor, drop))
                what = f"company {gone_c.name} (#{gone_c.id}) into {kept_c.name} (#{kept_c.id})"
            if not yes:
                click.confirm(f"Merge {what}? The duplicate is removed", abort=True,
                              err=True)
            if kind == "contact":
                record = svc.merge_contacts(session, actor, kept.id, gone.id,
                                            now=app.clock.now())
            else:
                record = svc.merge_companies(session, actor, kept_c.id, gone_c.id,
                                             now=app.clock.now())
        except DomainError as exc:
            fail(t.error(exc.code, exc.params))
        moved = ", ".join(f"{count} {table}" for table, count in sorted(record.moved.items()))
        click.echo(f"merged {what}; moved: {moved or 'nothing'}; recorded as merge "
                   f"#{record.id} by {actor.login}")


def register(main: click.Group) -> None:
    """Add `sfa contacts merge` and `sfa companies merge`."""

    @main.group("contacts")
    def contacts_group() -> None:
        """Contacts: merge duplicates."""

    @main.group("companies")
    def companies_group() -> None:
        """Companies: merge duplicates."""

    for group, kind, noun in ((contacts_group, "contact", "contact"),
                              (companies_group, "company", "company")):
        @group.command("merge", help=(
            f"Merge the duplicate {noun} DUPLICATE into KEEP (id, exact name"
            f"{' or e-mail' if kind == 'contact' else ''}): its activities, deals, "
            "follow-ups and materials move to KEEP; the merge is recorded."))
        @click.argument("keep")
        @click.argument("duplicate")
        @click.option("--by", "by", default=None,
                      help="Login of the manager or admin who merges (default: an admin).")
        @click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
        def merge(keep: str, duplicate: str, by: str | None, yes: bool,
                  _kind: str = kind) -> None:
            _merge(_kind, keep, duplicate, by, yes)
