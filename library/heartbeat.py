"""The claimed sync's heartbeat: a thread proving the worker alive while the
sync waits on the network, so the web side can tell a slow sync from a dead one
(SyncState.heartbeat_is_stale)."""

import logging
import threading

from django.db import DatabaseError, connection

log = logging.getLogger(__name__)

INTERVAL = 5  # seconds; well under SYNC_HEARTBEAT_TIMEOUT's minimum


class Heartbeat:
    """`with Heartbeat(state):` beats for the claimed sync of `state` until the block ends."""

    def __init__(self, state):
        self.state = state
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="sync-heartbeat")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _beat(self):
        try:
            while not self._stop.wait(INTERVAL):
                try:
                    self.state.beat()
                except DatabaseError:
                    log.warning("heartbeat write failed", exc_info=True)
        finally:
            connection.close()
