"""A fake ListenBrainz API, built to its published format, for the tests and the demo.

Routes, as api.listenbrainz.org answers them:

- `GET /1/playlist/{mbid}`: `{"playlist": JSPF}`. Each track's `identifier` is its
  MusicBrainz recording URL, as a list (what the API sends now) or, with
  `identifier_as_list = False`, a plain string (older answers and the JSPF spec);
  tracks carry the `https://musicbrainz.org/doc/jspf#track` extension (`added_by`,
  `added_at`, `artist_identifiers`, `additional_metadata`) and the playlist the
  `https://musicbrainz.org/doc/jspf#playlist` one (`created_for`, `public`,
  `additional_metadata.algorithm_metadata.source_patch`).
- `GET /1/user/{user}/playlists/createdfor?count=&offset=`: the "created for you"
  playlists, newest first, without their tracks (`"track": []`).
- Errors as `{"code": 404, "error": "Cannot find playlist: …"}` with that status.

    with FakeListenBrainzServer() as lb:
        lb.add_playlist("Weekly Exploration for alice", entries, created_for="alice",
                        source_patch="weekly-exploration")

Standard library only (and playlists.importers.Entry for the tracks); no Django.
"""

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .web import FakeWebServer, json_answer

_JSPF_PLAYLIST = "https://musicbrainz.org/doc/jspf#playlist"
_JSPF_TRACK = "https://musicbrainz.org/doc/jspf#track"
_PLAYLIST = re.compile(r"/1/playlist/([0-9a-f-]{36})/?", re.I)
_CREATED_FOR = re.compile(r"/1/user/([^/]+)/playlists/createdfor/?")
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday: weekly playlists are made on Mondays


@dataclass
class FakeListenBrainzPlaylist:
    mbid: str
    title: str
    entries: list  # of playlists.importers.Entry: artist, title, album, duration_ms, mbid
    date: datetime
    created_for: str | None = None
    source_patch: str | None = None  # weekly-exploration, weekly-jams, daily-jams...
    creator: str = "listenbrainz"
    extra_tracks: list = field(default_factory=list)  # raw track objects appended as they are


class FakeListenBrainzServer(FakeWebServer):
    thread_name = "fake-listenbrainz"
    empty_listing = ("application/json", b'{"playlist":{"title":"x","track":[', b"]}}")

    def __init__(self, host="127.0.0.1", port=0):
        super().__init__(host=host, port=port)
        self.playlists = {}  # mbid -> FakeListenBrainzPlaylist
        self.users = set()
        self.identifier_as_list = True

    def add_playlist(self, title, entries, created_for=None, source_patch=None, date=None, mbid=None):
        """Add a playlist; `created_for` makes it one of that user's "created for you"
        playlists. Dates default to one week after the newest playlist so far."""
        if date is None:
            newest = max((p.date for p in self.playlists.values()), default=_EPOCH - timedelta(weeks=1))
            date = newest + timedelta(weeks=1)
        playlist = FakeListenBrainzPlaylist(
            mbid=mbid or str(uuid.uuid4()),
            title=title,
            entries=list(entries),
            date=date,
            created_for=created_for,
            source_patch=source_patch,
        )
        self.playlists[playlist.mbid] = playlist
        if created_for:
            self.users.add(created_for)
        return playlist

    def answer(self, method, path, query):
        if method == "GET" and (match := _PLAYLIST.fullmatch(path)):
            playlist = self.playlists.get(match[1].lower())
            if playlist is None:
                return _error("/1/playlist/{mbid}", 404, f"Cannot find playlist: {match[1]}")
            return json_answer("/1/playlist/{mbid}", {"playlist": self._jspf(playlist, tracks=True)})
        if method == "GET" and (match := _CREATED_FOR.fullmatch(path)):
            return self._created_for("/1/user/{user}/playlists/createdfor", match[1], query)
        return _error(path, 404, "The requested URL was not found on the server.")

    def _created_for(self, route, user, query):
        if user not in self.users:
            return _error(route, 404, f"Cannot find user: {user}")
        try:
            count, offset = int(query.get("count", 25)), int(query.get("offset", 0))
        except ValueError:
            return _error(route, 400, "Invalid count or offset")
        mine = [p for p in self.playlists.values() if p.created_for == user]
        mine.sort(key=lambda p: p.date, reverse=True)
        page = mine[offset : offset + min(count, 100)]
        return json_answer(
            route,
            {
                "count": len(page),
                "offset": offset,
                "playlist_count": len(mine),
                "playlists": [{"playlist": self._jspf(p, tracks=False)} for p in page],
            },
        )

    def _jspf(self, playlist, tracks):
        date = playlist.date.isoformat(timespec="microseconds")
        extension = {"creator": playlist.creator, "last_modified_at": date, "public": True}
        if playlist.created_for:
            extension["created_for"] = playlist.created_for
        if playlist.source_patch:
            extension["additional_metadata"] = {"algorithm_metadata": {"source_patch": playlist.source_patch}}
        return {
            "annotation": f"<p>{playlist.title}</p>",
            "creator": playlist.creator,
            "date": date,
            "identifier": f"https://listenbrainz.org/playlist/{playlist.mbid}",
            "title": playlist.title,
            "extension": {_JSPF_PLAYLIST: extension},
            "track": [self._track(e, date) for e in playlist.entries] + playlist.extra_tracks
            if tracks
            else [],
        }

    def _track(self, entry, date):
        track = {"title": entry.title, "creator": entry.artist}
        if entry.album:
            track["album"] = entry.album
        if entry.duration_ms:
            track["duration"] = entry.duration_ms
        if entry.mbid:
            url = f"https://musicbrainz.org/recording/{entry.mbid}"
            track["identifier"] = [url] if self.identifier_as_list else url
        artist_mbid = uuid.uuid5(uuid.NAMESPACE_URL, f"artist:{entry.artist}")
        track["extension"] = {
            _JSPF_TRACK: {
                "added_at": date,
                "added_by": "listenbrainz",
                "artist_identifiers": [f"https://musicbrainz.org/artist/{artist_mbid}"],
                "additional_metadata": {
                    "artists": [
                        {
                            "artist_credit_name": entry.artist,
                            "artist_mbid": str(artist_mbid),
                            "join_phrase": "",
                        }
                    ]
                },
            }
        }
        return track


def _error(route, status, message):
    return json_answer(route, {"code": status, "error": message}, status)
