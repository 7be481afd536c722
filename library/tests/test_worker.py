"""End to end: the real web server and django-q2 worker processes."""

import pytest

pytestmark = [pytest.mark.worker, pytest.mark.postgres]


@pytest.fixture
def plex(plex_factory):
    return plex_factory(2000, seed=3, token="e2e-token")


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

    plex.library.add_tracks(50)
    plex.faults.hang_seconds = 60
    hang_at = plex.track_pages + 3
    plex.faults.hang_after_pages = hang_at
    assert stack.post("/api/library/sync").status_code == 202
    # Three listings in (the changed tracks already staged), the next one hangs.
    stack.wait_for(lambda: plex.track_pages >= hang_at and stack.status()["is_syncing"], what="the hang")
    assert stack.post("/api/library/sync").status_code == 409

    stack.kill_worker()
    status = stack.wait_for(
        lambda: (s := stack.status())["error"] and s, timeout=30, what="the failure report"
    )
    assert "stopped responding" in status["error"]
    assert status["track_count"] == 2000 and status["is_syncing"] is False

    plex.faults.reset()
    stack.start_worker()
    status = stack.sync()
    assert status["error"] is None and status["track_count"] == 2050
