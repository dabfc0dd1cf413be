"""The tamper-evident log: a Merkle tree over the event log, checkpoints, proofs, verify."""
