"""One clarifying question when the bot is not sure what a message asks for.

The engine starts this flow with the few intents worth offering ("Do you want: [Who handles
Maju Bersama] [Log a visit to Maju Bersama]"); a tap starts the chosen one with what the
message named. Anything typed instead is handled as a new message.
"""

from __future__ import annotations

from bot.conversations.flow import ALL_ROLES, Ctx, Flow, Step, done, goto
from bot.conversations.messages import Button, Incoming, button_rows
from bot.conversations.registry import Registry
from bot.conversations.understanding import routing


async def ask(ctx: Ctx, inc: Incoming) -> Step:
    """Offer the choices the engine passed."""
    choices = routing.decode_choices(ctx.args.get("choices", ""))
    if not choices:
        return done(ctx.t("I did not understand that. Send /help to see what I can do."))
    understander = ctx.engine.understander
    ctx.data["choices"] = [[name, args] for name, args in choices]
    buttons = [Button(routing.choice_label(ctx.t, understander, name, args), value=str(i))
               for i, (name, args) in enumerate(choices)]
    buttons.append(Button(ctx.t("Something else"), value="none"))
    return goto("choose", ctx.reply(ctx.t("I am not sure what you mean. Do you want:"),
                                    *button_rows(buttons, 1)))


async def choose(ctx: Ctx, inc: Incoming) -> Step:
    """Start the chosen request."""
    value = inc.button or ""
    choices = ctx.data.get("choices") or []
    if value == "none" or not value.isdigit() or int(value) >= len(choices):
        return done(ctx.t("OK. Tell me in other words, or send /help to see what I can do."))
    name, args = choices[int(value)]
    phrasing = ctx.engine.understander.phrasings.get(name)
    if phrasing is None:
        return done(ctx.t("That button is no longer valid."))
    return await ctx.begin(phrasing.flow, **args)


def register(registry: Registry) -> None:
    """Register the clarifying question."""
    registry.add_flow(Flow(routing.CLARIFY_FLOW, start=ask, states={"choose": choose},
                           roles=ALL_ROLES, accepts={"choose": "button"}, help=""))



