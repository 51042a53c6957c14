"""The example utterances of each flow family's intents (see bot.conversations.understanding).

One module per flow module, registered by that flow module's `register(registry)`.
"""
