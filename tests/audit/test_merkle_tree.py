"""The tree, its proofs and their verification, against an independent reference.

The reference below is RFC 9162 section 2.1 read literally: MTH, PATH and PROOF as recursive
definitions over the list of leaves, with no stored nodes and no shared code.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTree,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(data: list[bytes]) -> bytes:
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = _largest_power_of_two_below(len(data))
    return hashlib.sha256(b"\x01" + mth(data[:k]) + mth(data[k:])).digest()


def path(m: int, data: list[bytes]) -> list[bytes]:
    if len(data) == 1:
        return []
    k = _largest_power_of_two_below(len(data))
    if m < k:
        return [*path(m, data[:k]), mth(data[k:])]
    return [*path(m - k, data[k:]), mth(data[:k])]


def subproof(m: int, data: list[bytes], complete: bool) -> list[bytes]:
    if m == len(data):
        return [] if complete else [mth(data)]
    k = _largest_power_of_two_below(len(data))
    if m <= k:
        return [*subproof(m, data[:k], complete), mth(data[k:])]
    return [*subproof(m - k, data[k:], False), mth(data[:k])]


def entries(n: int) -> list[bytes]:
    return [f"event {i}".encode() for i in range(n)]


def tree_of(data: list[bytes]) -> MemoryTree:
    return MemoryTree(leaf_hash(d) for d in data)


SMALL = range(1, 65)


def test_the_empty_tree_hashes_the_empty_string() -> None:
    assert MemoryTree().root() == EMPTY_ROOT == mth([])
    assert CompactRange().root() == EMPTY_ROOT


@pytest.mark.parametrize("n", SMALL)
def test_root_matches_the_reference_for_every_size_up_to_64(n: int) -> None:
    data = entries(n)
    tree = tree_of(data)
    edge = CompactRange()
    for d in data:
        edge.append(leaf_hash(d))
    assert tree.root() == mth(data)
    assert edge.root() == mth(data)
    assert all(tree.root(size) == mth(data[:size]) for size in range(n + 1))


@pytest.mark.parametrize("n", SMALL)
def test_every_audit_path_matches_the_reference_and_verifies(n: int) -> None:
    data = entries(n)
    tree = tree_of(data)
    root = mth(data)
    for m in range(n):
        proof = tree.inclusion_proof(m)
        assert proof == path(m, data)
        verify_inclusion(m, n, leaf_hash(data[m]), proof, root)


@pytest.mark.parametrize("n", SMALL)
def test_every_consistency_proof_matches_the_reference_and_verifies(n: int) -> None:
    data = entries(n)
    tree = tree_of(data)
    for m in range(1, n + 1):
        proof = tree.consistency_proof(m, n)
        assert proof == subproof(m, data, True)
        verify_consistency(m, n, mth(data[:m]), mth(data), proof)


@settings(max_examples=25, deadline=None)
@given(st.integers(65, 3000), st.data())
def test_large_trees_match_the_reference(n: int, draw: st.DataObject) -> None:
    data = entries(n)
    tree = tree_of(data)
    m = draw.draw(st.integers(0, n - 1), label="leaf")
    old = draw.draw(st.integers(1, n), label="old size")
    assert tree.root() == mth(data)
    assert tree.inclusion_proof(m) == path(m, data)
    assert tree.consistency_proof(old) == subproof(old, data, True)
    verify_inclusion(m, n, leaf_hash(data[m]), tree.inclusion_proof(m), tree.root())
    verify_consistency(old, n, tree.root(old), tree.root(), tree.consistency_proof(old))


def _flip(hash_: bytes, bit: int) -> bytes:
    return bytes([*hash_[: bit // 8], hash_[bit // 8] ^ (1 << (bit % 8)), *hash_[bit // 8 + 1 :]])


@pytest.mark.parametrize("n", [2, 3, 5, 8, 13, 31, 64])
def test_tampered_inclusion_proofs_fail(n: int) -> None:
    data = entries(n)
    tree = tree_of(data)
    root = tree.root()
    for m in range(n):
        leaf = leaf_hash(data[m])
        proof = tree.inclusion_proof(m)
        tampered: list[tuple[int, bytes, list[bytes], bytes]] = [
            (m, leaf, proof[:-1], root),  # truncated path
            (m, leaf, [*proof, proof[-1]], root),  # extended path
            ((m + 1) % n, leaf, proof, root),  # wrong index
            (m, _flip(leaf, 3), proof, root),  # flipped bit in the leaf
            (m, leaf, proof, _flip(root, 255)),  # flipped bit in the root
        ]
        tampered += [
            (m, leaf, [*proof[:i], _flip(h, 7 * i), *proof[i + 1 :]], root)
            for i, h in enumerate(proof)
        ]
        for index, claimed, steps, expected in tampered:
            with pytest.raises(ProofError):
                verify_inclusion(index, n, claimed, steps, expected)


@pytest.mark.parametrize("n", [3, 5, 8, 13, 31, 64])
def test_tampered_consistency_proofs_fail(n: int) -> None:
    data = entries(n)
    tree = tree_of(data)
    new_root = tree.root()
    for m in range(1, n):
        old_root = tree.root(m)
        proof = tree.consistency_proof(m)
        tampered: list[tuple[int, bytes, bytes, list[bytes]]] = [
            (m, new_root, old_root, proof),  # swapped roots
            (m, old_root, new_root, proof[:-1]),  # truncated
            (m, old_root, new_root, [*proof, proof[0]]),  # extended
            (m, _flip(old_root, 1), new_root, proof),  # wrong old root
            (m, old_root, _flip(new_root, 2), proof),  # wrong new root
        ]
        if m + 1 < n:
            tampered.append((m + 1, old_root, new_root, proof))  # wrong old size
        tampered += [
            (m, old_root, new_root, [*proof[:i], _flip(h, 5 * i + 1), *proof[i + 1 :]])
            for i, h in enumerate(proof)
        ]
        for size, first, second, steps in tampered:
            with pytest.raises(ProofError):
                verify_consistency(size, n, first, second, steps)


def test_a_rewritten_history_is_not_consistent_with_its_past() -> None:
    honest = entries(20)
    rewritten = [*honest[:7], b"a different event", *honest[8:], b"event 20"]
    tree = tree_of(rewritten)
    with pytest.raises(ProofError):
        verify_consistency(10, 21, mth(honest[:10]), tree.root(), tree.consistency_proof(10))


def test_a_consistency_proof_from_the_empty_tree_is_refused() -> None:
    with pytest.raises(ProofError):
        verify_consistency(0, 1, EMPTY_ROOT, mth(entries(1)), [])
