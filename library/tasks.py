"""django-q2 entry points. Each takes ids, not objects, and is safe to run twice."""

import contextlib
import logging
from datetime import timedelta

from django.db import DatabaseError
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from library.models import SyncState
from library.sources import SourceError, configured_sources, get_source
from library.sync import SyncBusy, claim, run_sync

log = logging.getLogger(__name__)

# The worker's heartbeat is this schedule's next_run: the cluster's scheduler
# moves it a minute ahead each time it runs it, even while a long sync keeps
# the only worker busy, so next_run minus a minute is when it was last seen.
HEARTBEAT = "worker heartbeat"
HEARTBEAT_EVERY = timedelta(minutes=1)


def enqueue_sync(source):
    """Claim a sync of `source` and hand it to the worker. Raises SyncBusy."""
    run_id = claim(source, phase="queued")
    try:
        async_task("library.tasks.sync_library", source, run_id, task_name=f"sync {source} #{run_id}")
    except Exception:
        # Without a queued task nobody would ever finish this claim.
        SyncState.objects.filter(source=source, run_id=run_id).update(is_syncing=False, phase="")
        raise
    return run_id


def sync_library(source, run_id):
    """Run a claimed sync. Failures are recorded in SyncState for the UI, so
    they are returned as text rather than raised into django-q's log."""
    try:
        result = run_sync(source, run_id)
    except (SourceError, DatabaseError) as exc:
        return f"failed: {exc}"
    return "skipped" if result is None else f"{result.track_count} tracks"


def refresh_servers():
    """Scheduled: note whether each server answers, and sync its cache when it
    is stale, empty, or the server behind the URL has changed."""
    for source in configured_sources():
        state = SyncState.for_source(source)
        if state.is_running:
            continue
        adapter = get_source(source)
        try:
            info = adapter.connect()
        except SourceError as exc:
            SyncState.objects.filter(source=source).update(server_reachable=not exc.unreachable)
            log.warning("%s check failed: %s", source, exc.message)
            continue
        SyncState.objects.filter(source=source).update(server_reachable=True)
        if not (state.server_changed_to(info.server_id) or state.is_stale or state.track_count == 0):
            continue
        try:
            run_id = claim(source)
        except SyncBusy:
            continue
        # A failure is recorded in SyncState for the UI.
        with contextlib.suppress(SourceError, DatabaseError):
            run_sync(source, run_id, adapter=adapter)


def heartbeat():
    """Scheduled every minute; running it is the point (see HEARTBEAT)."""


def note_worker_started(**kwargs):
    """django-q2's post_spawn: the worker is seen now, and its heartbeat is scheduled."""
    Schedule.objects.update_or_create(
        name=HEARTBEAT,
        defaults={
            "func": "library.tasks.heartbeat",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now() + HEARTBEAT_EVERY,
            # A no-op's result is not worth a row in the task table.
            "kwargs": "q_options={'save': False}",
        },
    )


def worker_last_seen():
    """When the worker was last seen, or None if it never ran."""
    next_run = Schedule.objects.filter(name=HEARTBEAT).values_list("next_run", flat=True).first()
    return next_run - HEARTBEAT_EVERY if next_run else None
