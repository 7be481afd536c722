"""End to end: the real web server and django-q2 worker processes."""

import pytest

from library.fakes.plex import FakeLibrary, FakePlexServer

pytestmark = pytest.mark.worker


@pytest.fixture
def plex():
    server = FakePlexServer(library=FakeLibrary(tracks=2000, seed=3), token="e2e-token")
    with server:
        yield server


def test_worker_syncs_on_start_and_on_request(plex, stack_factory):
    stack = stack_factory(plex, SYNC_PAGE_SIZE="200")
    # The worker's startup check finds an empty cache and syncs it.
    status = stack.wait_for(lambda: (s := stack.status())["track_count"] == 2000 and s, what="first sync")
    assert status["error"] is None and status["synced_at"]

    plex.library.add_tracks(25)
    assert stack.post("/api/library/sync").status_code == 202
    stack.wait_for(lambda: stack.status()["track_count"] == 2025, what="the requested sync")


def test_killed_worker_is_reported_and_loses_nothing(plex, stack_factory):
    stack = stack_factory(plex, SYNC_PAGE_SIZE="200")
    assert stack.sync()["track_count"] == 2000

    plex.faults.hang_seconds = 60
    plex.faults.hang_after_pages = plex.track_pages + 3
    assert stack.post("/api/library/sync").status_code == 202
    stack.wait_for(
        lambda: (stack.status()["sync_progress"] or {}).get("current", 0) >= 600, what="sync progress"
    )
    assert stack.post("/api/library/sync").status_code == 409

    stack.kill_worker()
    status = stack.wait_for(
        lambda: (s := stack.status())["error"] and s, timeout=30, what="the failure report"
    )
    assert "stopped responding" in status["error"]
    assert status["track_count"] == 2000 and status["is_syncing"] is False

    plex.faults.reset()
    stack.start_worker()
    assert stack.post("/api/library/sync").status_code == 202
    status = stack.wait_for(
        lambda: (s := stack.status())["synced_at"] and not s["is_syncing"] and s, what="resync"
    )
    assert status["error"] is None and status["track_count"] == 2000
