"""The engine's steps, in the order one update passes them (see Engine.handle):

outside the transaction
    throttle      (throttle.py)   the per-user abuse limit
    clean         (clean.py)      control characters out, size limits
inside one transaction, under the (chat, user) lock
    deduplicate   (dedupe.py)     record the update id; a redelivery stops here
    identify      (identify.py)   the linked user, or invite codes for a stranger
    lock state    (state.py)      the conversation state row, locked for the transaction
    understand    (understand.py) what a typed message asks for
    route         (route.py)      commands, buttons, the open flow, a new flow
after it
    kept answers  (answers.py)    the replies kept until the door acknowledges the Outcome

Each step takes the update being handled (`Update`) and returns None to go on, or the
replies that answer it.
"""

from bot.conversations.pipeline.answers import Outcome
from bot.conversations.pipeline.update import Update

__all__ = ["Outcome", "Update"]
