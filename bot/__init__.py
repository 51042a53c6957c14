"""The chat side: the neutral conversation engine, its flows, and the doors (handlers)."""
