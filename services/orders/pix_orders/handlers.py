"""Orders consumes no events yet; it only publishes (see `declare_publishers` in app.py)."""
