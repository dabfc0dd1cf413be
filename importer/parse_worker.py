"""A bulk import's parse worker: `python -m importer.parse_worker`, started by `importer.pipeline`.

It reads chunks of numbered lines from stdin and writes back, for each, what `importer.pipeline`
makes of them in the importing process itself: the rows that passed the command models and
the rows they rejected. Both directions are frames: an 8-byte big-endian length, then a
pickle. It parses one chunk at a time and exits when stdin ends, so it never outlives the
importing process (not even one killed with SIGKILL). It writes nothing anywhere else.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
from typing import Any, BinaryIO

HEADER = struct.Struct(">Q")


def send(stream: BinaryIO, value: Any) -> None:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def receive(stream: BinaryIO) -> Any | None:
    """The next frame's value; None at the end of the stream."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return pickle.loads(payload)  # noqa: S301 (frames from this process's own pipe peer)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the importing process's
    from importer.pipeline import parse_chunk
    from infrastructure.collector import fewer_collections

    with fewer_collections():
        while (lines := receive(sys.stdin.buffer)) is not None:
            try:
                send(sys.stdout.buffer, parse_chunk(lines))
            except BrokenPipeError:  # the import stopped and will not take these rows
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return


if __name__ == "__main__":
    main()
