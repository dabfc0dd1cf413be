"""The verifier against the published vectors of RFC 9162's reference implementation.

They live outside the project, in ../shared/vectors/rfc9162 (see its README): every case with
`wantErr: false` must verify and every case with `wantErr: true` must fail.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from audit.merkle import ProofError, verify_consistency, verify_inclusion

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "rfc9162"


def _cases(kind: str) -> list[Any]:
    folder = VECTORS / kind
    if not folder.is_dir():
        return [
            pytest.param(
                None,
                marks=pytest.mark.skip(reason=f"RFC 9162 vectors not found at {folder}"),
                id="vectors-absent",
            )
        ]
    return [
        pytest.param(path, id=str(path.relative_to(folder)))
        for path in sorted(folder.rglob("*.json"))
    ]


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _hash(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def _proof(data: dict[str, Any]) -> list[bytes]:
    return [_hash(item) for item in data["proof"] or []]


@pytest.mark.parametrize("path", _cases("inclusion"))
def test_inclusion_vector_verifies_exactly_when_it_should(path: Path) -> None:
    case = _load(path)

    def verify() -> None:
        verify_inclusion(
            case["leafIdx"],
            case["treeSize"],
            _hash(case["leafHash"]),
            _proof(case),
            _hash(case["root"]),
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify()
    else:
        verify()


@pytest.mark.parametrize("path", _cases("consistency"))
def test_consistency_vector_verifies_exactly_when_it_should(path: Path) -> None:
    case = _load(path)

    def verify() -> None:
        verify_consistency(
            case["size1"],
            case["size2"],
            _hash(case["root1"]),
            _hash(case["root2"]),
            _proof(case),
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify()
    else:
        verify()


def test_all_published_vectors_are_exercised() -> None:
    if not VECTORS.is_dir():
        pytest.skip(f"RFC 9162 vectors not found at {VECTORS}")
    assert len(list(VECTORS.rglob("*.json"))) == 196
