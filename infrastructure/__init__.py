"""Infrastructure: store URLs, settings, SQLite and PostgreSQL backends, the mapper, GC tuning."""
