"""Read models built from the register's event log: `people`, `id_numbers`, `statistics`.

`projections` reads events and writes read models; it never appends events.
"""

from projections.engine import PROJECTION_NAMES, Engine, Status, all_projections
from projections.id_registry import IdRegistryProjection
from projections.people import PeopleProjection
from projections.queries import PossibleDuplicateFinder, ReadModels
from projections.source import EventSource
from projections.statistics import StatisticsProjection
from projections.views import ViewDatabase

__all__ = [
    "PROJECTION_NAMES",
    "Engine",
    "EventSource",
    "IdRegistryProjection",
    "PeopleProjection",
    "PossibleDuplicateFinder",
    "ReadModels",
    "StatisticsProjection",
    "Status",
    "ViewDatabase",
    "all_projections",
]
