"""What an auditor keeps and checks offline: leaves, checkpoints and proof documents.

Nothing here touches a database, so `civledger audit check-proof` runs anywhere. The formats
are described in docs/audit.md; hashes are base64 (as in RFC 9162's tooling), except the
SHA-256 of an event's stored state, which is hex.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from audit.errors import LedgerTampered
from audit.merkle import HASH_SIZE, ProofError, leaf_hash, verify_consistency, verify_inclusion
from domain.errors import InvalidInput

#: The first byte of every leaf: the version of the leaf encoding (docs/adr/008). Version 1
#: is a row with no login stamped (SQLite, or appended before logins were stamped); version 2
#: adds the login that appended the row.
LEAF_FORMAT = 1
LEAF_FORMAT_WITH_LOGIN = 2
INCLUSION_FORMAT = "civledger/inclusion-proof/v1"
CONSISTENCY_FORMAT = "civledger/consistency-proof/v1"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{what} is not valid base64: {text!r}") from None


@dataclass(frozen=True)
class EventLeaf:
    """The canonical record of one stored event, as a Merkle leaf.

    Encoding (big-endian): format u8 | position u64 | originator id (16 bytes) | version u64 |
    topic length u16 | topic (UTF-8) | SHA-256 of the state bytes as stored (32 bytes); format
    2 then adds: login length u16 | login (UTF-8). A row without a login is format 1, byte for
    byte as before logins were stamped.
    """

    position: int
    originator_id: UUID
    version: int
    topic: str
    state_sha256: bytes
    #: The login that appended the row, as the database stamped it; None: none stamped.
    recorded_by: str | None = None

    @classmethod
    def of_stored(
        cls,
        position: int,
        originator_id: UUID,
        version: int,
        topic: str,
        state: bytes,
        recorded_by: str | None = None,
    ) -> EventLeaf:
        digest = hashlib.sha256(state).digest()
        return cls(position, originator_id, version, topic, digest, recorded_by)

    @property
    def format(self) -> int:
        return LEAF_FORMAT if self.recorded_by is None else LEAF_FORMAT_WITH_LOGIN

    def encode(self) -> bytes:
        topic = self.topic.encode("utf-8")
        encoded = (
            struct.pack(
                ">BQ16sQH",
                self.format,
                self.position,
                self.originator_id.bytes,
                self.version,
                len(topic),
            )
            + topic
            + self.state_sha256
        )
        if self.recorded_by is not None:
            login = self.recorded_by.encode("utf-8")
            encoded += struct.pack(">H", len(login)) + login
        return encoded

    def hash(self) -> bytes:
        return leaf_hash(self.encode())

    def document(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "originator_id": str(self.originator_id),
            "version": self.version,
            "topic": self.topic,
            "state_sha256": self.state_sha256.hex(),
            **({} if self.recorded_by is None else {"recorded_by": self.recorded_by}),
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> EventLeaf:
        try:
            digest = bytes.fromhex(str(doc["state_sha256"]))
            leaf = cls(
                position=_int(doc["position"], "position"),
                originator_id=UUID(str(doc["originator_id"])),
                version=_int(doc["version"], "version"),
                topic=str(doc["topic"]),
                state_sha256=digest,
                recorded_by=None if doc.get("recorded_by") is None else str(doc["recorded_by"]),
            )
        except KeyError as missing:
            raise InvalidInput(f"a proof entry lacks {missing}") from None
        except ValueError as error:
            raise InvalidInput(f"a proof entry is malformed: {error}") from None
        if len(digest) != HASH_SIZE:
            raise InvalidInput("state_sha256 must be 32 bytes in hex")
        return leaf


@dataclass(frozen=True)
class Checkpoint:
    """A signed-off state of the log: its size, its root hash, and when it was made."""

    size: int
    root: bytes
    at: datetime

    def document(self) -> dict[str, Any]:
        return {"size": self.size, "root": b64(self.root), "at": self.at.isoformat()}

    @classmethod
    def from_document(cls, doc: object, what: str = "checkpoint") -> Checkpoint:
        if not isinstance(doc, dict):
            raise InvalidInput(f"{what} must be a JSON object with size, root and at")
        missing = [key for key in ("size", "root", "at") if key not in doc]
        if missing:
            raise InvalidInput(f"{what} lacks {missing[0]!r}")
        size = _int(doc["size"], f"{what} size")
        root = unb64(doc["root"], f"{what} root")
        if not isinstance(doc["at"], str):
            raise InvalidInput(f"{what} has a bad time: {doc['at']!r}")
        try:
            at = datetime.fromisoformat(doc["at"])
        except ValueError:
            raise InvalidInput(f"{what} has a bad time: {doc['at']!r}") from None
        if len(root) != HASH_SIZE:
            raise InvalidInput(f"{what} root must be a base64 SHA-256 hash")
        return cls(size, root, at if at.tzinfo else at.replace(tzinfo=UTC))


@dataclass(frozen=True)
class InclusionProof:
    leaf: EventLeaf
    leaf_index: int
    path: list[bytes]

    def document(self) -> dict[str, Any]:
        return {
            **self.leaf.document(),
            "leaf_index": self.leaf_index,
            "leaf_hash": b64(self.leaf.hash()),
            "path": [b64(h) for h in self.path],
        }


@dataclass(frozen=True)
class InclusionProofs:
    """Every event of one person, each with its audit path to one checkpoint."""

    person_id: UUID
    checkpoint: Checkpoint
    proofs: list[InclusionProof]
    #: Positions of the person's events that the checkpoint does not cover yet.
    pending: list[int] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {
            "format": INCLUSION_FORMAT,
            "person_id": str(self.person_id),
            "checkpoint": self.checkpoint.document(),
            "events": [proof.document() for proof in self.proofs],
            "pending_positions": list(self.pending),
        }


@dataclass(frozen=True)
class ConsistencyProof:
    old: Checkpoint
    new: Checkpoint
    path: list[bytes]

    def document(self) -> dict[str, Any]:
        return {
            "format": CONSISTENCY_FORMAT,
            "old": self.old.document(),
            "new": self.new.document(),
            "proof": [b64(h) for h in self.path],
        }

    def verify(self) -> None:
        """Raise LedgerTampered unless the new checkpoint extends the old one."""
        if self.old.size == 0:
            return  # every log extends the empty log
        try:
            verify_consistency(
                self.old.size, self.new.size, self.old.root, self.new.root, self.path
            )
        except ProofError as error:
            raise LedgerTampered(
                f"the log of size {self.new.size} does not extend the checkpoint of size "
                f"{self.old.size}: {error}"
            ) from error


@dataclass(frozen=True)
class ProofCheck:
    """The outcome of an offline check: what was proven against which checkpoint."""

    format: str
    checkpoint: Checkpoint
    positions: list[int]

    def document(self) -> dict[str, Any]:
        return {
            "valid": True,
            "format": self.format,
            "checkpoint": self.checkpoint.document(),
            "positions": self.positions,
        }


def check_proof(doc: object, trusted: Checkpoint | None = None) -> ProofCheck:
    """Verify a saved proof document offline. Malformed: InvalidInput; false: LedgerTampered."""
    if not isinstance(doc, dict):
        raise InvalidInput("a proof file holds one JSON object")
    kind = doc.get("format")
    if kind == INCLUSION_FORMAT:
        return _check_inclusion(doc, trusted)
    if kind == CONSISTENCY_FORMAT:
        return _check_consistency(doc, trusted)
    raise InvalidInput(
        f"unknown proof format {kind!r}: expected {INCLUSION_FORMAT} or {CONSISTENCY_FORMAT}"
    )


def _check_inclusion(doc: dict[str, Any], trusted: Checkpoint | None) -> ProofCheck:
    checkpoint = Checkpoint.from_document(doc.get("checkpoint"), "the proof's checkpoint")
    _match_trusted(checkpoint, trusted)
    entries = doc.get("events")
    if not isinstance(entries, list) or not entries:
        raise InvalidInput("the proof lists no events")
    positions = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise InvalidInput("each proven event is a JSON object")
        leaf = EventLeaf.from_document(entry)
        claimed = unb64(entry.get("leaf_hash"), "leaf_hash")
        path = entry.get("path")
        if not isinstance(path, list):
            raise InvalidInput("each proven event needs a path (a list of base64 hashes)")
        index = _int(entry.get("leaf_index"), "leaf_index")
        if claimed != leaf.hash():
            raise LedgerTampered(
                f"position {leaf.position}: leaf_hash does not match the event's fields"
            )
        try:
            verify_inclusion(
                index,
                checkpoint.size,
                leaf.hash(),
                [unb64(h, "path") for h in path],
                checkpoint.root,
            )
        except ProofError as error:
            raise LedgerTampered(
                f"position {leaf.position} is not proven in the log of size "
                f"{checkpoint.size}: {error}"
            ) from error
        positions.append(leaf.position)
    return ProofCheck(INCLUSION_FORMAT, checkpoint, positions)


def _check_consistency(doc: dict[str, Any], trusted: Checkpoint | None) -> ProofCheck:
    old = Checkpoint.from_document(doc.get("old"), "the old checkpoint")
    new = Checkpoint.from_document(doc.get("new"), "the new checkpoint")
    path = doc.get("proof")
    if not isinstance(path, list):
        raise InvalidInput("a consistency proof needs a proof (a list of base64 hashes)")
    if trusted is not None and (trusted.size, trusted.root) not in (
        (old.size, old.root),
        (new.size, new.root),
    ):
        raise LedgerTampered(
            f"the proof connects sizes {old.size} and {new.size}, neither of which is your "
            f"checkpoint (size {trusted.size}) with its root"
        )
    ConsistencyProof(old, new, [unb64(h, "proof") for h in path]).verify()
    return ProofCheck(CONSISTENCY_FORMAT, new, [])


def _match_trusted(checkpoint: Checkpoint, trusted: Checkpoint | None) -> None:
    if trusted is None:
        return
    if (trusted.size, trusted.root) != (checkpoint.size, checkpoint.root):
        raise LedgerTampered(
            f"the proof is against size {checkpoint.size} with root {b64(checkpoint.root)}, "
            f"but your checkpoint has size {trusted.size} with root {b64(trusted.root)}"
        )


#: The largest position, size or version a log can hold (a signed 64-bit integer, as both
#: stores keep positions).
MAX_INT = 2**63 - 1


def _int(value: object, what: str) -> int:
    """A whole number from 0 to `MAX_INT`: not a boolean, a float or a string."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        shown = repr(value)
        shown = shown if len(shown) <= 40 else f"{shown[:37]}..."
        raise InvalidInput(f"{what} must be a whole number from 0 to {MAX_INT}, got {shown}")
    return value
