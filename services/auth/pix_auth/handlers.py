"""Auth consumes no events yet; it publishes UserRegistered (see app.py)."""
