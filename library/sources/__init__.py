"""Media server adapters. Only modules in this package know a wire format.

An adapter turns a server's listings into pages of plain track dicts whose keys
are the cache's column names (see library.models.TrackFields), and reports
failures as SourceError with a kind the UI can explain.
"""

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

from django.conf import settings


class SourceError(Exception):
    """A media server failure, with a message fit for the user (never the token)."""

    # unreachable, timeout, unauthorized, not_found, bad_response
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message

    @property
    def unreachable(self):
        """The server did not answer at all (as opposed to answering badly)."""
        return self.kind in ("unreachable", "timeout")


NOT_CONFIGURED = (
    "No media server is configured: set PLEX_URL and PLEX_TOKEN, or JELLYFIN_URL and JELLYFIN_API_KEY."
)


@dataclass
class SavedPlaylist:
    id: str
    title: str
    url: str  # where the user can open it
    added: int
    removed: int
    requests: int
    left_out: int = 0  # keys asked for that the cache does not hold (set by playlists.saving)


@dataclass
class ServerInfo:
    server_id: str
    server_name: str
    library_title: str
    # The server's clock (its HTTP Date header) when it answered, if it sent one:
    # change marks are taken by the server's clock, which may differ from ours.
    server_time: datetime | None = None


def server_time(response):
    """The time in a response's Date header, or None."""
    try:
        return parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None


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


def pick_library(libraries, wanted, server, setting):
    """The music library to cache, as (id, title), from the server's [(id, title)]:
    the one titled `wanted` (any case), else the only one, else one titled "Music"."""
    names = ", ".join(repr(title) for _, title in libraries) or "none"
    if wanted:
        for library in libraries:
            if library[1].strip().lower() == wanted.strip().lower():
                return library
        raise SourceError(
            "not_found",
            f"{server} has no music library named {wanted!r} ({setting}). Its music libraries: {names}.",
        )
    if len(libraries) == 1:
        return libraries[0]
    for library in libraries:
        if library[1].lower() == "music":
            return library
    raise SourceError(
        "not_found", f"Set {setting} to pick the music library to cache. {server}'s music libraries: {names}."
    )


def configured_sources():
    """Names of the media servers the settings configure, in display order."""
    return [name for name, url in (("plex", settings.PLEX_URL), ("jellyfin", settings.JELLYFIN_URL)) if url]


def get_source(name):
    if name == "plex":
        from library.sources.plex import PlexSource

        return PlexSource(
            settings.PLEX_URL,
            settings.PLEX_TOKEN,
            library=settings.PLEX_LIBRARY,
            timeout=settings.PLEX_TIMEOUT,
        )
    if name == "jellyfin":
        from library.sources.jellyfin import JellyfinSource

        return JellyfinSource(
            settings.JELLYFIN_URL,
            settings.JELLYFIN_API_KEY,
            user_id=settings.JELLYFIN_USER_ID,
            library=settings.JELLYFIN_LIBRARY,
            timeout=settings.JELLYFIN_TIMEOUT,
        )
    raise ValueError(f"unknown media server {name!r}")
