"""A fake Deezer API (the public one, which needs no key), built to its published format.

Routes, as api.deezer.com answers them:

- `GET /playlist/{id}`: the playlist (`id`, `title`, `nb_tracks`, `link`...) with its
  tracks embedded in `tracks.data`, at most `embedded` of them, and `tracks.next`
  linking to the rest when there are more;
- `GET /playlist/{id}/tracks?index=&limit=`: a page (`data`, `total`, `next` while
  more are left), 25 tracks by default.

Each track has `title`, `duration` in seconds, `artist.name`, `album.title`, and
`isrc` (left out of the embedded list when `isrc_in_listing` is False, as some
answers do). Errors come as HTTP 200 with `{"error": {"type", "message", "code"}}`:
800 "no data" for an unknown playlist; `faults_error` answers every request with one
(say the quota error, code 4).

    with FakeDeezerServer() as deezer:
        deezer.add_playlist("Road Trip", entries)  # -> its id

Standard library only (and playlists.importers.Entry for the tracks); no Django.
"""

import re
import zlib

from .web import FakeWebServer, json_answer

_PLAYLIST = re.compile(r"/playlist/(\d+)/?")
_TRACKS = re.compile(r"/playlist/(\d+)/tracks/?")
NO_DATA = {"type": "DataException", "message": "no data", "code": 800}
QUOTA = {"type": "Exception", "message": "Quota limit exceeded", "code": 4}


class FakeDeezerServer(FakeWebServer):
    thread_name = "fake-deezer"
    empty_listing = ("application/json", b'{"data":[', b"]}")

    def __init__(self, host="127.0.0.1", port=0):
        super().__init__(host=host, port=port)
        self.playlists = {}  # id -> (title, entries)
        self.embedded = 400
        self.isrc_in_listing = True
        self.faults_error = None  # an error object answered, with 200, to every request
        self._next_id = 908622995

    def add_playlist(self, title, entries, playlist_id=None):
        playlist_id = playlist_id or self._next_id
        self._next_id += 1
        self.playlists[int(playlist_id)] = (title, list(entries))
        return int(playlist_id)

    def answer(self, method, path, query):
        if method == "GET" and (match := _TRACKS.fullmatch(path)):
            return self._tracks("/playlist/{id}/tracks", int(match[1]), query)
        if method == "GET" and (match := _PLAYLIST.fullmatch(path)):
            return self._playlist("/playlist/{id}", int(match[1]))
        return json_answer(path, {"error": NO_DATA})

    def _playlist(self, route, playlist_id):
        if self.faults_error or playlist_id not in self.playlists:
            return json_answer(route, {"error": self.faults_error or NO_DATA})
        title, entries = self.playlists[playlist_id]
        tracks = self._page(playlist_id, entries, 0, self.embedded, self.isrc_in_listing)
        del tracks["total"]  # the embedded list has no total; the playlist's nb_tracks says it
        return json_answer(
            route,
            {
                "id": playlist_id,
                "title": title,
                "description": "",
                "duration": sum((e.duration_ms or 0) // 1000 for e in entries),
                "public": True,
                "nb_tracks": len(entries),
                "link": f"https://www.deezer.com/playlist/{playlist_id}",
                "creator": {"id": 2529, "name": "Fake Deezer", "type": "user"},
                "type": "playlist",
                "tracks": tracks,
            },
        )

    def _tracks(self, route, playlist_id, query):
        if self.faults_error or playlist_id not in self.playlists:
            return json_answer(route, {"error": self.faults_error or NO_DATA})
        try:
            index, limit = int(query.get("index", 0)), int(query.get("limit", 25))
        except ValueError:
            return json_answer(route, {"error": {"type": "ParameterException", "message": "Wrong parameter"}})
        entries = self.playlists[playlist_id][1]
        return json_answer(route, self._page(playlist_id, entries, index, limit, isrc=True))

    def _page(self, playlist_id, entries, index, limit, isrc):
        page = {"data": [_track(e, isrc) for e in entries[index : index + limit]], "total": len(entries)}
        if index + limit < len(entries):
            page["next"] = f"{self.url}/playlist/{playlist_id}/tracks?index={index + limit}"
        return page


def _track(entry, isrc):
    # Ids from the names: the same track has the same id in every playlist.
    track_id = zlib.crc32(f"{entry.artist}|{entry.title}".encode())
    track = {
        "id": track_id,
        "readable": True,
        "title": entry.title,
        "title_short": entry.title,
        "link": f"https://www.deezer.com/track/{track_id}",
        "duration": round((entry.duration_ms or 0) / 1000),
        "rank": 500000,
        "explicit_lyrics": False,
        "artist": {"id": zlib.crc32(entry.artist.encode()), "name": entry.artist, "type": "artist"},
        "album": {
            "id": zlib.crc32(f"{entry.artist}|{entry.album}".encode()),
            "title": entry.album,
            "type": "album",
        },
        "type": "track",
    }
    if isrc and entry.isrc:
        track["isrc"] = entry.isrc
    return track
