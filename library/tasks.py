"""django-q2 entry points. Each takes ids, not objects, and is safe to run twice."""

import contextlib
import logging
from datetime import timedelta

from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from library.models import SyncBusy, SyncState
from library.sources import SourceError, configured_sources, get_source
from library.sync import SyncFailed, sync
from library.vocab import Phase

log = logging.getLogger(__name__)

# The worker's heartbeat is this schedule's next_run: the cluster's scheduler
# moves it a minute ahead each time it runs it, even while a long sync keeps
# the only worker busy, so next_run minus a minute is when it was last seen.
HEARTBEAT = "worker heartbeat"
HEARTBEAT_EVERY = timedelta(minutes=1)


def enqueue_sync(source):
    """Claim a sync of `source` and hand it to the worker. Raises SyncBusy."""
    state = SyncState.claim(source, phase=Phase.QUEUED)
    try:
        async_task(
            "library.tasks.sync_library", source, state.run_id, task_name=f"sync {source} #{state.run_id}"
        )
    except Exception:
        # Without a queued task nobody would ever finish this claim.
        state.release()
        raise
    return state.run_id


def sync_library(source, run_id):
    """Run a claimed sync. Failures are recorded in SyncState for the UI, so
    they are returned as text rather than raised into django-q's log."""
    try:
        result = sync(source, run_id=run_id)
    except SyncFailed as exc:
        return f"failed: {exc.message}"
    return "skipped" if result is None else f"{result.track_count} tracks"


def refresh_servers():
    """Scheduled (at worker start and every ten minutes): note whether each server
    answers, and sync its cache when one is due (SyncState.sync_due)."""
    for source in configured_sources():
        state = SyncState.for_source(source)
        if state.is_running:
            continue
        adapter = get_source(source)
        try:
            info = adapter.connect()
        except SourceError as exc:
            state.mark_reachable(not exc.unreachable)
            log.warning("%s check failed: %s", source, exc.message)
            continue
        state.mark_reachable(True)
        if due := state.sync_due(info.server_id):
            log.info("%s: syncing, as %s", source, due.label)
            # A sync under way will do; a failure is recorded for the UI.
            with contextlib.suppress(SyncBusy, SyncFailed):
                sync(source, adapter=adapter)


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
