"""Fault points for chaos tests: a process can be told to die (like kill -9) at a named point.

Set `<SERVICE>_FAULT_POINT` to one of FAULT_POINTS; empty (the default) disables it.
"""

import os

FAULT_POINTS = (
    "relay.before_publish",  # rows committed, nothing published yet
    "relay.after_publish",  # published, not yet marked published
)


def reach(configured: str, point: str) -> None:
    if configured == point:
        os._exit(137)  # no cleanup, no flush: as abrupt as SIGKILL
