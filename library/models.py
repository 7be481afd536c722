from datetime import UTC, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from library.vocab import Display, Due, ErrorKind, Mode, Phase, Why

SOURCES = [("plex", "Plex"), ("jellyfin", "Jellyfin")]


class TrackFields(models.Model):
    """The columns a cached track has; shared by the cache and its staging twin."""

    source = models.CharField(max_length=16, choices=SOURCES, default="plex")
    # The server's own id: Plex ratingKey, Jellyfin item Id.
    rating_key = models.CharField(max_length=64)
    title = models.CharField(max_length=500)
    # The performer as players show it: every credited artist, joined.
    artist = models.CharField(max_length=500)
    # Every credited artist, in the server's order (Jellyfin credits several;
    # Plex one: originalTitle when set, else the album artist).
    artists = models.JSONField(default=list, blank=True)
    album_artist = models.CharField(max_length=500, blank=True)
    album = models.CharField(max_length=500, blank=True)
    album_key = models.CharField(max_length=64, blank=True)
    track_number = models.PositiveIntegerField(null=True, blank=True)
    disc_number = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    genres = models.JSONField(default=list, blank=True)
    # 0-10 as Plex stores it (10 = five stars); null when unrated.
    user_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    play_count = models.PositiveIntegerField(default=0)
    last_played_at = models.DateTimeField(null=True, blank=True)
    is_live = models.BooleanField(default=False)
    added_at = models.DateTimeField(null=True, blank=True)
    # The server's last change to the item, used by incremental syncs.
    server_updated_at = models.DateTimeField(null=True, blank=True)
    # The MusicBrainz recording id (lowercase uuid) when the server knows it, else "":
    # imported entries carrying one match on it before any text matching.
    recording_mbid = models.CharField("MusicBrainz recording id", max_length=36, blank=True, default="")

    class Meta:
        abstract = True


class Track(TrackFields):
    # When this row was last written by a sync.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "rating_key"], name="track_source_key_unique"),
        ]
        indexes = [
            # The playlist builder reads a source's ids in id order: this index
            # holds them so, with no sort.
            models.Index(fields=["source"]),
            models.Index(fields=["artist"]),
            models.Index(fields=["year"]),
            models.Index(fields=["is_live"]),
            models.Index(fields=["user_rating"]),
            models.Index(fields=["source", "album_key"]),
        ]
        ordering = ["artist", "album", "disc_number", "track_number", "title"]

    def __str__(self):
        return f"{self.artist} - {self.title}"

    @property
    def stars(self):
        """The rating as Plex shows it: ★★★½ for 7."""
        if self.user_rating is None:
            return ""
        return "★" * (self.user_rating // 2) + ("½" if self.user_rating % 2 else "")

    @property
    def duration_display(self):
        if self.duration_ms is None:
            return ""
        minutes, seconds = divmod(round(self.duration_ms / 1000), 60)
        return f"{minutes}:{seconds:02d}"


class StagedTrack(TrackFields):
    """Pages of a sync in progress. Merged into Track in one short transaction
    at the end, so a sync that dies half-way leaves the cache as it was."""

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "rating_key"], name="staged_source_key_unique"),
        ]

    def __str__(self):
        return f"{self.artist} - {self.title} (staged)"


def cache_version(source):
    """What changes whenever the cached tracks of `source` change, for caches
    built from them: every sync moves its SyncState row, and rows written any
    other way move the highest id. Both are one-row reads, where counting or
    scanning 100k tracks is not. None when the cache was never synced."""
    state = SyncState.objects.filter(source=source).values_list("run_id", "last_sync_at").first()
    if state is None or state[1] is None:
        return None
    return (*state, Track.objects.filter(source=source).aggregate(top=models.Max("id"))["top"])


class SyncBusy(Exception):
    """A sync of this server is already running."""


class LostClaim(Exception):
    """Another process took over this sync (ours was judged dead)."""


