"""The sync engine: mirrors one media server's music library into the cache.

One way to run a sync, used by the worker task, `manage.py sync` and tests:

    run_id = claim("plex")          # or raises SyncBusy
    result = run_sync("plex", run_id)

Pages are staged in StagedTrack, each in its own short transaction, and only
merged into Track at the end in one transaction: a sync that fails anywhere
leaves the cache as it was, readers never see half a library, and no write
transaction is ever held across a network call.
"""

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from library.live import is_live
from library.models import StagedTrack, SyncState, Track
from library.sources import SourceError, get_source

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 5


class SyncBusy(Exception):
    """A sync of this server is already running."""


class _LostClaim(Exception):
    """Another process took over this sync (ours was judged dead)."""


@dataclass
class SyncResult:
    track_count: int
    added: int
    updated: int
    removed: int
    duration_ms: int
    requests: int
    server_changed: bool


def claim(source, phase="starting"):
    """Mark a sync of `source` as running and return its run id.

    Atomic across processes: of two callers, one gets the id and the other
    SyncBusy. A running sync whose heartbeat stopped (its worker died) no
    longer holds the claim."""
    SyncState.objects.get_or_create(source=source)
    now = timezone.now()
    stale = now - timezone.timedelta(seconds=settings.SYNC_HEARTBEAT_TIMEOUT)
    with transaction.atomic():
        claimed = (
            SyncState.objects.filter(source=source)
            .filter(Q(is_syncing=False) | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale))
            .update(
                is_syncing=True,
                run_id=F("run_id") + 1,
                phase=phase,
                current=0,
                total=0,
                started_at=now,
                heartbeat_at=now,
            )
        )
        if not claimed:
            raise SyncBusy(f"A {source} sync is already running.")
        return SyncState.objects.get(source=source).run_id


def run_sync(source, run_id, adapter=None, on_progress=None):
    """Run the sync claimed as `run_id`. Idempotent: a run that is not (or no
    longer) the current claim does nothing and returns None.

    Raises SourceError or DatabaseError after recording the failure."""
    if not SyncState.objects.filter(source=source, run_id=run_id, is_syncing=True).exists():
        log.info("sync %s #%s is not the current run; skipping", source, run_id)
        return None
    adapter = adapter or get_source(source)
    run = _Run(source, run_id, on_progress)
    heartbeat = _Heartbeat(source, run_id)
    heartbeat.start()
    try:
        result = run.execute(adapter)
    except _LostClaim:
        log.warning("sync %s #%s was taken over by another run", source, run_id)
        return None
    except SourceError as exc:
        run.fail(exc.kind, exc.message, reachable=exc.kind not in ("unreachable", "timeout"))
        raise
    except DatabaseError as exc:
        run.fail("database", f"Could not write to the cache database: {exc}")
        raise
    except Exception as exc:
        run.fail("internal", f"The sync failed unexpectedly: {exc.__class__.__name__}: {exc}")
        raise
    finally:
        heartbeat.stop()
        run.clear_staging()
    return result


class _Run:
    def __init__(self, source, run_id, on_progress):
        self.source = source
        self.run_id = run_id
        self.on_progress = on_progress or (lambda state: None)
        self.started = time.monotonic()

    def _update(self, **fields):
        """Write progress; fails if another process has claimed the sync since."""
        fields["heartbeat_at"] = timezone.now()
        if not SyncState.objects.filter(source=self.source, run_id=self.run_id).update(**fields):
            raise _LostClaim
        self.on_progress(fields)

    def execute(self, adapter):
        self._update(phase="connecting")
        info = adapter.connect()
        state = SyncState.objects.get(source=self.source)
        server_changed = bool(state.server_id) and state.server_id != info.server_id
        if server_changed:
            log.warning(
                "%s server changed from %s to %s: replacing the cache",
                self.source,
                state.server_id,
                info.server_id,
            )

        total = adapter.count_tracks()
        self._update(phase="albums", total=total, server_reachable=True)
        adapter.prepare(settings.SYNC_PAGE_SIZE)

        self.clear_staging()
        self._update(phase="tracks", current=0)
        staged = 0
        for page in adapter.track_pages(settings.SYNC_PAGE_SIZE):
            staged = self._stage(page)
            self._update(current=staged, total=max(total, staged))

        self._update(phase="saving")
        # Tracks added or removed while we paged shift the pages under us, so a
        # track may have been skipped: then keep tracks we did not see this time.
        final_total = adapter.count_tracks()
        complete = total == final_total == staged
        if not complete:
            log.warning(
                "%s library changed during the sync (%s tracks, %s read): not removing tracks",
                self.source,
                final_total,
                staged,
            )
        added, updated, removed = _merge(self.source, self.run_id, wipe=server_changed, remove=complete)

        duration_ms = round((time.monotonic() - self.started) * 1000)
        count = Track.objects.filter(source=self.source).count()
        notice = ""
        if server_changed:
            notice = (
                f"The {adapter.label} server changed (now {info.server_name or info.server_id}): "
                "the cache was replaced with its library."
            )
        self._update(
            is_syncing=False,
            phase="done",
            server_id=info.server_id,
            server_name=info.server_name,
            library_title=info.library_title,
            last_sync_at=timezone.now(),
            track_count=count,
            sync_duration_ms=duration_ms,
            last_added=added,
            last_updated=updated,
            last_removed=removed,
            last_request_count=adapter.request_count,
            error="",
            error_kind="",
            notice=notice,
            server_reachable=True,
        )
        log.info(
            "%s sync done: %s tracks (+%s ~%s -%s) in %.1f s, %s requests",
            self.source,
            count,
            added,
            updated,
            removed,
            duration_ms / 1000,
            adapter.request_count,
        )
        return SyncResult(count, added, updated, removed, duration_ms, adapter.request_count, server_changed)

    def _stage(self, page):
        rows = []
        for track in page:
            album_is_live = track.pop("album_is_live", False)
            track["is_live"] = is_live(track["title"], track["album"], album_is_live)
            rows.append(StagedTrack(source=self.source, **track))
        with transaction.atomic():
            # A track listed twice (pages shifting under us) is staged once.
            StagedTrack.objects.bulk_create(rows, ignore_conflicts=True)
        return StagedTrack.objects.filter(source=self.source).count()

    def fail(self, kind, message, reachable=True):
        log.error("%s sync failed (%s): %s", self.source, kind, message)
        fields = {
            "is_syncing": False,
            "phase": "failed",
            "error": message,
            "error_kind": kind,
            "error_at": timezone.now(),
        }
        if not reachable:
            fields["server_reachable"] = False
        try:
            SyncState.objects.filter(source=self.source, run_id=self.run_id).update(**fields)
        except DatabaseError:
            log.exception("could not record the sync failure")

    def clear_staging(self):
        try:
            with transaction.atomic():
                StagedTrack.objects.filter(source=self.source).delete()
        except DatabaseError:
            log.exception("could not clear staged tracks")


