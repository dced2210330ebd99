"""Everything a user's model started, found and ended, even what left its session.

A model's process (engine.usermodel.host) leads a session and a process group of its own, and
killing the group ends what its code started there. A daemon leaves both (os.setsid in a
child, then a second fork): it outlived a cancelled phase, holding the pipes to the stepper
open. So the model's process is a child subreaper (Linux's PR_SET_CHILD_SUBREAPER): a process
orphaned below it is re-parented to it, not to init, and everything its code started stays
its descendant, listed under /proc, for as long as it lives. Ending it stops it first (a
stopped process forks no more and keeps its orphans), ends every descendant, then its group.

What a model's process started is lost only if the process itself dies first (a segfault,
os._exit): its orphans then go to init. Linux only: elsewhere the group alone is ended.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36
#: Scans for descendants after those found were killed: a fork under way as its parent was
#: killed leaves a child the first scan did not see.
ROUNDS = 100


def become_subreaper() -> None:
    """Keep what this process starts as its descendants, orphaned or not (see above)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def children(pid: int) -> list[int]:
    """The processes pid's threads started, from /proc (none once pid has ended, or off Linux)."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for thread in threads:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{thread}/children") as listing:
            found += (int(child) for child in listing.read().split())
    return found


def descendants(pid: int) -> list[int]:
    found, pending = [], children(pid)
    while pending:
        child = pending.pop()
        found.append(child)
        pending += children(child)
    return found


def end_descendants(pid: int) -> None:
    """SIGKILL every process below pid, scanning again until a scan finds none not yet
    killed. pid must fork no more meanwhile: stopped, or the caller itself."""
    ended: set[int] = set()
    for _ in range(ROUNDS):
        found = [child for child in descendants(pid) if child not in ended]
        if not found:
            return
        for child in found:
            _signal(child, signal.SIGKILL)
        ended.update(found)


def end_tree(pid: int) -> None:
    """End pid, every process below it and its process group (pid leads one). pid must not
    have been reaped: it would be no longer its own."""
    _signal(pid, signal.SIGSTOP)
    end_descendants(pid)
    _signal(pid, signal.SIGKILL)
    end_group(pid)


def end_group(leader: int) -> None:
    """End what is left of the process group `leader` led (its id stays the group's while
    the group has members, even after the leader was reaped)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)


def _signal(pid: int, number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, number)
