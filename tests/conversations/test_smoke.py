from tests.support.chat import CollectingChat, texts


async def test_help_lists_role_commands(chat: CollectingChat) -> None:
    budi = chat.as_user("budi")
    out = texts(await budi.say("/help"))
    assert "/whoami" in out
    assert "/invite" not in out  # admins only
    admin = chat.as_user("admin")
    assert "/invite" in texts(await admin.say("/help"))
