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

import bisect
import logging
import math
import queue
import threading
import time
from collections import defaultdict
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

        gone, seen = self._read(total, full, server_changed)

        self._progress(phase=Phase.SAVING)
        complete = self._complete(total, seen)
        counts = cache.merge(self.state, wipe=server_changed, remove=complete, gone=gone)
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
        everything. Sets the mode and why. Returns (keys of cached tracks the server no
        longer has, or None when the staged tracks are the library; how many tracks the
        server holds as this sync sees them)."""
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
        for page in _read_ahead(self.adapter.track_pages(settings.SYNC_PAGE_SIZE)):
            self._stage(page)
            self._progress(current=self.staged, total=max(total, self.staged))
        return None, self.staged

    def _incremental(self, total):
        """Stage only what changed since the last good sync, and find deletions. Raises
        _FullSyncNeeded when the changes do not account for every track, or the server
        will not list changes or count by date."""
        self._progress(phase=Phase.CHANGES)
        since = (
            int(self.state.change_mark.timestamp()) - 60
        )  # a change made while that sync read is read again
        try:
            for page in self.adapter.changed_track_pages(since, settings.SYNC_PAGE_SIZE):
                self._stage(page)
                self._progress()
            if self.adapter.ignored_filters:  # read newest first instead, down to the mark
                self.why = Why.FILTER_IGNORED
        except SourceError as exc:
            # A server that refuses a change filter (an older version, say) still answers
            # plain listings; one that ignores it answers the whole library, which the
            # adapter stops at once. Either way a full sync will do.
            why = _FILTER_FAILURES.get(exc.kind)
            if why is None:
                raise
            log.warning("%s: %s (%s): full sync", self.source, why.label, exc.message)
            raise _FullSyncNeeded(why) from exc
        return self._find_deletions(total)

    def _find_deletions(self, total):
        """Which tracks of the cache the server no longer has, by counting where it
        can: a server holding as many tracks as the cache with these changes lost none;
        a few deletions are located by counting ranges of added dates, more by comparing
        each album's track count with the cache's (listings of size 0, or of albums, cost
        the server little whatever it leaves out of its answers). A server that can do
        neither gets every key listed. Returns (keys gone, tracks on the server as this
        sync sees them)."""
        self._progress(phase=Phase.DELETIONS, current=0, total=total)
        expected = cache.expected_tracks(self.source)
        if total > len(expected):
            _unexplained(self.source, total - len(expected))
        gone = set()
        if total < len(expected):
            gone = self._counted(_Narrowing(self.adapter, expected, total, self._progress).run)
            if gone is None:
                gone = self._counted(lambda: self._album_deletions(expected, total))
            if gone is None:
                self.why = Why.KEYS_LISTED
                gone = self._listed_deletions(expected)
        self._progress(current=total)
        return gone, len(expected) - len(gone)

    def _counted(self, count):
        """count()'s deletions, or None when it cannot find them, the server refusing
        or ignoring the filters it counts with."""
        try:
            return count()
        except SourceError as exc:
            if exc.kind not in _FILTER_FAILURES:
                raise
            log.warning("%s: counting deletions failed (%s)", self.source, exc.message)
            return None

    def _album_deletions(self, expected, total):
        """Deletions found by comparing each album's track count on the server with the
        cache's: only the cached tracks of albums whose counts differ are looked up, by
        key. None when the server does not count albums' tracks."""
        if not self.adapter.counts_albums:
            return None
        cached, listed = defaultdict(list), set()
        for key, _, album, staged in expected:
            cached[album].append(key)
            if staged:
                listed.add(key)
        short, counted = [], 0
        for page in self.adapter.album_track_counts(settings.SYNC_PAGE_SIZE):
            for album, count in page:
                if count is None:
                    return None
                keys = cached.pop(album, [])
                if count > len(keys):
                    _unexplained(self.source, count - len(keys))
                if count < len(keys):
                    short += keys
                counted += count
            self._progress(current=min(counted, total))
        if counted != total:  # tracks outside any album, or the library changed meanwhile
            log.info("%s: albums hold %s tracks of %s: listing every key", self.source, counted, total)
            return None
        short += [key for keys in cached.values() for key in keys]  # albums gone whole
        # Tracks this sync just listed as changed are there (an album losing a track moves
        # its updatedAt, so its other tracks often are); the rest are looked up.
        unsure = set(short) - listed
        gone = unsure - self.adapter.present_track_keys(unsure)
        log.info("%s: %s deletions found by counting albums' tracks", self.source, len(gone))
        return gone

    def _listed_deletions(self, expected):
        """Deletions found by listing every key (the fallback: it costs a full listing on
        a server that ignores the hints slimming it)."""
        present = set()
        for keys in self.adapter.track_keys(settings.SYNC_KEY_PAGE_SIZE):
            present.update(keys)
            self._progress(current=len(present))
        expected_keys = {key for key, *_ in expected}
        if unexplained := len(present - expected_keys):
            _unexplained(self.source, unexplained)
        return expected_keys - present

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


