"""The domain of the SFA assistant: models and services, free of any chat platform."""
