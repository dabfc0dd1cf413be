"""Infrastructure: store URLs and settings, the SQLite and PostgreSQL backends, the event mapper, store errors, GC tuning."""
