"""What every media server adapter is and shares: the interface the sync engine and
playlist saving call (MediaSource), the rows it hands over (TrackRow, PlaylistRef,
ServerInfo, SavedPlaylist), its one kind of failure (SourceError), and the helpers
both wire formats need (paging, chunking ids under a URL limit, numbers and dates).

An adapter knows one server's wire format; the HTTP mechanics (deadline, retry,
error kinds, request counting) are its ServerSession's (library.sources.http).
"""

import abc
import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypedDict

from django.conf import settings

from library.vocab import ErrorKind

SAVE_MODES = ("create", "replace", "append")


class SourceError(Exception):
    """A media server failure, with a message fit for the user (never the token).
    `kind` is an ErrorKind."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message

    @property
    def unreachable(self):
        """The server did not answer at all (as opposed to answering badly)."""
        return self.kind in (ErrorKind.UNREACHABLE, ErrorKind.TIMEOUT)


class TrackRow(TypedDict):
    """One track as an adapter hands it to the engine: the cache's columns
    (library.models.TrackFields), but `is_live`, which the engine decides from the
    titles and what the server itself says (`server_says_live`)."""

    rating_key: str
    title: str
    artist: str  # as the server shows the track's artists
    artists: list[str]  # every credited artist, in order
    album_artist: str
    album: str
    album_key: str
    track_number: int | None
    disc_number: int | None
    duration_ms: int | None
    year: int | None
    genres: list[str]
    user_rating: int | None  # 0-10
    play_count: int
    last_played_at: datetime | None
    added_at: datetime | None
    server_updated_at: datetime | None
    recording_mbid: str  # lowercase uuid, or ""
    server_says_live: bool


@dataclass(frozen=True)
class PlaylistRef:
    id: str
    title: str
    item_count: int
    unwritable: str = ""  # why the server lets no app change it ("a smart playlist"), or ""

    @property
    def writable(self):
        return not self.unwritable


@dataclass(frozen=True)
class ServerInfo:
    server_id: str
    server_name: str
    library_title: str
    # The server's clock (its HTTP Date header) when it answered, if it sent one:
    # change marks are taken by the server's clock, which may differ from ours.
    server_time: datetime | None = None


@dataclass(frozen=True)
class SavedPlaylist:
    id: str
    title: str
    url: str  # where the user can open it
    added: int
    removed: int
    requests: int  # what this save cost
    left_out: int = 0  # keys asked for that the cache does not hold (set by playlists.saving)


class MediaSource(abc.ABC):
    """A media server's music library and playlists. Subclasses set `name` (the cache's
    `source`), `label` (for people) and `setting_names` (which setting gives each of
    their constructor's arguments; "url" configures one), build their ServerSession,
    and implement the abstract methods.

    Track listings come as pages (lists) of TrackRow; `page_size` is tracks a request.
    Every failure is a SourceError. `request_count` counts every request sent."""

    name: str
    label: str
    setting_names: dict[str, str]
    # Whether count_added and added_track_keys answer: the sync then finds a few
    # deletions by counting instead of listing every key.
    counts_added = False
    # Whether album_track_counts and present_track_keys answer: the sync then finds
    # deletions by comparing each album's track count with the cache's.
    counts_albums = False
    # Change filters the server ignored in the last changed_track_pages, whose listings
    # were read newest first instead.
    ignored_filters = ()
    # Ids to add or remove travel in the URL; Plex and Kestrel answer 414 past 8 KB.
    max_url_chars = 6000

    def __init__(self, session):
        self._session = session

    @classmethod
    def from_settings(cls):
        """The adapter the settings configure."""
        return cls(**{arg: getattr(settings, name) for arg, name in cls.setting_names.items()})

    @classmethod
    def configured(cls):
        return bool(getattr(settings, cls.setting_names["url"]))

    @property
    def request_count(self):
        return self._session.request_count

    # -- reading the library --------------------------------------------------------

    @abc.abstractmethod
    def connect(self) -> ServerInfo:
        """Identify the server and pick the music library to cache."""

    @abc.abstractmethod
    def count_tracks(self) -> int:
        """How many tracks the library holds now (one cheap request)."""

    def prepare(self, page_size):  # noqa: B027 - most servers need nothing here
        """Read what track listings lack before a full sync (nothing, unless overridden)."""

    @abc.abstractmethod
    def track_pages(self, page_size) -> Iterator[list[TrackRow]]:
        """Every track, neither skipping nor doubling any while the library changes."""

    @abc.abstractmethod
    def track_keys(self, page_size) -> Iterator[list[str]]:
        """Every track's key, cheaply (servers have no feed of deleted items)."""

    def count_added(self, start, end) -> int:
        """How many tracks were added at `start` <= epoch seconds < `end` (None: unbounded),
        by one listing of size 0. Only called when `counts_added`."""
        raise NotImplementedError

    def added_track_keys(self, start, end, page_size) -> Iterator[list[str]]:
        """Keys of the tracks added at `start` <= epoch seconds < `end`, as count_added
        bounds them. Only called when `counts_added`."""
        raise NotImplementedError

    def album_track_counts(self, page_size) -> Iterator[list[tuple[str, int | None]]]:
        """Every album's key and how many tracks it holds (None: not said), a page at a
        time. Only called when `counts_albums`."""
        raise NotImplementedError

    def present_track_keys(self, keys) -> set[str]:
        """Which of these track keys the server still has. Only called when `counts_albums`."""
        raise NotImplementedError

    @abc.abstractmethod
    def changed_track_pages(self, since, page_size) -> Iterator[list[TrackRow]]:
        """Tracks that may have changed after `since` (epoch seconds, by the server's
        clock); a track may come more than once. Raises SourceError(FILTER_IGNORED) for a
        server that ignores a change filter (and cannot stand in for it), or BAD_RESPONSE
        for one that refuses it; names in `ignored_filters` those it stood in for."""

    # -- playlists --------------------------------------------------------------------

    @abc.abstractmethod
    def list_playlists(self) -> list[PlaylistRef]:
        """The audio playlists MediaSage may write to."""

    @abc.abstractmethod
    def playlist_url(self, playlist_id) -> str:
        """Where the user opens the playlist, on the server's own web app."""

    def save_playlist(self, title, keys, mode="create", playlist_id=None):
        """Write `keys` to a playlist: a new one ("create"), an existing one whose
        contents become `keys` ("replace", in place: same playlist id, so clients that
        pinned it keep it), or an existing one gaining the keys it lacks ("append").
        On failure, what this call changed is taken back. Returns a SavedPlaylist."""
        if mode not in SAVE_MODES:
            raise ValueError(f"unknown playlist mode {mode!r}")
        if mode == "create":
            return self.create_playlist(title, keys)
        if mode == "replace":
            return self.update_playlist(playlist_id, keys, title=title)
        start = self.request_count
        entries = self.read_playlist(playlist_id)
        present = [key for _, key in entries]
        have = set(present)
        missing = [key for key in _unique(keys) if key not in have]
        # The playlist as it is (even a track it holds twice) with the missing keys after it.
        return self._update(playlist_id, entries, present + missing, title, start)

    def create_playlist(self, title, keys, summary="") -> SavedPlaylist:
        """A new playlist of `keys` (in order, once each), with `summary` as its
        description. Leaves nothing behind on failure."""
        start = self.request_count
        keys = _unique(keys)
        playlist_id = self._create(title, keys, summary)
        return self._saved(playlist_id, title, len(keys), 0, start)

    def update_playlist(self, playlist_id, keys, *, title=None, entries=None) -> SavedPlaylist:
        """Make a playlist's contents exactly `keys` (once each) in that order, in place
        (same id): the tracks it should lose are removed, the ones it lacks added, and
        only those out of place moved (on a server that lets apps move entries; else
        removed and added again), so a small change costs a few requests. `entries`: what
        read_playlist just answered, to spare reading it again. On failure the playlist
        is put back as it was (the error says so if even that fails). `title` only
        labels the result. `added` and `removed` count tracks, not moves."""
        start = self.request_count
        if entries is None:
            entries = self.read_playlist(playlist_id)
        return self._update(playlist_id, entries, _unique(keys), title, start)

    def _update(self, playlist_id, entries, keys, title, start):
        old = [key for _, key in entries]
        if old == keys:
            return self._saved(playlist_id, title, 0, 0, start)
        try:
            self._rewrite(playlist_id, entries, keys)
        except SourceError as exc:
            raise self._put_back(playlist_id, old, exc) from exc
        wanted, had = set(keys), set(old)
        added = sum(1 for key in keys if key not in had)
        removed = sum(1 for key in old if key not in wanted)
        return self._saved(playlist_id, title, added, removed, start)

    def _put_back(self, playlist_id, old, exc):
        """The error to raise for a failed rewrite, once the playlist holds `old` again
        (or saying that it could not be put back)."""
        try:
            self._rewrite(playlist_id, self.read_playlist(playlist_id), old)
        except Exception as undo:  # whatever broke, the first error is still the one to report
            reason = undo.message if isinstance(undo, SourceError) else type(undo).__name__
            undone = "Putting it back as it was failed too, so it may be half changed"
            return SourceError(exc.kind, f"{exc.message} {undone}: {reason}")
        return exc

    def _saved(self, playlist_id, title, added, removed, start):
        return SavedPlaylist(
            id=str(playlist_id),
            title=title or "",
            url=self.playlist_url(playlist_id),
            added=added,
            removed=removed,
            requests=self.request_count - start,
        )

    @abc.abstractmethod
    def read_playlist(self, playlist_id) -> list[tuple[str, str]]:
        """[(entry id, track key)] of a playlist MediaSage may write to, in order. Raises
        SourceError(NOT_FOUND) for no such playlist, READ_ONLY for one apps may not change."""

    @abc.abstractmethod
    def set_playlist_summary(self, playlist_id, summary):
        """Set the playlist's description (Plex's summary, Jellyfin's overview)."""

    @abc.abstractmethod
    def _create(self, title, keys, summary):
        """Make a playlist of `keys` described by `summary`; returns its id. Leaves
        nothing behind on failure."""

    @abc.abstractmethod
    def _rewrite(self, playlist_id, entries, keys):
        """Turn a playlist holding `entries` into one holding `keys` in order (a key
        given twice is held twice where the server allows it). May leave it half done
        on failure: the caller puts it back."""

    def _chunks(self, keys):
        """Runs of keys whose comma-separated, URL-encoded list stays under max_url_chars."""
        chunk, size = [], 0
        for key in keys:
            cost = len(key) + 3  # the key and its encoded comma
            if chunk and size + cost > self.max_url_chars:
                yield chunk
                chunk, size = [], 0
            chunk.append(key)
            size += cost
        if chunk:
            yield chunk


def _unique(keys):
    """Keys as text, in order, each once."""
    return list(dict.fromkeys(str(key) for key in keys))


@contextlib.contextmanager
def undo_on_failure(undo):
    """Run `undo()` when the block raises a SourceError, then re-raise it: the server is
    failing already, so the original error is the one to report, whatever undo does."""
    try:
        yield
    except SourceError:
        with contextlib.suppress(Exception):
            undo()
        raise


# -- paging -----------------------------------------------------------------------------


def stable_pages(fetch, key, page_size):
    """Yield a listing's items a page at a time, neither skipping nor doubling items when
    the library changes meanwhile. `fetch(start, size)` returns (items, total or None);
    the listing must be in an immutable order (by id), so new items come last.

    Deleting items before the current offset shifts later items down, which plain offset
    paging would skip. So each page is read with one item of overlap: when that item is
    not one already read, items went away, and the page before is read again (an item
    read twice is one item to the caller's staging table, which ignores duplicates)."""
    start, seen = 0, set()  # seen: keys of the last page yielded
    while True:
        back = 1 if start else 0
        items, total = fetch(start - back, page_size + back)
        if back and (not items or key(items[0]) not in seen):
            start = max(0, start - page_size)
            continue
        page = items[back:]
        if page:
            yield page
        start += len(page)
        seen = {key(item) for item in items}
        # Without a total, a short page is the last one (as plexapi assumes).
        if not page or (start >= total if total is not None else len(items) < page_size + back):
            return


def read_all(fetch: Callable, page_size=1000):
    """Every item of a listing nobody edits meanwhile (a playlist being saved), by
    offset: `fetch(start, size)` returns (items, total or None)."""
    items = []
    while True:
        page, total = fetch(len(items), page_size)
        items += page
        if not page or len(items) >= (total or 0):
            return items


# -- choosing the library ---------------------------------------------------------------


def pick_library(libraries, wanted, server, setting):
    """The music library to cache, as (id, title), from the server's [(id, title)]:
    the one titled `wanted` (any case), else the only one, else one titled "Music"."""
    names = ", ".join(repr(title) for _, title in libraries) or "none"
    if wanted:
        for library in libraries:
            if library[1].strip().lower() == wanted.strip().lower():
                return library
        raise SourceError(
            ErrorKind.NOT_FOUND,
            f"{server} has no music library named {wanted!r} ({setting}). Its music libraries: {names}.",
        )
    if len(libraries) == 1:
        return libraries[0]
    for library in libraries:
        if library[1].lower() == "music":
            return library
    raise SourceError(
        ErrorKind.NOT_FOUND,
        f"Set {setting} to pick the music library to cache. {server}'s music libraries: {names}.",
    )


# -- numbers and dates ------------------------------------------------------------------


def text_number(value, cast=int):
    """A number written as text (XML attributes), or None."""
    try:
        return cast(value)
    except (TypeError, ValueError):
        return None


def json_count(value):
    """A JSON whole number of at least 0, or None (true is an int to Python, not a count)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def plausible_year(year):
    # Taggers write 0 or 1 for "unknown"; those are no year.
    return year if year and 1000 <= year <= 2999 else None


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def recording_id(value):
    """A MusicBrainz id as the cache keeps it (a lowercase uuid), or "" for none or nonsense."""
    value = value.strip().lower() if isinstance(value, str) else ""
    return value if _UUID.fullmatch(value) else ""


def from_epoch(seconds):
    """An aware datetime from epoch seconds; None for none, 0 or nonsense."""
    if not seconds or seconds < 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def from_iso(value):
    """An aware datetime (UTC unless it says) from ISO 8601 text; None for none or nonsense,
    and for dates before 1900 (servers write DateTime.MinValue for "unknown")."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed if parsed.year >= 1900 else None


def server_time(response):
    """The time in a response's Date header, or None."""
    try:
        return parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None
