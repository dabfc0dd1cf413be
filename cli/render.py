"""Text output for people. Machines use --json."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from application.register import HistoryEntry
from domain.policies import DEFAULT_LATE_AFTER_DAYS, LateRegistration
from domain.reference import REFERENCE
from domain.values import visible
from infrastructure.logins import UNATTRIBUTED, Attribution
from infrastructure.settings import late_registration

#: A registration recorded more than this many days after its legal date is marked late in
#: `history`; set CIVLEDGER_LATE_AFTER_DAYS to change it (infrastructure.settings).
LATE_AFTER_DAYS = DEFAULT_LATE_AFTER_DAYS


def person_text(doc: dict[str, Any], parents: dict[str, str] | None = None) -> str:
    """The `show` document for people. `parents` names the father and mother as a clerk knows
    them (their ID numbers; a UUID for one who has none), else their person ids are shown."""
    parents = parents or {}
    province = doc["birth_province"]
    province_name = REFERENCE.name_of(province) or ""
    died = doc.get("died_on")
    if died and doc.get("death_place"):
        died = f"{died} in {doc['death_place']}"
    lines = [
        f"{doc['name']}",
        *[
            f"  {label:<14} {doc[key]}"
            for label, key in (("as of", "as_of"), ("as at", "as_at"))
            if doc.get(key)
        ],
        f"  id number      {doc['id_number'] or '(none)'}",
        f"  person id      {doc['person_id']}",
        f"  status         {doc['status']}",
        f"  sex            {doc['sex']}",
        f"  born           {doc['born']} in {province} {province_name}".rstrip(),
        f"  nationality    {doc['nationality']}",
    ]
    optional = [
        ("ethnicity", doc.get("ethnicity")),
        ("place of birth", doc.get("place_of_birth")),
        ("father", parents.get("father") or doc.get("father_id")),
        ("mother", parents.get("mother") or doc.get("mother_id")),
        ("registered on", doc.get("registered_on")),
        ("died on", died),
        ("renounced on", doc.get("renounced_on")),
        ("merged into", doc.get("merged_into")),
    ]
    lines += [f"  {label:<14} {value}" for label, value in optional if value]
    if doc["cancelled_id_numbers"]:
        lines.append(f"  cancelled      {', '.join(doc['cancelled_id_numbers'])}")
    lines.append(f"  version        {doc['version']}")
    return "\n".join(visible(line) for line in lines)


def is_late(entry: HistoryEntry, policy: LateRegistration | None = None) -> bool:
    return (policy or late_registration()).is_late_act(entry.event)


def history_document(
    entries: list[HistoryEntry], attributions: Sequence[Attribution] = ()
) -> list[dict[str, Any]]:
    policy = late_registration()
    proven = list(attributions) or [UNATTRIBUTED] * len(entries)
    return [
        {
            "position": entry.position,
            "type": type(entry.event).__name__,
            "occurred_on": entry.event.occurred_on.isoformat(),
            "recorded_at": entry.event.recorded_at.isoformat(),
            "clerk": entry.event.clerk,
            "office": entry.event.office,
            "reference": entry.event.reference,
            "data": entry.event.data(),
            "late": is_late(entry, policy),
            **attribution.document(),
        }
        for entry, attribution in zip(entries, proven, strict=True)
    ]


def history_text(entries: list[HistoryEntry], attributions: Sequence[Attribution] = ()) -> str:
    lines = []
    for item in history_document(entries, attributions):
        data = ", ".join(f"{k}={v}" for k, v in item["data"].items() if v is not None)
        late = "  LATE" if item["late"] else ""
        if item["recorded_by"] is not None:
            proven = "verified" if item["verified"] else "NOT verified"
            late += f"  by login {item['recorded_by']}, {proven}"
        lines.append(
            visible(
                f"#{item['position']:<6} {item['occurred_on']}  {item['type']:<22} "
                f"{item['reference']} ({item['office']}, {item['clerk']}, recorded "
                f"{item['recorded_at'][:19]}){late}"
            )
            + (f"\n         {visible(data)}" if data else "")
        )
    return "\n".join(lines)
