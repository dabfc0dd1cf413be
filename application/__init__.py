"""The application layer: each act decided once, through a port for state."""
