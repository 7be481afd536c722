"""Writing playlists to a media server, and the cache guard in front of it.

Every track a playlist names comes from the cache, so saving costs a handful of
requests however large the library is; nothing here searches the server per track.
"""

from dataclasses import dataclass, replace

from django.db import models
from django.utils.timesince import timesince

from library.models import SyncState, Track
from library.sources import get_source

MODES = {
    "sync": "Create, or replace the playlist with this name",
    "create": "Always create a new playlist",
    "replace": "Replace an existing playlist's tracks",
    "append": "Add to an existing playlist (no duplicates)",
}
# The most tracks one save takes: above the builder's maximum (5,000) and the import's
# entry limit. The keys are checked in one SQLite query, whose parameters this bounds.
MAX_TRACKS = 10_000


class SaveError(ValueError):
    """The request cannot be saved as asked (not a server failure)."""


class CacheProblem(models.TextChoices):
    BUILDING = "building"
    EMPTY = "empty"  # nothing can match: matching is refused
    STALE = "stale"


@dataclass(frozen=True)
class CacheWarning:
    kind: CacheProblem
    message: str


def cache_warning(source):
    """Why matching against this server's cache may be wrong (a CacheWarning), or None.

    Playlist sync never falls back to searching the server per track (seed 004's
    3,808 requests per playlist), so an empty or stale cache must be said plainly."""
    state = SyncState.for_source(source)
    label = state.get_source_display()
    if state.is_running:
        return CacheWarning(
            CacheProblem.BUILDING,
            f"The {label} cache is being built right now; results may be incomplete until it finishes.",
        )
    if state.last_sync_at is None or state.track_count == 0:
        return CacheWarning(
            CacheProblem.EMPTY, f"The {label} cache is empty: build it first (it takes a minute), then match."
        )
    if state.is_stale:
        return CacheWarning(
            CacheProblem.STALE,
            f"The {label} cache was last synced {timesince(state.last_sync_at)} ago: tracks added since "
            "will not match. Sync it first for the best result.",
        )
    return None


def save(source, title, keys, mode="sync", playlist_id=None):
    """Save the cached tracks `keys` (in order) to the server. Raises SaveError
    for a request that makes no sense and SourceError when the server fails."""
    title = (title or "").strip()
    if not title:
        raise SaveError("Give the playlist a name.")
    if mode not in MODES:
        raise SaveError(f"Unknown save mode {mode!r}.")
    asked = list(dict.fromkeys(keys))
    if len(asked) > MAX_TRACKS:
        raise SaveError(
            f"That is {len(asked):,} tracks; a playlist saved from MediaSage holds at most {MAX_TRACKS:,}."
        )
    # Only the cache's keys for this server go out: a sync may have removed a track
    # since the page was made, and a crafted request may name anything.
    known = set(
        Track.objects.filter(source=source, rating_key__in=asked).values_list("rating_key", flat=True)
    )
    keys = [k for k in asked if k in known]
    if not keys:
        raise SaveError("There are no tracks to save.")
    adapter = get_source(source)
    if mode == "sync":
        playlist_id = _by_title(adapter.list_playlists(), title)
        mode = "replace" if playlist_id else "create"
    elif mode in ("replace", "append"):
        playlist_id = _resolve(adapter.list_playlists(), playlist_id)
    saved = adapter.save_playlist(title, keys, mode=mode, playlist_id=playlist_id)
    # The adapter was made for this save: its count includes finding the playlist.
    return replace(saved, left_out=len(asked) - len(keys), requests=adapter.request_count)


def _by_title(playlists, title):
    for playlist in playlists:
        if playlist.title.strip().casefold() == title.strip().casefold():
            return playlist.id
    return None


def _resolve(playlists, wanted):
    """The id of the playlist named by id or by title among the save targets. Anything
    else goes to the adapter as an id, which says why it cannot be saved to: no such
    playlist, or a smart or read-only one (never offered as a target)."""
    if not wanted:
        raise SaveError("Choose the playlist to update.")
    if any(playlist.id == str(wanted) for playlist in playlists):
        return str(wanted)
    return _by_title(playlists, str(wanted)) or str(wanted)