class _Narrowing:
    """Locates the few tracks gone from a library that holds fewer tracks than
    expected, by halving ranges of added dates: a range whose server count equals the
    cache's is settled by that one request; a small one is listed by key. Gives up
    (run() returns None) past a budget of requests, when counting albums' tracks or
    listing every key costs less."""

    def __init__(self, adapter, expected, total, progress):
        self.adapter = adapter
        self.source = adapter.name
        self.progress = progress
        self.total = total
        self.dated = sorted((added, key) for key, added, *_ in expected if added is not None)
        self.times = [added for added, _ in self.dated]
        self.undated = len(expected) - len(self.dated)
        key_pages = -(-len(expected) // settings.SYNC_KEY_PAGE_SIZE)
        self.budget = 2 * key_pages + 20
        self.leaf = max(1, settings.SYNC_PAGE_SIZE // 5)  # a range this small is listed, not halved
        self.settled = 0

    def run(self):
        # Tracks without an added date cannot be found by date.
        if not self.adapter.counts_added or self.undated:
            return None
        start_requests = self.adapter.request_count
        gone, stack = set(), [(0, len(self.dated), None, None, self.total)]
        while stack:
            # Each range still off costs a count per halving and a listing: when that
            # would pass the budget (deletions scattered all over), count another way.
            ahead = sum(self._cost(i, j) for i, j, _, _, count in stack if count != j - i)
            if self.adapter.request_count - start_requests + ahead > self.budget:
                log.info("%s: deletions too scattered to locate by date", self.source)
                return None
            i, j, start, end, count = stack.pop()
            if count > j - i:
                _unexplained(self.source, count - (j - i))
            if count == j - i:
                self._settle(j - i)
            elif (mid := self._split(i, j)) is None or j - i <= self.leaf:
                gone |= self._listed(i, j, start, end)
                self._settle(j - i)
            else:
                split = self.times[mid]
                left = self._count(start, split)
                stack += [(mid, j, split, end, count - left), (i, mid, start, split, left)]
        log.info("%s: %s deletions found by counting", self.source, len(gone))
        return gone

    def _cost(self, i, j):
        """About how many requests locating the deletions in range i:j takes, if few."""
        return 1 + max(0, math.ceil(math.log2((j - i) / self.leaf)))

    def _split(self, i, j):
        """An index between i and j at which the added date changes (tracks added in the
        same second stay together), or None."""
        mid = bisect.bisect_left(self.times, self.times[(i + j) // 2], i, j)
        if mid == i:
            mid = bisect.bisect_right(self.times, self.times[i], i, j)
        return mid if i < mid < j else None

    def _count(self, start, end):
        count = self.adapter.count_added(start, end)
        if count >= self.total > 0:  # a part counted as the whole: the date filter is ignored
            raise SourceError(ErrorKind.FILTER_IGNORED, f"counted {count} tracks in a range of added dates")
        return count

    def _listed(self, i, j, start, end):
        expected = {key for _, key in self.dated[i:j]}
        listed = set()
        for keys in self.adapter.added_track_keys(start, end, settings.SYNC_KEY_PAGE_SIZE):
            listed.update(keys)
        if unexplained := len(listed - expected):
            _unexplained(self.source, unexplained)
        return expected - listed

    def _settle(self, tracks):
        self.settled += tracks
        self.progress(current=min(self.settled, self.total))


def _read_ahead(pages):
    """Yield the pages of an iterator that a thread reads one page ahead: the next page
    is on the wire (and the server busy making it) while the caller stages the last.
    The reader stops when the caller does, and its failure is raised to the caller."""
    ahead, stop, end = queue.Queue(maxsize=1), threading.Event(), object()

    def hand_over(item):
        while not stop.is_set():
            try:
                return ahead.put(item, timeout=0.1)
            except queue.Full:
                continue

    def read():
        try:
            for page in pages:
                if stop.is_set():
                    break
                hand_over(page)
            hand_over(end)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
            hand_over(exc)
        finally:
            pages.close()

    reader = threading.Thread(target=read, name="sync-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def _unexplained(source, count):
    log.warning("%s: %s tracks appeared without showing as changed: full sync", source, count)
    raise _FullSyncNeeded(Why.UNEXPLAINED)


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
