from datetime import timedelta

import pytest
from django.utils import timezone

from library.models import SyncState, Track
from library.sync import sync
from library.tasks import refresh_servers, sync_library

pytestmark = pytest.mark.django_db(transaction=True)


def test_refresh_syncs_an_empty_cache(fake_plex):
    refresh_servers()
    assert Track.objects.count() == 150


def test_refresh_leaves_a_fresh_cache_alone(fake_plex):
    sync("plex")
    fake_plex.library.add_tracks(5)
    fake_plex.reset_counts()
    refresh_servers()
    assert Track.objects.count() == 150
    assert fake_plex.total_requests <= 2  # the identity check only


def test_refresh_syncs_a_stale_cache(fake_plex, settings):
    sync("plex")
    fake_plex.library.add_tracks(5)
    old = timezone.now() - timedelta(hours=settings.SYNC_STALE_HOURS, minutes=1)
    SyncState.objects.filter(source="plex").update(last_sync_at=old)
    refresh_servers()
    assert Track.objects.count() == 155


def test_refresh_resyncs_when_the_server_changed(fake_plex):
    sync("plex")
    fake_plex.machine_identifier = "replaced-server"
    refresh_servers()
    state = SyncState.objects.get(source="plex")
    assert state.server_id == "replaced-server"
    assert "server changed" in state.notice


def test_refresh_marks_an_offline_server(fake_plex):
    sync("plex")
    fake_plex.stop()
    refresh_servers()
    state = SyncState.objects.get(source="plex")
    assert state.server_reachable is False
    assert state.as_status()["track_count"] == 150


def test_sync_task_is_idempotent(fake_plex):
    run_id = SyncState.claim("plex").run_id
    assert sync_library("plex", run_id) == "150 tracks"
    assert sync_library("plex", run_id) == "skipped"


def test_sync_task_reports_failure_as_text(fake_plex):
    fake_plex.faults.status = 503
    assert sync_library("plex", SyncState.claim("plex").run_id).startswith("failed: Plex")
