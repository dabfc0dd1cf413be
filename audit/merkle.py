"""RFC 9162 Merkle trees: hashing, proofs and their verification. Pure code, no database.

A tree over leaves D[0:n] is hashed as RFC 9162 section 2.1.1 says: a leaf is
SHA-256(0x00 || data), an interior node SHA-256(0x01 || left || right), the empty tree
SHA-256(""), and a tree of n > 1 leaves splits at k, the largest power of two below n.

The proofs are built from *perfect subtrees*: the node at (level, index) covers the aligned
leaves [index * 2**level, (index + 1) * 2**level). A log that stores every perfect subtree once
it is complete (see `audit.log`) can answer any root or proof with O(log n) lookups,
and an append costs O(log n) hashes at most (one on average). Every range that the RFC's
PATH and SUBPROOF algorithms need is an aligned range, so it is a right fold of at most
log2(n) perfect subtrees; `inclusion_ranges` and `consistency_ranges` list those ranges, so a
caller can fetch every node it needs in one query.

Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2. Two boundary policies match the
published vectors of the reference implementation: a consistency proof from an empty tree
(size 0) is refused as meaningless, and two checkpoints of equal non-zero size are consistent
only when their roots are equal and the proof is empty.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: (level, index) of a perfect subtree.
NodeId = tuple[int, int]
#: A half-open range of leaf indices [start, end).
Range = tuple[int, int]


class ProofError(ValueError):
    """A proof does not verify, or is malformed."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


# --------------------------------------------------------------------------- structure


def perfect_nodes(start: int, end: int) -> list[NodeId]:
    """The perfect subtrees whose right fold is MTH(D[start:end]), left to right.

    `start` must be aligned as in RFC trees: a multiple of the largest power of two that fits
    in the range.
    """
    nodes: list[NodeId] = []
    while start < end:
        size = end - start
        level = size.bit_length() - 1
        if start % (1 << level):
            raise ValueError(f"range [{start}, {end}) is not aligned as an RFC 9162 subtree")
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose hashes form the audit path PATH(index, D[0:size]), leaf upwards."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """The ranges whose hashes form PROOF(old_size, D[0:new_size]) (RFC 9162 2.1.4.1)."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    ranges: list[Range] = []
    m, start, end, whole = old_size, 0, new_size, True
    while True:
        n = end - start
        if m == n:
            if not whole:
                ranges.append((start, end))
            break
        k = split_point(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            m -= k
            start += k
            whole = False
    ranges.reverse()
    return ranges


def fold(hashes: Sequence[bytes]) -> bytes:
    """Right fold of perfect-subtree hashes into the hash of their range."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def range_hash(start: int, end: int, node: Callable[[int, int], bytes]) -> bytes:
    """MTH(D[start:end]) from the perfect subtrees that `node(level, index)` returns."""
    return fold([node(level, index) for level, index in perfect_nodes(start, end)])


def nodes_for(ranges: Iterable[Range]) -> set[NodeId]:
    """Every perfect subtree needed to hash the given ranges."""
    return {node for start, end in ranges for node in perfect_nodes(start, end)}


def root_nodes(size: int) -> list[NodeId]:
    """The perfect subtrees whose right fold is the root of a tree of `size` leaves."""
    return perfect_nodes(0, size)


def proof_from(ranges: Sequence[Range], nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    return [range_hash(start, end, lambda lv, ix: nodes[(lv, ix)]) for start, end in ranges]


# ------------------------------------------------------------------------ in memory


class CompactRange:
    """The right edge of a growing tree: one hash per set bit of its size.

    Appending a leaf costs at most log2(n) hashes; `completed` reports every perfect subtree
    that the append finished, so a log can store it. `root()` is O(log n).
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != len(root_nodes(size)):
            raise ValueError(f"a tree of size {size} has {size.bit_count()} edge hashes")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> list[tuple[NodeId, bytes]]:
        """Add a leaf hash; return the perfect subtrees of level >= 1 it completed."""
        completed: list[tuple[NodeId, bytes]] = []
        index, level, current = self.size, 0, leaf
        while index & 1:
            current = node_hash(self.hashes.pop(), current)
            index >>= 1
            level += 1
            completed.append(((level, index), current))
        self.hashes.append(current)
        self.size += 1
        return completed

    def root(self) -> bytes:
        return fold(self.hashes)


class MemoryTree:
    """A whole tree in memory: every perfect subtree of every level."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        self.levels[0].append(leaf)
        level, index = 0, self.size - 1
        while index & 1:
            if len(self.levels) == level + 1:
                self.levels.append([])
            row = self.levels[level]
            self.levels[level + 1].append(node_hash(row[index - 1], row[index]))
            level += 1
            index >>= 1

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return range_hash(0, self.size if size is None else size, self.node)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        ranges = inclusion_ranges(index, self.size if size is None else size)
        return [range_hash(start, end, self.node) for start, end in ranges]

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        ranges = consistency_ranges(old_size, self.size if new_size is None else new_size)
        return [range_hash(start, end, self.node) for start, end in ranges]


# --------------------------------------------------------------------- verification


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless `proof` shows leaf hash `leaf` at `index` in the tree `root`."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    if len(leaf) != HASH_SIZE:
        raise ProofError(f"a leaf hash has {HASH_SIZE} bytes, not {len(leaf)}")
    computed = root_from_inclusion(index, size, leaf, proof)
    if computed != root:
        raise ProofError("the inclusion proof leads to a different root")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.3.2: the root that an audit path implies."""
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return result


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless `proof` shows the tree `new_root` extends the tree `old_root`."""
    if old_size == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if old_size > new_size:
        raise ProofError(f"size {new_size} cannot extend the larger size {old_size}")
    if old_size == new_size:
        if proof:
            raise ProofError("trees of equal size need an empty consistency proof")
        if old_root != new_root:
            raise ProofError("trees of equal size have different roots")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    first, second = _roots_from_consistency(old_size, new_size, old_root, proof)
    if first != old_root:
        raise ProofError("the consistency proof does not lead to the old root")
    if second != new_root:
        raise ProofError("the consistency proof does not lead to the new root")


def _roots_from_consistency(
    old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """RFC 9162 2.1.4.2: the old and new roots that a consistency proof implies."""
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for sibling in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the trees need")
        if fn & 1 or fn == sn:
            first = node_hash(sibling, first)
            second = node_hash(sibling, second)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second = node_hash(second, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the trees need")
    return first, second
