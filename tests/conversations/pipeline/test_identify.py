"""Step 4, identify: the linked user, a stranger, an invite code, a deactivated account."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.conversations.pipeline.identify import identify
from core import users as user_service
from core.clock import ManualClock
from core.models import ChatIdentity, User
from tests.conversations.pipeline.conftest import MakeUpdate


def test_linked_user_goes_on_in_their_language(linked: User, make_update: MakeUpdate) -> None:
    u = make_update(text="hi")
    assert identify(u) is None
    assert u.user is not None and u.user.login == "budi"
    assert u.identity is not None and u.t.locale == u.user.locale
    assert u.state is None  # no state row yet: the next step creates it


def test_private_chat_moves_where_pushes_go(linked: User, make_update: MakeUpdate,
                                            session: Session) -> None:
    u = make_update(text="hi", chat_id="c-new")
    assert identify(u) is None
    assert u.identity is not None and u.identity.chat_id == "c-new"
    group = make_update(text="hi", chat_id="g-1", chat_is_group=True, addressed=True)
    assert identify(group) is None
    assert group.identity is not None and group.identity.chat_id == "c-new"


def test_stranger_is_told_how_to_start_and_silent_in_groups(world: object,
                                                            make_update: MakeUpdate) -> None:
    replies = identify(make_update(user_id="nobody", text="hello"))
    assert replies is not None and "/start" in replies[0].text and replies[0].ephemeral
    assert identify(make_update(user_id="nobody", text="hi", chat_is_group=True)) == []
    bad = identify(make_update(user_id="nobody", text="/start WRONGCODE"))
    assert bad is not None and "not valid" in bad[0].text


def test_invite_code_links_the_stranger(world: object, session: Session, clock: ManualClock,
                                        make_update: MakeUpdate) -> None:
    admin = session.query(User).filter_by(login="budi").one()
    code = user_service.create_invite(session, admin, now=clock.now()).code
    replies = identify(make_update(user_id="new-1", chat_id="new-1", text=f"/start {code}"))
    assert replies is not None and "Your chat is now linked" in replies[0].text
    assert session.query(ChatIdentity).filter_by(external_id="new-1").one().user_id == admin.id


def test_deactivated_account_is_refused(linked: User, session: Session,
                                        make_update: MakeUpdate) -> None:
    session.get(User, linked.id).active = False  # type: ignore[union-attr]
    replies = identify(make_update(text="hi"))
    assert replies is not None and "deactivated" in replies[0].text
