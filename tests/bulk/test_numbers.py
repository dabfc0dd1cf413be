"""Numbers drawn in bulk: checked against the store before deciding, redrawn only on a clash."""

from __future__ import annotations

import json

from application.register import CivilRegister
from importer.batch import Serials
from importer.pipeline import importer_for
from importer.rows import Rejected, numbered_lines


class ScriptedSerials(Serials):
    """Serials in a given order, to make clashes with the store certain."""

    def __init__(self, values: list[int]) -> None:
        super().__init__()
        self.values = iter(values)
        self.drawn = 0

    def draw(self) -> int:
        self.drawn += 1
        return next(self.values)


def births(first: int, count: int) -> list[tuple[int, bytes]]:
    rows = [
        {
            "kind": "birth",
            "clerk": "Trần Thị Hoa",
            "office": "UBND phường Cửa Nam, Hà Nội",
            "reference": f"KS-{n}",
            "name": "Nguyễn Văn An",
            "sex": "male",
            "born": "1990-05-01",
            "province": "001",
            "registered_on": "1990-05-20",
        }
        for n in range(first, first + count)
    ]
    return list(numbered_lines(json.dumps(r, ensure_ascii=False).encode() for r in rows))


def refuse(rejected: Rejected) -> None:
    raise AssertionError(f"line {rejected.line}: {rejected.reason}")


def test_numbers_already_claimed_are_redrawn_alone_without_deciding_the_batch_again(
    store_url: str,
) -> None:
    register = CivilRegister(store_url)
    first = importer_for(register, batch_size=100)
    first.serials = ScriptedSerials(list(range(50)))
    first.run(births(0, 50), refuse)

    second = importer_for(register, batch_size=100)
    serials = ScriptedSerials(list(range(100)))  # the first 50 are all taken
    second.serials = serials
    tally = second.run(births(50, 50), refuse)

    assert tally.recorded == 50
    assert serials.drawn == 100  # 50 clashes redrawn once each: no batch decided twice
    claimed = [
        json.loads(n.state)["id_number"]
        for n in register.recorder.select_notifications(start=None, limit=1000)
        if n.topic.endswith("IdNumberClaimed")
    ]
    assert sorted(claimed) == [f"001090{serial:06d}" for serial in range(100)]
