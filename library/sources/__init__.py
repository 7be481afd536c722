"""Media server adapters. Only modules in this package know a wire format.

Each adapter implements library.sources.base.MediaSource: it turns a server's
listings into pages of TrackRow (the cache's columns) and writes playlists, and
reports every failure as a SourceError with a kind the UI can explain. The HTTP
mechanics both share are library.sources.http.ServerSession's.
"""

from library.sources.base import (
    MediaSource,
    PlaylistRef,
    SavedPlaylist,
    ServerInfo,
    SourceError,
    TrackRow,
)
from library.sources.jellyfin import JellyfinSource
from library.sources.plex import PlexSource

__all__ = [
    "NOT_CONFIGURED",
    "SOURCES",
    "MediaSource",
    "PlaylistRef",
    "SavedPlaylist",
    "ServerInfo",
    "SourceError",
    "TrackRow",
    "chosen_source",
    "configured_sources",
    "get_source",
    "label",
    "server_choices",
]

# Every media server MediaSage can cache, in display order.
SOURCES: dict[str, type[MediaSource]] = {source.name: source for source in (PlexSource, JellyfinSource)}

NOT_CONFIGURED = (
    "No media server is configured: set PLEX_URL and PLEX_TOKEN, or JELLYFIN_URL and JELLYFIN_API_KEY."
)


def configured_sources():
    """Names of the media servers the settings configure, in display order."""
    return [name for name, source in SOURCES.items() if source.configured()]


def label(name):
    """A server's name for people: "Plex"."""
    return SOURCES[name].label


def server_choices():
    """(name, label) of the configured servers, in display order: for the pages that pick one."""
    return [(name, label(name)) for name in configured_sources()]


def chosen_source(value):
    """`value` when it names a configured server, else the first configured one ("plex" when none)."""
    sources = configured_sources()
    return value if value in sources else (sources[0] if sources else "plex")


def get_source(name):
    """The adapter for the configured server `name`."""
    try:
        source = SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown media server {name!r}") from None
    return source.from_settings()
