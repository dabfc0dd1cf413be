"""The agency verification service: an HTTP entry point beside the CLI (docs/service.md)."""
