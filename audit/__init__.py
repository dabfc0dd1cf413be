"""The tamper-evident log: an RFC 9162 Merkle tree over the event log, checkpoints, proofs and `audit verify`."""
