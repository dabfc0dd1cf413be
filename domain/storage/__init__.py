"""Storage backends, chosen by configuration (see `domain.store`), never imported by the domain."""
