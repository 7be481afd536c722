"""The sync engine: mirrors one media server's music library into the cache.

One way to run a sync, used by the worker task, `manage.py sync` and tests:

    run_id = claim("plex")          # or raises SyncBusy
    result = run_sync("plex", run_id)

Pages are staged in StagedTrack, each in its own short transaction, and only
merged into Track at the end in one transaction: a sync that fails anywhere
leaves the cache as it was, readers never see half a library, and no write
transaction is ever held across a network call.
"""

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
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
    mode: str  # "full" or "incremental"


def claim(source, phase="starting"):
    """Mark a sync of `source` as running and return its run id.

    Atomic across processes: of two callers, one gets the id and the other
    SyncBusy. A running sync whose heartbeat stopped (its worker died) no
    longer holds the claim."""
    SyncState.objects.get_or_create(source=source)
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SYNC_HEARTBEAT_TIMEOUT)
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


def run_sync(source, run_id, adapter=None, on_progress=None, full=False):
    """Run the sync claimed as `run_id`. Idempotent: a run that is not (or no
    longer) the current claim does nothing and returns None.

    Syncs incrementally (only what changed) when the cache allows it, unless
    `full`. Raises SourceError or DatabaseError after recording the failure."""
    if not SyncState.objects.filter(source=source, run_id=run_id, is_syncing=True).exists():
        log.info("sync %s #%s is not the current run; skipping", source, run_id)
        return None
    adapter = adapter or get_source(source)
    run = _Run(source, run_id, on_progress)
    heartbeat = _Heartbeat(source, run_id)
    heartbeat.start()
    try:
        result = run.execute(adapter, full=full)
    except _LostClaim:
        log.warning("sync %s #%s was taken over by another run", source, run_id)
        return None
    except SourceError as exc:
        run.fail(exc.kind, exc.message, reachable=not exc.unreachable)
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
        self.staged = 0

    def _update(self, **fields):
        """Write progress; fails if another process has claimed the sync since."""
        fields["heartbeat_at"] = timezone.now()
        if not SyncState.objects.filter(source=self.source, run_id=self.run_id).update(**fields):
            raise _LostClaim
        self.on_progress(fields)

    def _full(self, adapter, total):
        """Stage the whole library. Returns (None, tracks read): the staged
        tracks are the library."""
        self._update(phase="albums")
        adapter.prepare(settings.SYNC_PAGE_SIZE)
        self._update(phase="tracks", current=0)
        staged = 0
        for page in adapter.track_pages(settings.SYNC_PAGE_SIZE):
            staged = self._stage(page)
            self._update(current=staged, total=max(total, staged))
        return None, staged

    def _incremental(self, adapter, since, total):
        """Stage only what changed since `since`, and list every key to find
        deletions. Returns (keys on the server, how many), or None when the
        changes do not account for every track, and only a full sync is sure."""
        self._update(phase="changes")
        try:
            for page in adapter.changed_track_pages(since, settings.SYNC_PAGE_SIZE):
                self._stage(page)
                self._update()
        except SourceError as exc:
            # A server that refuses a change filter (an older version, say) still answers
            # plain listings; one that ignores it answers the whole library, which the
            # adapter stops at once. Either way a full sync will do.
            if exc.kind == "bad_response":
                log.warning("%s refused a change listing (%s): full sync", self.source, exc.message)
            elif exc.kind == "filter_ignored":
                log.warning("%s: %s: full sync", self.source, exc.message)
            else:
                raise
            return None
        self._update(phase="tracks", current=0)
        present = set()
        for keys in adapter.track_keys(settings.SYNC_KEY_PAGE_SIZE):
            present.update(keys)
            self._update(current=len(present), total=max(total, len(present)))
        known = set(Track.objects.filter(source=self.source).values_list("rating_key", flat=True))
        known.update(StagedTrack.objects.filter(source=self.source).values_list("rating_key", flat=True))
        if unexplained := len(present - known):
            log.warning(
                "%s: %s tracks appeared without showing as changed: full sync", self.source, unexplained
            )
            return None
        return present, len(present)

    def execute(self, adapter, full=False):
        self._update(phase="connecting")
        info = adapter.connect()
        # Taken before reading anything, so the next sync also sees changes made while this one read.
        change_mark = info.server_time or timezone.now()
        state = SyncState.objects.get(source=self.source)
        server_changed = state.server_changed_to(info.server_id)
        if server_changed:
            log.warning(
                "%s server changed from %s to %s: replacing the cache",
                self.source,
                state.server_id,
                info.server_id,
            )

        total = adapter.count_tracks()
        self._update(total=total, server_reachable=True)

        self.clear_staging()
        since = None if (full or server_changed) else _since(state)
        outcome = self._incremental(adapter, since, total) if since is not None else None
        mode = "incremental"
        if outcome is None:
            mode = "full"
            self.clear_staging()
            outcome = self._full(adapter, total)
        present, seen = outcome

        self._update(phase="saving")
        # Tracks added or removed while we paged shift the pages under us, so a
        # track may have been skipped: then keep tracks we did not see this time.
        final_total = adapter.count_tracks()
        complete = total == final_total == seen
        if not complete:
            log.warning(
                "%s library changed during the sync (%s tracks, %s read): not removing tracks",
                self.source,
                final_total,
                seen,
            )
        added, updated, removed = _merge(
            self.source, self.run_id, wipe=server_changed, remove=complete, present=present
        )

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
            last_mode=mode,
            change_mark=change_mark,
            **({"last_full_sync_at": timezone.now()} if mode == "full" else {}),
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
        return SyncResult(
            count, added, updated, removed, duration_ms, adapter.request_count, server_changed, mode
        )

    def _stage(self, page):
        """Stage a page; returns how many tracks are staged in all. One
        executemany per page: building model instances for bulk_create was half
        of a sync's CPU time."""
        rows = []
        for track in page:
            track = {"artists": [track["artist"]], **track, "source": self.source}
            album_is_live = track.pop("album_is_live", False)
            track["is_live"] = is_live(track["title"], track["album"], album_is_live)
            rows.append([prep(track[name]) if prep else track[name] for name, prep in _STAGE_PREP])
        with transaction.atomic(), connection.cursor() as cur:
            # A track listed twice (pages shifting under us) is staged once.
            cur.executemany(_STAGE_SQL, rows)
            self.staged += cur.rowcount
        return self.staged

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
        self.staged = 0
        try:
            with transaction.atomic():
                StagedTrack.objects.filter(source=self.source).delete()
        except DatabaseError:
            log.exception("could not clear staged tracks")


