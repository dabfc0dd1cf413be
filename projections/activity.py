"""Who recorded what: the clerk-activity report (`civledger audit log`), read from the log.

Every person event, oldest first, with its clerk, office, record time and legal date, and
whether the act was late (`domain.policies.LateRegistration`, configured by
`CIVLEDGER_LATE_AFTER_DAYS`). It reads the event log through an `EventSource`, read-only: the
write application is never booted and nothing is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from domain.events import PERSON_TOPICS, PersonEvent
from domain.values import REGISTER_TIMEZONE
from infrastructure.eventlog import ReadsEvents
from infrastructure.logins import UNATTRIBUTED, Attribution, Attributor
from infrastructure.settings import late_registration
from projections.source import EventSource

#: Events read per batch.
BATCH_SIZE = 1000


@dataclass(frozen=True)
class AuditEntry:
    position: int
    event: PersonEvent
    late: bool
    #: The login that appended the event and whether it was theirs to record.
    attribution: Attribution = UNATTRIBUTED

    def document(self) -> dict[str, Any]:
        event = self.event
        return {
            "position": self.position,
            "type": type(event).__name__,
            "person_id": str(event.originator_id),
            "version": event.originator_version,
            "recorded_at": event.recorded_at.isoformat(),
            "occurred_on": event.occurred_on.isoformat(),
            "clerk": event.clerk,
            "office": event.office,
            "reference": event.reference,
            "late": self.late,
            **self.attribution.document(),
        }


def clerk_activity(
    log: ReadsEvents | EventSource,
    clerk: str | None = None,
    office: str | None = None,
    since: date | None = None,
    batch_size: int = BATCH_SIZE,
) -> list[AuditEntry]:
    """Every person event up to the head of the log, oldest first; only those recorded by
    `clerk`, at `office`, on or after `since` (civil date of the record time) when given."""
    source = log if isinstance(log, EventSource) else EventSource(log)
    attributor = Attributor(source.log)
    policy = late_registration()
    entries: list[AuditEntry] = []
    head = source.head()
    position = 0
    while position < head:
        batch = source.read(position, batch_size, head, PERSON_TOPICS)
        logins = attributor.recorded_by([n.id for n in batch])
        for at, decoded in source.decode(batch):
            event = cast(PersonEvent, decoded)
            if clerk is not None and event.clerk != clerk:
                continue
            if office is not None and event.office != office:
                continue
            if since is not None and event.recorded_at.astimezone(REGISTER_TIMEZONE).date() < since:
                continue
            attribution = attributor.of(at, event, logins.get(at))
            entries.append(AuditEntry(at, event, policy.is_late_act(event), attribution))
        if len(batch) < batch_size:
            break
        position = batch[-1].id
    return entries
