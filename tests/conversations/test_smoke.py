from tests.support.chat import CollectingChat, texts


async def test_help_lists_role_commands(chat: CollectingChat) -> None:
    budi = chat.as_user("budi")
    out = texts(await budi.say("/help"))
    assert "/whoami" in out
    assert "/invite" not in out  # admins only
    admin = chat.as_user("admin")
    assert "/invite" in texts(await admin.say("/help"))


async def test_greetings_and_thanks_get_a_word_not_a_customer_search(chat) -> None:
    from tests.support.chat import texts

    budi = chat.as_user("budi")
    assert "Hi Budi Santoso!" in texts(await budi.say("hi"))
    assert "Hi Budi Santoso!" in texts(await budi.say("Selamat pagi!"))
    assert "You're welcome, Budi Santoso!" in texts(await budi.say("thanks!"))
    assert "/jobs" in texts(await chat.as_user("wayan").say("halo"))
    assert "Sama-sama" not in texts(await budi.say("terima kasih"))  # budi reads English
    # A name alone is still a customer search, and a miss names what was looked for.
    out = texts(await budi.say("zzqx industries"))
    assert '"zzqx industries"' in out and "/help" in out
    out = texts(await budi.say("could you zzqx the frobnicator for me"))
    assert 'did not understand "zzqx frobnicator"' in out
