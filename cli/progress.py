"""The progress bar of long jobs: one line on stderr, redrawn in place, on terminals only.

    verifying [#########.....................] 12,000/40,000 events  4,000 events/s  ETA 0:00:07
    importing [#########.....................]  30% 12,000 rows  5,000 rows/s  ETA 0:00:05
    importing 12,000 rows  5,000 rows/s

Every long command (`generate --out`, `import`, `projections catch-up|rebuild`, `audit verify`)
draws its progress with `ProgressBar`. The caller decides whether it is shown: never with
`--json` and never off a terminal, so stderr stays empty for scripts.
"""

from __future__ import annotations

import sys
from time import monotonic
from typing import Self


class ProgressBar:
    """One job's progress line; nothing at all unless `enabled`.

    Called as `bar(done, total)` by jobs that know their total (the callback the projection
    engine, the Merkle log's verify and the generator take); `bar.show(count, share)` when only
    the share done is estimated (an import knows the bytes read, not the rows to come), or
    `share=None` when not even that is known (a pipe): then no bar and no ETA. `close()` ends
    the line once something was drawn (so does leaving a `with` block)."""

    WIDTH = 30
    #: Seconds between redraws; the last one (all done) is always drawn.
    INTERVAL = 0.2

    def __init__(self, label: str, enabled: bool, unit: str = "events") -> None:
        self.label = label
        self.enabled = enabled
        self.unit = unit
        self.started = monotonic()
        self.shown = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        self.show(done, done / total if total else 1.0, total=total, force=done >= total)

    def show(
        self, count: int, share: float | None, *, total: int | None = None, force: bool = False
    ) -> None:
        """Draw `count` units, `share` (0 to 1) of the whole, unless drawn under `INTERVAL`
        seconds ago; `force` draws anyway (the last update)."""
        if not self.enabled:
            return
        now = monotonic()
        if not force and now - self.shown < self.INTERVAL:
            return
        self.shown = now
        self.drawn = True
        elapsed = max(now - self.started, 1e-6)
        counted = f"{count:,}/{total:,}" if total is not None else f"{count:,}"
        rate = f"{counted} {self.unit}  {count / elapsed:,.0f} {self.unit}/s"
        if share is None:
            line = f"{self.label} {rate}"
        else:
            share = min(max(share, 0.0), 1.0)
            filled = int(self.WIDTH * share)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            percent = f" {share:4.0%}" if total is None else ""
            eta = elapsed * (1 - share) / share if share > 0 else 0.0
            minutes, seconds = divmod(int(eta), 60)
            hours, minutes = divmod(minutes, 60)
            line = f"{self.label} [{bar}]{percent} {rate}  ETA {hours}:{minutes:02d}:{seconds:02d}"
        sys.stderr.write(f"\r{line} ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.drawn = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