class SyncState(models.Model):
    """One row per media server: what the cache holds and the sync under way.

    Its methods are the only code that writes it: claim a sync, report its
    progress, finish or fail it (each of which records a SyncRun)."""

    source = models.CharField(max_length=16, choices=SOURCES, unique=True)
    server_id = models.CharField("server identifier", max_length=128, blank=True)
    server_name = models.CharField(max_length=200, blank=True)
    library_title = models.CharField(max_length=200, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    track_count = models.PositiveIntegerField(default=0)
    sync_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_added = models.PositiveIntegerField(default=0)
    last_updated = models.PositiveIntegerField(default=0)
    last_removed = models.PositiveIntegerField(default=0)
    last_request_count = models.PositiveIntegerField(default=0)
    last_mode = models.CharField(max_length=16, choices=Mode.choices, blank=True)
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    # The server's clock when the last good sync began reading: the next
    # incremental sync asks for what changed after it.
    change_mark = models.DateTimeField(null=True, blank=True)

    # The sync under way (or the last one, when is_syncing is false).
    run_id = models.PositiveIntegerField(default=0)
    is_syncing = models.BooleanField(default=False)
    phase = models.CharField(max_length=32, choices=Phase.choices, blank=True)
    current = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_kind = models.CharField(max_length=32, choices=ErrorKind.choices, blank=True)
    error_at = models.DateTimeField(null=True, blank=True)
    # Something the user should know about the last run, e.g. a server change.
    notice = models.CharField(max_length=500, blank=True)
    # Whether the last contact with the server worked.
    server_reachable = models.BooleanField(default=True)

    class Meta:
        verbose_name = "sync state"

    def __str__(self):
        return f"{self.get_source_display()} cache"

    @classmethod
    def for_source(cls, source="plex"):
        state, _ = cls.objects.get_or_create(source=source)
        return state

    # Transitions: the only writers of a SyncState row.

    @classmethod
    def claim(cls, source, phase=Phase.STARTING):
        """Mark a sync of `source` as running and return its state, holding the new run_id.

        Atomic across processes: of two callers, one gets the claim and the other
        SyncBusy. A running sync whose heartbeat stopped (its worker died) no
        longer holds the claim, and goes into the history as failed."""
        cls.objects.get_or_create(source=source)
        now = timezone.now()
        stale = now - timedelta(seconds=settings.SYNC_HEARTBEAT_TIMEOUT)
        with transaction.atomic():
            state = cls.objects.get(source=source)
            if state.is_syncing and not state.heartbeat_is_stale(now):
                raise SyncBusy(f"A {source} sync is already running.")
            if state.is_syncing:
                state._record(error_kind=ErrorKind.WORKER, error=state.failure())
            fields = {
                "is_syncing": True,
                "run_id": state.run_id + 1,
                "phase": phase,
                "current": 0,
                "total": 0,
                "started_at": now,
                "heartbeat_at": now,
            }
            claimed = (
                cls.objects.filter(pk=state.pk, run_id=state.run_id)
                .filter(Q(is_syncing=False) | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale))
                .update(**fields)
            )
            if not claimed:
                raise SyncBusy(f"A {source} sync is already running.")
        state._set(fields)
        return state

    @classmethod
    def claimed(cls, source, run_id):
        """The state of `source` if `run_id` is its current claim, else None."""
        return cls.objects.filter(source=source, run_id=run_id, is_syncing=True).first()

    def holds_claim(self, lock=False):
        """Whether this run is still the current claim (not taken over since). With
        lock (inside a transaction), no claim can be taken until it commits."""
        states = SyncState.objects.filter(pk=self.pk, run_id=self.run_id, is_syncing=True)
        if lock:
            # SQLite's IMMEDIATE transaction already holds the write lock; PostgreSQL
            # locks the row, so a claim() racing with us waits for our commit.
            states = states.select_for_update()
        return states.values_list("pk", flat=True).first() is not None

    def release(self):
        """Give back a claim no sync will run for (the task could not be queued)."""
        self._write({"is_syncing": False, "phase": ""})

    def progress(self, **fields):
        """Write the progress of the claimed sync. Raises LostClaim if another
        process has claimed the sync since."""
        self._write({**fields, "heartbeat_at": timezone.now()})

    def beat(self):
        """Prove the claimed sync's worker alive (the heartbeat thread)."""
        SyncState.objects.filter(pk=self.pk, run_id=self.run_id, is_syncing=True).update(
            heartbeat_at=timezone.now()
        )

    def mark_reachable(self, reachable):
        """Note whether the server answered the last contact."""
        SyncState.objects.filter(pk=self.pk).update(server_reachable=reachable)
        self.server_reachable = reachable

    def finish(self, info, *, mode, why, counts, requests, duration_ms, change_mark, notice=""):
        """End the claimed sync as done: the cache now holds the server's library.
        `counts` is (added, updated, removed); `info` the server's ServerInfo."""
        now = timezone.now()
        added, updated, removed = counts
        with transaction.atomic():
            self.progress(
                is_syncing=False,
                phase=Phase.DONE,
                server_id=info.server_id,
                server_name=info.server_name,
                library_title=info.library_title,
                last_sync_at=now,
                track_count=Track.objects.filter(source=self.source).count(),
                sync_duration_ms=duration_ms,
                last_added=added,
                last_updated=updated,
                last_removed=removed,
                last_request_count=requests,
                last_mode=mode,
                change_mark=change_mark,
                last_full_sync_at=now if mode == Mode.FULL else self.last_full_sync_at,
                error="",
                error_kind="",
                notice=notice,
                server_reachable=True,
            )
            self._record(
                mode=mode,
                why=why,
                added=added,
                updated=updated,
                removed=removed,
                requests=requests,
                duration_ms=duration_ms,
            )
        SyncRun.prune(self.source)

    def fail(self, kind, message, *, reachable=True, mode="", why="", requests=0, duration_ms=None):
        """End the claimed sync as failed; the cache is as it was. A run taken
        over by another process records nothing."""
        fields = {
            "is_syncing": False,
            "phase": Phase.FAILED,
            "error": message,
            "error_kind": kind,
            "error_at": timezone.now(),
        }
        if not reachable:
            fields["server_reachable"] = False
        reached = self.phase
        try:
            with transaction.atomic():
                self._write(fields)
                self._record(
                    phase=reached,
                    mode=mode,
                    why=why,
                    requests=requests,
                    duration_ms=duration_ms,
                    error_kind=kind,
                    error=message,
                )
        except LostClaim:
            return
        SyncRun.prune(self.source)

    def _write(self, fields):
        if not SyncState.objects.filter(pk=self.pk, run_id=self.run_id).update(**fields):
            raise LostClaim
        self._set(fields)

    def _set(self, fields):
        for name, value in fields.items():
            setattr(self, name, value)

    def _record(self, **fields):
        """Add this run to the history (its phase reached: the state's, unless given)."""
        SyncRun.objects.create(
            source=self.source,
            run_id=self.run_id,
            started_at=self.started_at,
            track_count=self.track_count,
            **{"phase": self.phase, **fields},
        )

    # Reading the state.

    def heartbeat_is_stale(self, now=None):
        now = now or timezone.now()
        limit = timedelta(seconds=settings.SYNC_HEARTBEAT_TIMEOUT)
        return self.heartbeat_at is None or now - self.heartbeat_at > limit

    @property
    def is_running(self):
        """Syncing, with a worker still alive to prove it."""
        return self.is_syncing and not self.heartbeat_is_stale()

    def failure(self):
        """The message for a failed sync, or "" when there is none. A sync whose
        worker stopped beating is a failure too, however it is recorded."""
        if self.is_syncing and self.heartbeat_is_stale():
            if self.phase == Phase.QUEUED:
                return (
                    "No sync worker picked up the request. Is the worker (python manage.py qcluster) running?"
                )
            return "The sync worker stopped responding (killed or crashed). The cache is unchanged."
        return "" if self.is_syncing else self.error

    def failure_kind(self):
        """The ErrorKind of failure(), or "" when there is none."""
        if not self.failure():
            return ""
        return ErrorKind.WORKER if self.is_syncing else self.error_kind

    def failure_label(self):
        """failure_kind() in words."""
        kind = self.failure_kind()
        return ErrorKind(kind).label if kind in ErrorKind.values else ""

    @property
    def cannot_reach(self):
        """Whether the failure is the server not answering (as opposed to answering badly)."""
        return self.failure_kind() in (ErrorKind.UNREACHABLE, ErrorKind.TIMEOUT)

    def server_changed_to(self, server_id):
        """Whether `server_id` is another server than the one this cache holds."""
        return bool(self.server_id) and self.server_id != server_id

    def sync_due(self, server_id=None):
        """Why the cache should be synced now (a Due), or None when it is fresh.
        `server_id` is the server's identity now, when the caller has asked it."""
        if server_id is not None and self.server_changed_to(server_id):
            return Due.SERVER_CHANGED
        if not self.track_count or self.last_sync_at is None:
            return Due.EMPTY
        if self.is_stale:
            return Due.STALE
        return None

    @property
    def phase_label(self):
        return Phase(self.phase).label if self.phase in Phase.values else ""

    def as_status(self):
        """The status API's shape (seed 000), plus a few keys the UI uses."""
        running = self.is_running
        failure = self.failure()
        synced_at = self.last_sync_at
        return {
            "source": self.source,
            "track_count": self.track_count,
            "synced_at": _utc(synced_at),
            "is_syncing": running,
            "sync_progress": {"current": self.current, "total": self.total} if running else None,
            "phase": self.phase if running else "",
            "phase_label": self.phase_label if running else "",
            "error": failure or None,
            "error_kind": self.failure_kind(),
            "error_label": self.failure_label(),
            "server_reachable": self.server_reachable,
            "server_name": self.server_name,
            "library": self.library_title,
            "notice": self.notice or None,
            "last_sync": {
                "added": self.last_added,
                "updated": self.last_updated,
                "removed": self.last_removed,
                "duration_ms": self.sync_duration_ms,
                "requests": self.last_request_count,
                "mode": self.last_mode,
            }
            if synced_at
            else None,
        }

    @property
    def display_state(self):
        """Which of the footer's states this cache is in (a Display)."""
        if self.is_running:
            return Display.SYNCING
        if self.track_count and not self.server_reachable:
            return Display.OFFLINE
        if self.failure():
            return Display.ERROR
        return Display.NORMAL if self.last_sync_at else Display.NEVER

    @property
    def is_stale(self):
        if self.last_sync_at is None:
            return True
        return timezone.now() - self.last_sync_at > timedelta(hours=settings.SYNC_STALE_HOURS)