_COLUMNS = [f.column for f in StagedTrack._meta.concrete_fields if not f.primary_key]
_DATA_COLUMNS = [c for c in _COLUMNS if c not in ("source", "rating_key")]


def _merge(source, run_id, wipe, remove):
    """Swap the staged library into the cache in one transaction.

    Returns (added, updated, removed)."""
    track, staged = Track._meta.db_table, StagedTrack._meta.db_table
    same_key = "t.source = s.source AND t.rating_key = s.rating_key"
    changed = " OR ".join(f"t.{c} IS NOT s.{c}" for c in _DATA_COLUMNS)
    cols = ", ".join(_COLUMNS)
    with transaction.atomic(), connection.cursor() as cur:
        # Re-check the claim inside the write lock, so a run judged dead cannot
        # overwrite a newer one's result.
        if not SyncState.objects.filter(source=source, run_id=run_id, is_syncing=True).exists():
            raise _LostClaim
        if wipe:
            removed = Track.objects.filter(source=source).delete()[0]
            added, updated = StagedTrack.objects.filter(source=source).count(), 0
        else:
            cur.execute(
                f"SELECT COUNT(*) FROM {staged} s WHERE s.source = %s AND NOT EXISTS "
                f"(SELECT 1 FROM {track} t WHERE {same_key})",
                [source],
            )
            added = cur.fetchone()[0]
            cur.execute(
                f"SELECT COUNT(*) FROM {staged} s JOIN {track} t ON {same_key} "
                f"WHERE s.source = %s AND ({changed})",
                [source],
            )
            updated = cur.fetchone()[0]
            removed = 0
            if remove:
                cur.execute(
                    f"DELETE FROM {track} WHERE source = %s AND NOT EXISTS "
                    f"(SELECT 1 FROM {staged} s WHERE s.source = {track}.source "
                    f"AND s.rating_key = {track}.rating_key)",
                    [source],
                )
                removed = cur.rowcount
        updates = ", ".join(f"{c} = excluded.{c}" for c in _DATA_COLUMNS)
        differs = " OR ".join(f"{track}.{c} IS NOT excluded.{c}" for c in _DATA_COLUMNS)
        cur.execute(
            f"INSERT INTO {track} ({cols}, updated_at) SELECT {cols}, %s FROM {staged} "
            f"WHERE source = %s ON CONFLICT (source, rating_key) DO UPDATE SET {updates}, "
            f"updated_at = excluded.updated_at WHERE {differs}",
            [connection.ops.adapt_datetimefield_value(timezone.now()), source],
        )
    return added, updated, removed


class _Heartbeat:
    """Proves the worker is alive while the main thread waits on the network,
    so the web side can tell a slow sync from a dead one."""

    def __init__(self, source, run_id):
        self.source, self.run_id = source, run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="sync-heartbeat")

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _beat(self):
        try:
            while not self._stop.wait(HEARTBEAT_INTERVAL):
                try:
                    SyncState.objects.filter(source=self.source, run_id=self.run_id, is_syncing=True).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError:
                    log.warning("heartbeat write failed", exc_info=True)
        finally:
            connection.close()
