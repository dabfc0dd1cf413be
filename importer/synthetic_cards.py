"""The identity cards and electronic identities of a generated person (`PopulationGenerator`
with `cards=True`): a life of cards at the historic pace, every act lawful by docs/cards.md.

A person's card life is planned once their civil acts are known (a change of name, date of
birth, sex or birth province; a nationality determined; the death or renunciation that ends
it), with a random generator of its own, as dated acts; the generator then puts each among the
person's civil rows in date order, so the record a card act is decided against is the record
on its date.

- Cards start on 1 January 2016 (the first citizen identity cards). A citizen aged 14 or over
  on 1 March 2021 gets a first card in the chip-card campaign (March to June 2021) at
  `card_campaign`; otherwise, at `card_before_campaign`, one from 2016 (from their 14th
  birthday) to February 2021; otherwise, mostly, one in the five years after it. A younger
  one gets a first card within two years of turning 14, or, at `card_under_14`, one on
  request before (from 1 July 2024, when the Law on Identification 2023 allowed it).
- A holder renews for age (`card_renewed`) in the window before the card expires (Art. 21:
  from two years before the renewal age); after a change of name (`data_change`) or of the
  number (`number_reissued`: a corrected date of birth or birth province, a re-determined
  sex) at `card_data_renewed`, within six months; re-issues a lost (`card_lost`) or damaged
  (`card_damaged`) card. A card is revoked as issued wrongly or tampered with at
  `card_revoked`, and mostly replaced on request later; withheld (`card_withheld`) and mostly
  returned (`card_returned`). A renunciation revokes the card by itself: no row for it.
- An eid is created from 2022 on by `card_eid` of card holders, on a day their card is held
  (not revoked, not withheld); `eid_locked` of them lock it on request, most unlocking later.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from domain.identity import MANDATORY_AGE, age_renewal_opens, card_expiry
from domain.residence import age_on, years_after

if TYPE_CHECKING:
    from collections.abc import Callable

    from importer.synthetic import Rates

#: The first citizen identity cards (Law on Citizen Identification 2014, in force 2016).
CARDS_FROM = date(2016, 1, 1)
#: The chip-card campaign: about 50 million cards from March to June 2021.
CAMPAIGN = (date(2021, 3, 1), date(2021, 6, 30))
#: Cards on request under 14 (Law on Identification 2023, in force 1 July 2024).
UNDER_14_FROM = date(2024, 7, 1)
#: Electronic identities (level 2 accounts) are created from 2022.
EIDS_FROM = date(2022, 1, 1)
#: A change of these fields makes a card `renewal_due`, and the reason of its renewal.
CARD_CHANGES = {
    "name": "data_change",
    "born": "number_reissued",
    "sex": "number_reissued",
    "birth_province": "number_reissued",
}
REVOCATION_GROUNDS = ("issued_wrongly", "tampered")
WITHHOLDING_GROUNDS = ("custody", "detention", "prison", "reform_school", "rehabilitation")


@dataclass(frozen=True)
class CardLife:
    """What a person's card life depends on: when they may first hold a card, their date of
    birth before and after a correction, the one change that touches a card, and the day
    their record ends (death or renunciation), all as the civil rows give them."""

    born: date
    eligible_from: date  # registered Vietnamese, or nationality determined
    change: tuple[date, str, date | None] | None  # (effective, field, new date of birth)
    ends_on: date | None  # a death or a renunciation: no identity act on or after it

    def born_on(self, day: date) -> date:
        """The date of birth the record has on `day`."""
        if self.change is not None and self.change[2] is not None and day >= self.change[0]:
            return self.change[2]
        return self.born


#: One planned act: (date, kind, fields).
Act = tuple[date, str, dict[str, Any]]


class CardPlanner:
    """Plans the identity acts of one person after another, from its own random generator."""

    def __init__(self, seed: int, rates: Rates, horizon: date) -> None:
        self.rng = random.Random(f"{seed}:cards")  # noqa: S311 (reproducible test data)
        self.rates = rates
        self.horizon = horizon

    def _day(self, first: date, last: date) -> date | None:
        """A day in [first, last], None if empty."""
        if last < first:
            return None
        return first + timedelta(days=self.rng.randrange((last - first).days + 1))

    def plan(self, life: CardLife) -> list[Act]:
        """The person's identity acts in date order (each strictly after the one before)."""
        last = self.horizon
        if life.ends_on is not None:
            last = min(last, life.ends_on - timedelta(days=1))
        start = max(life.eligible_from, CARDS_FROM)
        first = self._first_card(life, start, last)
        if first is None:
            return []
        acts = self._cards(life, first, last)
        acts.extend(self._eid(acts, last))
        acts.sort(key=lambda act: act[0])
        return acts

    def _first_card(self, life: CardLife, start: date, last: date) -> Act | None:
        rates, rng = self.rates, self.rng
        turns_14 = years_after(life.born_on(start), MANDATORY_AGE)
        on: date | None = None
        if start < CAMPAIGN[0] and turns_14 <= CAMPAIGN[0]:
            if rng.random() < rates.card_campaign:
                on = self._day(CAMPAIGN[0], min(CAMPAIGN[1], last))
            elif rng.random() < rates.card_before_campaign:
                on = self._day(max(start, turns_14), CAMPAIGN[0] - timedelta(days=1))
            elif rng.random() < 0.8:
                on = self._day(CAMPAIGN[1] + timedelta(days=1), min(last, date(2026, 6, 30)))
        elif rng.random() < rates.card_under_14:
            on = self._day(max(start, UNDER_14_FROM), min(last, turns_14 - timedelta(days=1)))
        elif rng.random() < 0.9:
            begin = max(start, turns_14)
            on = self._day(begin, min(last, begin + timedelta(days=730)))
        if on is None or on > last:
            return None
        adult = age_on(life.born_on(on), on) >= MANDATORY_AGE
        return (on, "issue_card", {"reason": "first" if adult else "request"})

    def _cards(self, life: CardLife, first: Act, last: date) -> list[Act]:
        """The first card and what follows it: renewals, re-issues, revocations, withholdings."""
        rng = self.rng
        acts = [first]
        issued = at = first[0]
        change_seen = False
        while True:
            expires = card_expiry(life.born_on(issued), issued)
            change = life.change
            wrong = change is not None and not change_seen and change[0] > issued
            change_seen = change_seen or wrong
            options = [
                option
                for option in self._options(life, at, expires, wrong)
                if at < option[0] <= last
            ]
            if not options:
                return acts
            when, kind, fields = min(options, key=lambda option: option[0])
            acts.append((when, kind, fields))
            at = when
            if kind == "issue_card":
                issued = when
                continue
            # A revoked card is replaced on request; a withheld one returned, mostly.
            after = when + timedelta(days=7 + rng.randrange(700))
            back = 0.8 if kind == "revoke_card" else self.rates.card_returned
            if after > last or rng.random() >= back:
                return acts
            if kind == "revoke_card":
                acts.append((after, "issue_card", {"reason": "request"}))
                issued = after
            else:
                acts.append((after, "return_card", {}))
            at = after

    def _options(self, life: CardLife, at: date, expires: date | None, wrong: bool) -> list[Act]:
        """What may happen next to a card held since `at` (the earliest one happens)."""
        rates, rng = self.rates, self.rng
        options: list[Act] = []
        if wrong and life.change is not None:
            on, field, _ = life.change
            if field in CARD_CHANGES and rng.random() < rates.card_data_renewed:
                when = on + timedelta(days=7 + rng.randrange(180))
                options.append((when, "issue_card", {"reason": CARD_CHANGES[field]}))
        if expires is not None and rng.random() < rates.card_renewed:
            opens = max(age_renewal_opens(expires), at + timedelta(days=1))
            when_age = self._day(opens, max(expires, opens + timedelta(days=365)))
            if when_age is not None:
                options.append((when_age, "issue_card", {"reason": "age"}))
        for reason, rate in (("lost", rates.card_lost), ("damaged", rates.card_damaged)):
            if rng.random() < rate:
                when = at + timedelta(days=60 + rng.randrange(3000))
                options.append((when, "issue_card", {"reason": reason}))
        if rng.random() < rates.card_revoked:
            when = at + timedelta(days=10 + rng.randrange(700))
            options.append((when, "revoke_card", {"ground": rng.choice(REVOCATION_GROUNDS)}))
        if rng.random() < rates.card_withheld:
            when = at + timedelta(days=30 + rng.randrange(3000))
            options.append((when, "withhold_card", {"ground": rng.choice(WITHHOLDING_GROUNDS)}))
        return options

    def _eid(self, acts: list[Act], last: date) -> list[Act]:
        """An eid on a day the card is held, and perhaps a lock on request and its unlock,
        while nothing else happens to the card."""
        rates, rng = self.rates, self.rng
        if rng.random() >= rates.card_eid:
            return []
        on = self._day(max(EIDS_FROM, acts[0][0] + timedelta(days=1)), last)
        if on is None or any(act[0] == on for act in acts) or not _card_held(acts, on):
            return []
        eid: list[Act] = [(on, "create_eid", {})]
        if rng.random() >= rates.eid_locked or any(
            act[1] in ("revoke_card", "withhold_card") and act[0] > on for act in acts
        ):
            return eid
        locked = self._day(on + timedelta(days=30), min(last, on + timedelta(days=900)))
        if locked is None or any(act[0] == locked for act in acts):
            return eid
        eid.append((locked, "lock_eid", {"ground": "request"}))
        unlocked = self._day(locked + timedelta(days=7), min(last, locked + timedelta(days=365)))
        if unlocked is not None and rng.random() < 0.7 and all(act[0] != unlocked for act in acts):
            eid.append((unlocked, "unlock_eid", {}))
        return eid


def _card_held(acts: list[Act], on: date) -> bool:
    """Whether the card acts before `on` leave a card neither revoked nor withheld."""
    held = False
    for when, kind, _ in acts:
        if when >= on:
            break
        if kind in {"issue_card", "return_card"}:
            held = True
        elif kind in ("revoke_card", "withhold_card"):
            held = False
    return held


def card_rows(
    acts: list[Act],
    person: dict[str, str],
    basis: Callable[[str, date], dict[str, str]],
) -> list[tuple[date, dict[str, Any]]]:
    """The import rows of a person's planned acts, each with its date."""
    prefixes = {
        "issue_card": "CCCD",
        "revoke_card": "TH-CCCD",
        "withhold_card": "TG-CCCD",
        "return_card": "TL-CCCD",
        "create_eid": "DDDT",
        "lock_eid": "KH-DDDT",
        "unlock_eid": "MK-DDDT",
    }
    return [
        (
            on,
            {
                "kind": kind,
                **basis(prefixes[kind], on),
                "person": person,
                **fields,
                "effective": on.isoformat(),
            },
        )
        for on, kind, fields in acts
    ]
