"""Open-connection counts shared by a server's workers, so new connections go to the least loaded.

gunicorn's workers share one listening socket, and whichever wakes first accepts. A worker that
is already running wins nearly every race: eight keep-alive clients connecting at once land
7 and 1, or 8 and 0, as often as 4 and 4, and the loaded worker's queue then sets the tail
latency for as long as the connections live. Each worker publishes its count of open
connections in a small shared memory map, made by the master before the first fork; a busy
worker (BUSY_CONNECTIONS) that sees a live peer holding fewer connections leaves the new one
to that peer for at most ACCEPT_DEFER seconds, and accepts it itself if it is still waiting
after that.

Slots are handed out in the master (Worker objects are built there, before fork), so two
workers never claim the same one. A claimed slot holds the worker's mark (minus its gunicorn
age: negative, so peers ignore it while it boots), then its pid once it serves; it is freed
when its worker stops or the master reaps it (gunicorn.conf.py's child_exit), and only by its
own mark or pid, so a late release can never free a slot handed out again since.
"""

import mmap
import os
import struct

SLOTS = 64  # workers beyond this many accept without looking at their peers
ACCEPT_DEFER = 0.002  # seconds a busier worker leaves a new connection to a less loaded one
# Connections that keep a worker's one core busy (its Python and its torch thread): below
# this many (or its thread count, if lower) a worker accepts at once, so short connections
# pay nothing; from there on a new one goes to a peer holding fewer, whatever the threads.
BUSY_CONNECTIONS = 4
FREE = 0  # a slot's pid when no worker holds it; negative: a booting worker's mark
_SLOT = struct.Struct("qq")  # pid, open connections
_ALL = struct.Struct(f"{2 * SLOTS}q")  # every slot, read in one call


class ConnectionBoard:
    """SLOTS (pid, open connections) pairs in anonymous shared memory, inherited across fork."""

    def __init__(self) -> None:
        self.memory = mmap.mmap(-1, _ALL.size)  # MAP_SHARED: every forked worker sees one map

    def claim(self, mark: int) -> int | None:
        """In the master: a slot for a worker about to be forked, marked with its negative
        mark; None when all are taken."""
        if mark >= 0:
            raise ValueError(f"a booting worker's mark is negative, got {mark}")
        values = _ALL.unpack_from(self.memory)
        for slot in range(SLOTS):
            pid = values[2 * slot]
            if pid == FREE or (pid > 0 and not alive(pid)):
                _SLOT.pack_into(self.memory, slot * _SLOT.size, mark, 0)
                return slot
        return None

    def serve(self, slot: int, pid: int) -> None:
        """In the worker: its slot now counts (peers ignore a booting worker's zero)."""
        _SLOT.pack_into(self.memory, slot * _SLOT.size, pid, 0)

    def publish(self, slot: int, connections: int) -> None:
        """In the worker: its current count of open connections."""
        struct.pack_into("q", self.memory, slot * _SLOT.size + 8, connections)

    def release(self, slot: int, owners: tuple[int, ...]) -> None:
        """Free the slot if it still holds one of `owners` (the worker's mark and pid)."""
        if _SLOT.unpack_from(self.memory, slot * _SLOT.size)[0] in owners:
            _SLOT.pack_into(self.memory, slot * _SLOT.size, FREE, 0)

    def busier_than_a_peer(self, slot: int, connections: int) -> bool:
        """Whether a serving peer holds fewer open connections than `connections`."""
        values = _ALL.unpack_from(self.memory)
        for peer in range(SLOTS):
            if peer != slot and values[2 * peer] > 0 and values[2 * peer + 1] < connections:
                return True
        return False


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (the master reaps its workers before reusing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else: a reused pid, not our worker
        return True
    return True
