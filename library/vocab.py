"""The words of a sync, defined once: what the footer, the modal, the history page,
the status API and `manage.py sync` say about a sync all come from here.

The values are what the database and the status API hold; the labels are what
people read.
"""

from django.db import models


class Phase(models.TextChoices):
    """Where a sync is. A run goes queued (web) or starting (in-process),
    connecting, then albums and tracks (full) or changes and deletions (incremental),
    saving, and ends done or failed."""

    QUEUED = "queued", "Waiting for the sync worker"
    STARTING = "starting", "Starting"
    CONNECTING = "connecting", "Connecting"
    ALBUMS = "albums", "Reading albums and artists"
    CHANGES = "changes", "Reading what changed"
    DELETIONS = "deletions", "Checking for deleted tracks"
    TRACKS = "tracks", "Reading tracks"
    SAVING = "saving", "Saving to the cache"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ErrorKind(models.TextChoices):
    """Why a sync failed. The first ones are the adapters' SourceError kinds."""

    UNREACHABLE = "unreachable", "Server unreachable"
    TIMEOUT = "timeout", "Server did not answer in time"
    UNAUTHORIZED = "unauthorized", "Token or key rejected"
    NOT_FOUND = "not_found", "Library not found"
    BAD_RESPONSE = "bad_response", "Server answered badly"
    READ_ONLY = "read_only", "Server refused the change"
    FILTER_IGNORED = "filter_ignored", "Server ignored a change filter"
    DATABASE = "database", "Cache database error"
    INTERNAL = "internal", "Internal error"
    WORKER = "worker", "Sync worker stopped"


class Mode(models.TextChoices):
    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental"


class Why(models.TextChoices):
    """Why a sync ran in its mode (read after "full sync:" or "incremental sync:").

    With the mode, it names the path taken: incremental "changes" found any deletions by
    counting (ranges of added dates, or albums' tracks), "keys_listed" by listing every
    key; incremental "filter_ignored" read the changes newest first (sorted, unfiltered)
    down to the last sync, full "filter_ignored" met a server ignoring the sort too."""

    CHANGES = "changes", "only what changed"
    KEYS_LISTED = "keys_listed", "only what changed, deletions by listing every key"
    FIRST = "first", "first sync"
    FORCED = "forced", "asked for"
    PERIODIC = "periodic", "periodic (SYNC_FULL_EVERY_DAYS)"
    SERVER_CHANGED = "server_changed", "server changed"
    UNEXPLAINED = "unexplained", "changes did not account for every track"
    FILTER_REFUSED = "filter_refused", "server refused a change filter"
    FILTER_IGNORED = "filter_ignored", "server ignored a change filter"


class Due(models.TextChoices):
    """Why a sync is due (SyncState.sync_due)."""

    EMPTY = "empty", "the cache is empty"
    STALE = "stale", "the cache is older than SYNC_STALE_HOURS"
    SERVER_CHANGED = "server_changed", "the server changed"


class Display(models.TextChoices):
    """Which of the footer's states a cache is in."""

    SYNCING = "syncing", "Syncing..."
    NEVER = "never", "Not synced"
    OFFLINE = "offline", "offline: showing cached library"
    ERROR = "error", "Sync failed"
    NORMAL = "normal", "Synced"
