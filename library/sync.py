"""The sync engine: mirrors one media server's music library into the cache.

One way to run a sync, for the worker task, `manage.py sync`, the import's
sync-first, the scheduled check and tests:

    result = sync("plex")                # claim, run, record; SyncBusy or SyncFailed
    result = sync("plex", run_id=7)      # a sync claimed earlier (queued for the worker)

Whether a sync is due is SyncState.sync_due(). The steps of a run are in
_Run.execute; the cache writes are in library.cache, the state and history
writes in SyncState's methods, the heartbeat in library.heartbeat. The engine
knows no server: adapters (library.sources.base.MediaSource) hand it pages of TrackRow.
"""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from library import cache
from library.heartbeat import Heartbeat
from library.live import is_live
from library.models import LostClaim, SyncState
from library.sources import SourceError, get_source
from library.vocab import ErrorKind, Mode, Phase, Why

log = logging.getLogger(__name__)


class SyncFailed(Exception):
    """A sync failed; the failure is recorded (SyncState, SyncRun) and the cache is as it was."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class SyncResult:
    track_count: int
    added: int
    updated: int
    removed: int
    duration_ms: int
    requests: int
    server_changed: bool
    mode: str  # a Mode
    why: str  # a Why


def sync(source, *, run_id=None, adapter=None, on_progress=None, full=False):
    """Sync `source`'s cache: claim a sync (or take over the one claimed as `run_id`),
    run it and record how it ended. Incremental when the cache allows, unless `full`.

    Returns a SyncResult, or None when `run_id` is not (or no longer) the current
    claim. Raises SyncBusy when another sync runs, SyncFailed when this one fails.
    `on_progress(state)` is called at each step with the SyncState."""
    adapter = adapter or get_source(source)
    if run_id is None:
        state = SyncState.claim(source)
    elif (state := SyncState.claimed(source, run_id)) is None:
        log.info("sync %s #%s is not the current run; skipping", source, run_id)
        return None
    run = _Run(state, adapter, on_progress)
    try:
        with Heartbeat(state):
            return run.execute(full)
    except LostClaim:
        log.warning("sync %s #%s was taken over by another run", source, state.run_id)
        return None
    except SourceError as exc:
        raise run.fail(exc.kind, exc.message, reachable=not exc.unreachable) from exc
    except DatabaseError as exc:
        raise run.fail(ErrorKind.DATABASE, f"Could not write to the cache database: {exc}") from exc
    except Exception as exc:
        log.exception("sync %s #%s failed unexpectedly", source, state.run_id)
        message = f"The sync failed unexpectedly: {exc.__class__.__name__}: {exc}"
        raise run.fail(ErrorKind.INTERNAL, message) from exc
    finally:
        cache.clear_staging(source)


class _FullSyncNeeded(Exception):
    """An incremental sync found it cannot be sure of the result."""

    def __init__(self, why):
        self.why = why


class _Run:
    def __init__(self, state, adapter, on_progress):
        self.state = state
        self.source = state.source
        self.adapter = adapter
        self.on_progress = on_progress or (lambda state: None)
        self.started = time.monotonic()
        self.staged = 0
        self.mode = self.why = ""

    def execute(self, full):
        """The steps of a sync: connect, stage what it reads, merge it in, record how it went."""
        self._progress(phase=Phase.CONNECTING)
        info = self.adapter.connect()
        # Taken before reading anything, so the next sync also sees changes made while this one read.
        change_mark = info.server_time or timezone.now()
        server_changed = self._server_changed(info)
        total = self.adapter.count_tracks()
        self._progress(total=total, server_reachable=True)

        present, seen = self._read(total, full, server_changed)

        self._progress(phase=Phase.SAVING)
        complete = self._complete(total, seen)
        counts = cache.merge(self.state, wipe=server_changed, remove=complete, present=present)
        return self._finish(info, change_mark, counts, server_changed)

    def fail(self, kind, message, reachable=True):
        """Record the failure; returns the SyncFailed to raise."""
        log.error("%s sync failed (%s): %s", self.source, kind, message)
        try:
            self.state.fail(
                kind,
                message,
                reachable=reachable,
                mode=self.mode,
                why=self.why,
                requests=self.adapter.request_count,
                duration_ms=self._duration_ms(),
            )
        except DatabaseError:
            log.exception("could not record the sync failure")
        return SyncFailed(kind, message)

    def _server_changed(self, info):
        """Whether the server behind the URL is another one than the cache holds."""
        changed = self.state.server_changed_to(info.server_id)
        if changed:
            log.warning(
                "%s server changed from %s to %s: replacing the cache",
                self.source,
                self.state.server_id,
                info.server_id,
            )
        return changed

    def _finish(self, info, change_mark, counts, server_changed):
        notice = ""
        if server_changed:
            notice = (
                f"The {self.adapter.label} server changed (now {info.server_name or info.server_id}): "
                "the cache was replaced with its library."
            )
        duration_ms, requests = self._duration_ms(), self.adapter.request_count
        self.state.finish(
            info,
            mode=self.mode,
            why=self.why,
            counts=counts,
            requests=requests,
            duration_ms=duration_ms,
            change_mark=change_mark,
            notice=notice,
        )
        count = self.state.track_count
        log.info(
            "%s %s sync (%s) done: %s tracks (+%s ~%s -%s) in %.1f s, %s requests",
            self.source,
            self.mode,
            Why(self.why).label,
            count,
            *counts,
            duration_ms / 1000,
            requests,
        )
        return SyncResult(count, *counts, duration_ms, requests, server_changed, self.mode, self.why)

    def _progress(self, **fields):
        self.state.progress(**fields)
        self.on_progress(self.state)

    def _duration_ms(self):
        return round((time.monotonic() - self.started) * 1000)

    def _read(self, total, full, server_changed):
        """Stage what this sync reads: only what changed when that is enough, else
        everything. Sets the mode and why. Returns (keys of every track on the server,
        or None when the staged tracks are the library; how many tracks were read)."""
        self._clear_staging()
        self.why = _why_full(self.state, full, server_changed)
        if not self.why:
            self.mode, self.why = Mode.INCREMENTAL, Why.CHANGES
            try:
                return self._incremental(total)
            except _FullSyncNeeded as exc:
                self.why = exc.why
                self._clear_staging()
        self.mode = Mode.FULL
        return self._full(total)

    def _full(self, total):
        self._progress(phase=Phase.ALBUMS)
        self.adapter.prepare(settings.SYNC_PAGE_SIZE)
        self._progress(phase=Phase.TRACKS, current=0)
        for page in self.adapter.track_pages(settings.SYNC_PAGE_SIZE):
            self._stage(page)
            self._progress(current=self.staged, total=max(total, self.staged))
        return None, self.staged

    def _incremental(self, total):
        """Stage only what changed since the last good sync, and list every key to find
        deletions. Raises _FullSyncNeeded when the changes do not account for every
        track, or the server will not list changes."""
        self._progress(phase=Phase.CHANGES)
        since = (
            int(self.state.change_mark.timestamp()) - 60
        )  # a change made while that sync read is read again
        try:
            for page in self.adapter.changed_track_pages(since, settings.SYNC_PAGE_SIZE):
                self._stage(page)
                self._progress()
        except SourceError as exc:
            # A server that refuses a change filter (an older version, say) still answers
            # plain listings; one that ignores it answers the whole library, which the
            # adapter stops at once. Either way a full sync will do.
            why = _FILTER_FAILURES.get(exc.kind)
            if why is None:
                raise
            log.warning("%s: %s (%s): full sync", self.source, why.label, exc.message)
            raise _FullSyncNeeded(why) from exc
        self._progress(phase=Phase.TRACKS, current=0)
        present = set()
        for keys in self.adapter.track_keys(settings.SYNC_KEY_PAGE_SIZE):
            present.update(keys)
            self._progress(current=len(present), total=max(total, len(present)))
        if unexplained := len(present - cache.cached_keys(self.source) - cache.staged_keys(self.source)):
            log.warning(
                "%s: %s tracks appeared without showing as changed: full sync", self.source, unexplained
            )
            raise _FullSyncNeeded(Why.UNEXPLAINED)
        return present, len(present)

    def _complete(self, total, seen):
        """Whether this sync saw the whole library, so tracks it did not see are gone.
        Tracks added or removed while it paged shift the pages under it, so a track
        may have been skipped: then it keeps tracks it did not see this time."""
        final_total = self.adapter.count_tracks()
        complete = total == final_total == seen
        if not complete:
            log.warning(
                "%s library changed during the sync (%s tracks, %s read): not removing tracks",
                self.source,
                final_total,
                seen,
            )
        return complete

    def _stage(self, page):
        self.staged += cache.stage(_cache_row(self.source, track) for track in page)

    def _clear_staging(self):
        cache.clear_staging(self.source)
        self.staged = 0


# What a change listing's failure means: SourceError kind -> why a full sync follows.
_FILTER_FAILURES = {
    ErrorKind.BAD_RESPONSE: Why.FILTER_REFUSED,
    ErrorKind.FILTER_IGNORED: Why.FILTER_IGNORED,
}


def _cache_row(source, track):
    """An adapter's TrackRow as a cache row. The live rules weigh the title, the
    album title and whatever the server itself says (`server_says_live`)."""
    row = {**track, "source": source}
    row["is_live"] = is_live(row["title"], row["album"], row.pop("server_says_live", False))
    return row


def _why_full(state, full, server_changed):
    """Why this sync must read everything (a Why), or "" when only what changed
    since the last good sync will do."""
    if server_changed:
        return Why.SERVER_CHANGED
    if not state.track_count or state.last_full_sync_at is None or state.change_mark is None:
        return Why.FIRST
    if full:
        return Why.FORCED
    if timezone.now() - state.last_full_sync_at > timedelta(days=settings.SYNC_FULL_EVERY_DAYS):
        return Why.PERIODIC  # catches what no change date shows
    return ""
