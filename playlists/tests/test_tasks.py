"""Saved playlists in the worker: a schedule firing end to end through the real django-q2
worker, and the task's guarantees."""

import pytest
from django_q.models import OrmQ

from mediasage import processes
from playlists.models import PlaylistRun, SavedPlaylist
from playlists.tasks import run_now, run_saved_playlist


@pytest.mark.worker
@pytest.mark.postgres
def test_a_schedule_fires_in_the_worker_and_writes_the_playlist(plex_factory, stack_factory):
    plex = plex_factory(300, seed=3, token="e2e-token")
    stack = stack_factory(plex)
    added = processes.run(
        processes.manage(
            "playlists",
            "add",
            "Morning",
            "--source",
            "smart",
            "--filters",
            "count=10",
            "--to",
            "plex",
            "--every",
            "1h",
        ),
        stack.env,
    )
    assert added.returncode == 0, added.stderr
    # Due now rather than in an hour: the worker's scheduler picks it up on its next round.
    due = "from django.utils import timezone; from django_q.models import Schedule; " + (
        "Schedule.objects.filter(name__startswith='saved playlist').update(next_run=timezone.now())"
    )
    assert processes.run(processes.manage("shell", "-c", due), stack.env).returncode == 0

    made = stack.wait_for(
        lambda: next((p for p in list(plex.playlists.values()) if p.title == "Morning"), None),
        timeout=90,
        what="the scheduled run",
    )
    assert len(made.items) == 10
    listed = processes.run(processes.manage("playlists", "list"), stack.env).stdout
    assert "Morning: smart playlist to Plex" in listed and listed.rstrip().endswith(": Done")
    assert plex.token not in listed


def test_a_task_for_a_playlist_already_running_does_nothing(db, settings):
    settings.PLEX_URL, settings.PLEX_TOKEN = "http://plex.invalid:32400", "secret-plex-token"
    saved = SavedPlaylist.add("Morning", "smart", ["plex"])
    PlaylistRun.objects.create(saved=saved)
    assert run_saved_playlist(saved.pk) == "skipped: already running"
    assert saved.runs.count() == 1
    saved.delete()
    assert run_saved_playlist(saved.pk) == "deleted"


def test_run_now_queues_the_id_and_no_secret(db, settings):
    settings.PLEX_URL, settings.PLEX_TOKEN = "http://plex.invalid:32400", "secret-plex-token"
    saved = SavedPlaylist.add("Morning", "smart", ["plex"])
    run_now(saved.pk, dry_run=True)
    [queued] = OrmQ.objects.all()
    assert queued.task["args"] == (saved.pk,) and queued.task["kwargs"] == {"dry_run": True}
    assert "secret" not in str(queued.task)
