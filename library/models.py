from datetime import UTC, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

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


class SyncState(models.Model):
    """One row per media server: what the cache holds and the sync under way."""

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
    last_mode = models.CharField(max_length=16, blank=True)  # full or incremental
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    # The server's clock when the last good sync began reading: the next
    # incremental sync asks for what changed after it.
    change_mark = models.DateTimeField(null=True, blank=True)

    # The sync under way (or the last one, when is_syncing is false).
    run_id = models.PositiveIntegerField(default=0)
    is_syncing = models.BooleanField(default=False)
    phase = models.CharField(max_length=32, blank=True)
    current = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_kind = models.CharField(max_length=32, blank=True)
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
            if self.phase == "queued":
                return (
                    "No sync worker picked up the request. Is the worker (python manage.py qcluster) running?"
                )
            return "The sync worker stopped responding (killed or crashed). The cache is unchanged."
        return "" if self.is_syncing else self.error

    def server_changed_to(self, server_id):
        """Whether `server_id` is another server than the one this cache holds."""
        return bool(self.server_id) and self.server_id != server_id

    def as_status(self):
        """The status API's shape (seed 000), plus a few keys the UI uses."""
        running = self.is_running
        failure = self.failure()
        synced_at = self.last_sync_at
        return {
            "source": self.source,
            "track_count": self.track_count,
            "synced_at": synced_at.astimezone(UTC).isoformat().replace("+00:00", "Z") if synced_at else None,
            "is_syncing": running,
            "sync_progress": {"current": self.current, "total": self.total} if running else None,
            "phase": self.phase if running else "",
            "error": failure or None,
            "error_kind": ("worker" if self.is_syncing else self.error_kind) if failure else "",
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
        """Which of the footer's states this cache is in."""
        if self.is_running:
            return "syncing"
        if self.track_count and not self.server_reachable:
            return "offline"
        if self.failure():
            return "error"
        return "normal" if self.last_sync_at else "never"

    @property
    def is_stale(self):
        if self.last_sync_at is None:
            return True
        return timezone.now() - self.last_sync_at > timedelta(hours=settings.SYNC_STALE_HOURS)
