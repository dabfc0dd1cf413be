"""Bulk import: rows parsed, then decided by the application's acts a batch at a time."""
