"""What the cache should hold for each fake server's library, from the fake's own data,
and the per-server details the contract suite (test_sync_contract.py) needs."""

from dataclasses import dataclass
from datetime import UTC, datetime

from library.fakes.jellyfin import file_tags, item_id
from library.fakes.plexdata import recording_mbid
from library.sources.jellyfin import JellyfinSource
from library.sources.plex import PlexSource


def _dt(epoch):
    return datetime.fromtimestamp(epoch, UTC)


def plex_rows(lib):
    """Some columns of every cached Plex track, by rating key."""
    rows = {}
    for key, t in lib.tracks.items():
        album = lib.albums[t.album_key]
        album_artist = lib.artists[album.artist_key]
        rows[str(key)] = {
            "title": t.title,
            "artist": t.track_artist or album_artist.title,
            "album_artist": album_artist.title,
            "album": album.title,
            "year": album.year,
            # The track's own genres, else its album's, else its album artist's.
            "genres": list(t.genres or album.genres or album_artist.genres),
            "user_rating": None if t.user_rating is None else round(t.user_rating),
            "duration_ms": t.duration_ms,
            "is_live": t.truth_live,
            "recording_mbid": recording_mbid(t),
        }
    return rows


def jellyfin_track(lib, t):
    """The adapter's TrackRow for a track (the admin's plays and favourites)."""
    album, tags = lib.albums[t.album_key], file_tags(lib, t)
    performers = tags.artists or [tags.album_artist] * bool(tags.album_artist)
    return {
        "rating_key": item_id(t.rating_key),
        "title": t.title,
        "artist": ", ".join(performers),
        "artists": performers,
        "album_artist": tags.album_artist or (tags.artists or [""])[0],
        "album": tags.album or "",
        "album_key": tags.album_id or "",
        "track_number": tags.index or None,
        "disc_number": t.disc,
        "duration_ms": t.duration_ms,
        "year": album.year,
        "genres": t.genres or album.genres,
        "user_rating": 10 if (t.user_rating or 0) >= 8 else None,
        "play_count": t.view_count,
        "last_played_at": _dt(t.last_viewed_at) if t.view_count else None,
        "added_at": _dt(t.added_at),
        "server_updated_at": None,
        "recording_mbid": recording_mbid(t),
        "server_says_live": False,
    }


def jellyfin_rows(lib):
    """Every column of every cached Jellyfin track, by item id: the adapter's rows, with
    is_live decided by the engine."""
    rows = {}
    for key, t in lib.tracks.items():
        row = jellyfin_track(lib, t)
        del row["server_says_live"]
        rows[item_id(key)] = row | {"is_live": t.truth_live}
    return rows


@dataclass
class Server:
    """One fake server as the contract suite drives it."""

    name: str  # the cache's source
    label: str
    fake: object  # FakePlexServer or FakeJellyfinServer
    adapter: type  # its adapter class; adapter.from_settings() talks to the fake
    expected: object  # expected(lib) -> {rating key: {column: value}}
    key: object  # key(library key) -> the server's id for the track

    def contents(self, playlist_id):
        """The server's ids of a playlist's tracks, in order."""
        items = self.fake.playlists[self._playlist_key(playlist_id)].items
        return [self.key(k) for k in items] if self.name == "plex" else list(items)

    def summary(self, playlist_id):
        """The playlist's description as the server keeps it (Plex summary, Jellyfin Overview)."""
        playlist = self.fake.playlists[self._playlist_key(playlist_id)]
        return playlist.summary if self.name == "plex" else playlist.overview

    def _playlist_key(self, playlist_id):
        return int(playlist_id) if self.name == "plex" else playlist_id

    @property
    def secret(self):
        return self.fake.token if self.name == "plex" else self.fake.api_key

    def keys(self, n):
        return [self.key(k) for k in list(self.fake.library.tracks)[:n]]

    def become_another_server(self):
        if self.name == "plex":
            self.fake.machine_identifier = "another-server"
        else:
            self.fake.server_id = "e" * 32


PLEX = ("plex", "Plex", PlexSource, plex_rows, str)
JELLYFIN = ("jellyfin", "Jellyfin", JellyfinSource, jellyfin_rows, item_id)
