"""Storage backends, selected by configuration (see `domain.store`), never imported by the domain."""