def _utc(moment):
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


class SyncRun(models.Model):
    """One sync as it ended, done or failed: the sync history. Written by
    SyncState.finish and .fail; pruned to the last KEEP_RUNS per server
    within KEEP_DAYS."""

    KEEP_DAYS = 90
    KEEP_RUNS = 200

    source = models.CharField(max_length=16, choices=SOURCES)
    run_id = models.PositiveIntegerField()
    mode = models.CharField(max_length=16, choices=Mode.choices, blank=True)
    why = models.CharField(max_length=32, choices=Why.choices, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(default=timezone.now)
    # The last phase the run reached: "done", or where it failed.
    phase = models.CharField("phase reached", max_length=32, choices=Phase.choices, blank=True)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    track_count = models.PositiveIntegerField("tracks", default=0)
    requests = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error_kind = models.CharField(max_length=32, choices=ErrorKind.choices, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "sync run"
        ordering = ["-finished_at", "-id"]
        indexes = [models.Index(fields=["source", "finished_at"])]

    def __str__(self):
        return f"{self.get_source_display()} sync #{self.run_id}"

    @property
    def succeeded(self):
        return not self.error_kind

    @property
    def result(self):
        """The outcome in words."""
        if self.succeeded:
            return "Done"
        return f"{self.get_error_kind_display()} ({self.get_phase_display().lower()}): {self.error}"

    @property
    def duration_display(self):
        return "" if self.duration_ms is None else f"{self.duration_ms / 1000:.1f} s"

    @classmethod
    def prune(cls, source, now=None):
        """Forget runs of `source` older than KEEP_DAYS or past the last KEEP_RUNS."""
        cutoff = (now or timezone.now()) - timedelta(days=cls.KEEP_DAYS)
        runs = cls.objects.filter(source=source)
        kept = list(runs.values_list("id", flat=True)[: cls.KEEP_RUNS])
        runs.filter(Q(finished_at__lt=cutoff) | ~Q(id__in=kept)).delete()
