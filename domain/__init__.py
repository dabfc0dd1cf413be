"""The write side of civledger: values, events, aggregates, rules and the register service."""
