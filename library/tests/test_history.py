"""Every sync leaves a SyncRun: the history users see on /library/history and in the admin."""

from datetime import timedelta

import pytest
from django.utils import timezone

from library.models import SyncRun, SyncState
from library.sync import SyncFailed, sync
from library.vocab import ErrorKind, Mode, Phase, Why

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_full_sync_is_recorded_with_what_it_did(fake_plex):
    result = sync("plex")
    run = SyncRun.objects.get()
    assert (run.source, run.mode, run.why, run.phase) == ("plex", Mode.FULL, Why.FIRST, Phase.DONE)
    assert (run.added, run.updated, run.removed, run.track_count) == (150, 0, 0, 150)
    assert run.requests == result.requests == fake_plex.total_requests
    assert run.duration_ms == result.duration_ms
    assert run.started_at <= run.finished_at
    assert run.succeeded and run.error_kind == "" and run.error == ""


def test_an_incremental_sync_is_recorded_as_such(fake_plex):
    sync("plex")
    fake_plex.library.change_tracks(3)
    sync("plex")
    latest = SyncRun.objects.first()
    assert (latest.mode, latest.why) == (Mode.INCREMENTAL, Why.CHANGES)
    assert (latest.added, latest.updated, latest.removed) == (0, 3, 0)
    sync("plex", full=True)
    assert (SyncRun.objects.first().mode, SyncRun.objects.first().why) == (Mode.FULL, Why.FORCED)
    assert SyncRun.objects.count() == 3


def test_a_failed_sync_is_recorded_with_its_kind_and_where_it_stopped(fake_plex, settings):
    settings.PLEX_TOKEN = "wrong-secret"
    with pytest.raises(SyncFailed):
        sync("plex")
    run = SyncRun.objects.get()
    assert not run.succeeded
    assert (run.error_kind, run.phase) == (ErrorKind.UNAUTHORIZED, Phase.CONNECTING)
    assert "rejected the token" in run.error and "wrong-secret" not in run.error
    assert run.result.startswith(ErrorKind.UNAUTHORIZED.label)


def test_a_sync_that_fails_midway_records_its_mode_and_phase(fake_plex):
    fake_plex.faults.fail_after_pages = 1
    with pytest.raises(SyncFailed):
        sync("plex")
    run = SyncRun.objects.get()
    assert (run.mode, run.phase, run.error_kind) == (Mode.FULL, Phase.TRACKS, ErrorKind.BAD_RESPONSE)
    assert run.requests > 0 and run.track_count == 0


def test_a_dead_workers_run_goes_into_the_history_when_the_next_sync_starts(fake_plex, settings):
    SyncState.claim("plex").progress(phase=Phase.TRACKS)
    long_ago = timezone.now() - timedelta(seconds=settings.SYNC_HEARTBEAT_TIMEOUT + 1)
    SyncState.objects.filter(source="plex").update(heartbeat_at=long_ago)
    sync("plex")
    done, dead = SyncRun.objects.all()
    assert done.succeeded
    assert (dead.error_kind, dead.phase) == (ErrorKind.WORKER, Phase.TRACKS)
    assert "stopped responding" in dead.error


def test_old_runs_and_runs_past_the_last_200_are_pruned_after_each_sync(fake_plex):
    now = timezone.now()
    SyncRun.objects.bulk_create(
        [SyncRun(source="plex", run_id=0, finished_at=now - timedelta(days=SyncRun.KEEP_DAYS + 1))]
        + [SyncRun(source="plex", run_id=n, finished_at=now - timedelta(minutes=n)) for n in range(1, 205)]
        + [SyncRun(source="jellyfin", run_id=1, finished_at=now - timedelta(days=1))]
    )
    sync("plex")
    plex = SyncRun.objects.filter(source="plex")
    assert plex.count() == SyncRun.KEEP_RUNS
    assert plex.first().track_count == 150  # the sync just done is kept
    assert not plex.filter(run_id=0).exists()  # too old
    assert not plex.filter(run_id__gt=SyncRun.KEEP_RUNS - 1).exists()  # the oldest past 200
    assert SyncRun.objects.filter(source="jellyfin").count() == 1  # another server's are its own


def test_the_history_page_says_what_each_sync_did(client, fake_plex, settings):
    sync("plex")
    fake_plex.library.add_tracks(2)
    sync("plex")
    fake_plex.faults.status = 500
    with pytest.raises(SyncFailed):
        sync("plex")
    page = client.get("/library/history").content.decode()
    assert "<h1>Sync history</h1>" in page
    assert page.count('data-testid="sync-run"') == 3
    assert "Full: first sync" in page and "+150 ~0 −0" in page
    assert "Incremental: only what changed" in page and "+2 ~0 −0" in page
    assert ErrorKind.BAD_RESPONSE.label in page and "HTTP 500" in page
    assert fake_plex.token not in page
    # Newest first.
    assert page.index(ErrorKind.BAD_RESPONSE.label) < page.index("Incremental") < page.index("first sync")


def test_the_footer_links_to_the_history(client, fake_plex):
    sync("plex")
    assert 'href="/library/history"' in client.get("/library/footer").content.decode()


def test_the_history_page_before_any_sync(client, fake_plex):
    assert "No sync has run yet." in client.get("/library/history").content.decode()


def test_the_admin_lists_runs_read_only(admin_client, fake_plex):
    sync("plex")
    page = admin_client.get("/admin/library/syncrun/").content.decode()
    assert "Full" in page and "150" in page
    run = SyncRun.objects.get()
    change = admin_client.get(f"/admin/library/syncrun/{run.pk}/change/").content.decode()
    assert 'name="_save"' not in change
    assert admin_client.get("/admin/library/syncrun/add/").status_code == 403
