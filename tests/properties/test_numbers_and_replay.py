"""Properties: numbers decode to the record; stored events replay to an equal person."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.person import Person
from domain.reference import REFERENCE
from domain.registry import draw_number
from domain.values import IdNumber, Sex
from infrastructure.mapper import decode_state, encode_state
from tests.unit.factories import TODAY, an, basis

provinces = st.sampled_from(sorted(REFERENCE.tables[0].codes))
sexes = st.sampled_from(list(Sex))


@given(province=provinces, sex=sexes, year=st.integers(1900, 2399))
def test_a_drawn_number_decodes_to_the_persons_province_sex_and_year(
    province: str, sex: Sex, year: int
) -> None:
    number = IdNumber.parse(str(draw_number(province, sex, year)))
    assert (number.province, number.sex, number.year) == (province, sex, year)


names = st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạ ", min_size=1, max_size=30).filter(
    str.strip
)
acts = st.lists(
    st.one_of(
        st.tuples(st.just("name"), names),
        st.tuples(st.just("ethnicity"), names),
        st.tuples(st.just("born"), st.dates(date(1950, 1, 1), date(2020, 1, 1))),
        st.tuples(st.just("sex"), sexes),
        st.tuples(st.just("death"), st.dates(date(2021, 1, 1), TODAY)),
        st.tuples(st.just("renounce"), st.dates(date(2021, 1, 1), TODAY)),
    ),
    max_size=12,
)


def apply_acts(person: Person, chosen: list[tuple[str, object]]) -> None:
    for i, (what, value) in enumerate(chosen):
        b = basis(f"ACT-{i}")
        try:
            if what == "death":
                person.record_death(b, value, None, TODAY)  # type: ignore[arg-type]
            elif what == "renounce":
                person.renounce_nationality(b, value, TODAY)  # type: ignore[arg-type]
            else:
                kind = {"sex": "redetermination", "name": "change"}.get(what, "correction")
                text = value.isoformat() if isinstance(value, date) else str(value)
                outcome = person.change_record(b, what, text, kind, TODAY, TODAY)  # type: ignore[arg-type]
                if outcome.needs_number:
                    number = draw_number(person.birth_province, person.sex, person.born.year)
                    person.assign_id_number(b, number, outcome.reason, TODAY)
        except ValueError:
            continue
        except Exception as error:
            if type(error).__name__ not in {"RuleBroken", "InvalidInput"}:
                raise


@settings(max_examples=60, deadline=None)
@given(chosen=acts)
def test_replaying_stored_events_gives_an_equal_person(chosen: list[tuple[str, object]]) -> None:
    person = an()
    apply_acts(person, chosen)
    events = person.collect_events()
    stored = [(type(e).TOPIC, e.originator_version, encode_state(e)) for e in events]
    replayed = Person.replay(
        person.id, (decode_state(topic, person.id, v, state) for topic, v, state in stored)
    )
    assert replayed is not None
    assert replayed.as_document() == person.as_document()
    assert [encode_state(e) for e in events] == [s for _, _, s in stored]


def test_decoding_keeps_dates_as_dates() -> None:
    person = an(born=date(2000, 2, 29) - timedelta(days=0))
    event = person.collect_events()[0]
    again = decode_state(type(event).TOPIC, person.id, 1, encode_state(event))
    assert again == event