def _since(state):
    """Where an incremental sync can start: epoch seconds by the server's clock,
    or None when only a full sync will do.

    The mark is the server's clock when the last good sync began reading, less
    a minute of slack: a change made while that sync paged is read again."""
    if not state.track_count or state.last_full_sync_at is None or state.change_mark is None:
        return None
    if timezone.now() - state.last_full_sync_at > timedelta(days=settings.SYNC_FULL_EVERY_DAYS):
        return None  # a periodic full sync catches what no change date shows
    return int(state.change_mark.timestamp()) - 60


_FIELDS = [f for f in StagedTrack._meta.concrete_fields if not f.primary_key]
_COLUMNS = [f.column for f in _FIELDS]
_DATA_COLUMNS = [c for c in _COLUMNS if c not in ("source", "rating_key")]


def _prep(field):
    """How a value of this field is written, as the ORM would write it."""
    if isinstance(field, models.JSONField):
        return json.dumps
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.BooleanField):
        return int
    return None


_STAGE_PREP = [(f.name, _prep(f)) for f in _FIELDS]
_STAGE_SQL = (
    f"INSERT OR IGNORE INTO {StagedTrack._meta.db_table} ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
)


def _merge(source, run_id, wipe, remove, present=None):
    """Merge the staged tracks into the cache in one transaction: the whole
    library (present is None) or the changed tracks of an incremental sync,
    with `present` the keys of every track still on the server.

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
            if remove and present is None:
                cur.execute(
                    f"DELETE FROM {track} WHERE source = %s AND NOT EXISTS "
                    f"(SELECT 1 FROM {staged} s WHERE s.source = {track}.source "
                    f"AND s.rating_key = {track}.rating_key)",
                    [source],
                )
                removed = cur.rowcount
            elif remove:
                cur.execute("CREATE TEMP TABLE IF NOT EXISTS present_keys (rating_key TEXT PRIMARY KEY)")
                cur.execute("DELETE FROM present_keys")
                cur.executemany("INSERT OR IGNORE INTO present_keys VALUES (%s)", [(k,) for k in present])
                cur.execute(
                    f"DELETE FROM {track} WHERE source = %s AND rating_key NOT IN "
                    "(SELECT rating_key FROM present_keys)",
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
