"""SyncState's claim between processes: each racing caller is a process of its own with
its own database connection, as the web server and the worker are."""

import multiprocessing
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from library.models import SyncBusy, SyncRun, SyncState

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

_RACERS = 4


def _claim_when_all_ready(barrier, results):
    try:
        barrier.wait(timeout=30)
        results.put(SyncState.claim("plex").run_id)
    except SyncBusy:
        results.put("busy")
    finally:
        connections.close_all()


def _race():
    """What each of _RACERS processes, claiming at once, got: a run id or "busy"."""
    connections.close_all()  # no child may share this process's connection
    fork = multiprocessing.get_context("fork")
    barrier, results = fork.Barrier(_RACERS), fork.Queue()
    racers = [fork.Process(target=_claim_when_all_ready, args=(barrier, results)) for _ in range(_RACERS)]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=60) for _ in racers]
    for racer in racers:
        racer.join(30)
    return outcomes


def test_of_processes_claiming_at_once_exactly_one_gets_the_sync():
    SyncState.for_source("plex")
    for _ in range(5):
        outcomes = _race()
        [run_id] = [o for o in outcomes if o != "busy"]
        assert outcomes.count("busy") == _RACERS - 1
        state = SyncState.objects.get(source="plex")
        assert state.run_id == run_id and state.is_syncing
        state.release()


def test_a_dead_sync_taken_over_by_racing_processes_is_recorded_failed_once(settings):
    SyncState.claim("plex")
    stale = timezone.now() - timedelta(seconds=settings.SYNC_HEARTBEAT_TIMEOUT + 1)
    SyncState.objects.filter(source="plex").update(heartbeat_at=stale)

    outcomes = _race()
    assert outcomes.count("busy") == _RACERS - 1
    [failed] = SyncRun.objects.filter(source="plex")
    assert failed.run_id == 1 and "stopped responding" in failed.error
