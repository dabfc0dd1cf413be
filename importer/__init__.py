"""Bulk import: rows parsed (in worker processes), decided by the application's acts a batch at a time, appended in one transaction per batch."""
