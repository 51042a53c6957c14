"""Platform-neutral conversations: messages, the engine and one module per flow."""
