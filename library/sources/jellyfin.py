"""Jellyfin adapter: reads a music library through Jellyfin's JSON API with plain requests.

jellyfin-apiclient-python is maintained, but it is built for interactive clients (user
logins, a websocket, five retries with one-second sleeps, an HTTP 500 answered with None
rather than an error, the token put into URLs it builds) and is GPL-3.0. This adapter
needs seven endpoints and exact error mapping, which requests gives directly.

What it relies on (Jellyfin 10.9 and later, which moved user views to /UserViews):
- An API key is not a user. Plays, favourites and playlists belong to users, so every
  call names one: the configured user id, else the first administrator in GET /Users.
- Jellyfin has no star ratings. A favourite is the closest signal and is cached as
  user_rating 10; other tracks are unrated.
- Tracks carry their own genres and year, so prepare() has nothing to do.
- Artists holds every credited artist, all cached; real items may lack any field
  (a loose file has no album, an untagged one no artists) or send it as null.
- No item says when it last changed (DateLastSaved is a filter, never a field), so
  changes are asked for since the server's clock at the last sync's start.
- Pages are sorted by DateCreated, then SortName: a stable order in which tracks added
  during a sync land on the last page; stable_pages() re-reads a page that deletions
  shifted.
- Playlists change in place (see _rewrite): entries are named by their track's Id
  (PlaylistItemId), adding skips a track the playlist holds and appends, and an API key
  may not move entries (Move reads the calling user, which an API key lacks: jellyfin#12999).
"""

import uuid
from datetime import UTC, datetime
from urllib.parse import quote

from library.sources.base import (
    MediaSource,
    PlaylistRef,
    ServerInfo,
    from_iso,
    json_count,
    pick_library,
    plausible_year,
    read_all,
    recording_id,
    stable_pages,
    undo_on_failure,
)
from library.sources.http import ServerSession
from library.vocab import ErrorKind

_TICKS_PER_MS = 10_000
# Not DateLastSaved: Jellyfin accepts it but BaseItemDto has no such property, so it
# never comes (the minDateLastSaved filter works all the same).
_FIELDS = "Genres,DateCreated,ProviderIds"
# The ProviderIds key of a recording's MusicBrainz id (Jellyfin 10.11+, from the file's
# MUSICBRAINZ_TRACKID tag). "MusicBrainzTrack" is the release track id, another thing
# (MediaBrowser.Providers/MediaInfo/AudioFileProber.cs).
_RECORDING = "MusicBrainzRecording"
_VERSION = "1.0"
# Jellyfin 10.10 and some 10.11 releases look for a calling user there (jellyfin#13476, #15600).
_ENTRY_REMOVAL_REFUSED = (
    " Some Jellyfin versions do not let an API key remove playlist entries:"
    " update Jellyfin, or append instead."
)


class JellyfinSource(MediaSource):
    name = "jellyfin"
    label = "Jellyfin"
    setting_names = {
        "url": "JELLYFIN_URL",
        "api_key": "JELLYFIN_API_KEY",
        "user_id": "JELLYFIN_USER_ID",
        "library": "JELLYFIN_LIBRARY",
        "timeout": "JELLYFIN_TIMEOUT",
    }

    def __init__(self, url, api_key, user_id="", library="", timeout=30):
        self.url = url.rstrip("/")
        super().__init__(ServerSession(self.url, "Jellyfin", "the API key", "JELLYFIN_API_KEY", timeout))
        self._user_id = user_id
        self._library = library
        self._library_id = None
        # A stable DeviceId, so Jellyfin lists one device for MediaSage, not one per run.
        device = uuid.uuid5(uuid.NAMESPACE_URL, self.url).hex
        self._headers = {
            "Accept": "application/json",
            "Authorization": f'MediaBrowser Token="{api_key}", Client="MediaSage", Device="MediaSage", '
            f'DeviceId="{device}", Version="{_VERSION}"',
        }

    # -- requests ---------------------------------------------------------------

    def _request(self, method, path, what, params=None, json=None, refused=""):
        """Send one request through the session (its one retry, its errors). `refused`
        adds an explanation to a 400 or 403."""

        def send():
            url = self.url + path
            return self._session.request(method, url, params=params, json=json, headers=self._headers)

        return self._session.call(send, what, refused)

    def _get(self, path, what, params=None, kind=dict):
        return self._json(self._request("GET", path, what, params=params), what, kind)

    def _json(self, response, what, kind=dict):
        try:
            data = response.json()
        except ValueError:
            raise self._session.error(ErrorKind.BAD_RESPONSE, f"sent malformed JSON for {what}.") from None
        if not isinstance(data, kind):
            raise self._unexpected(what)
        return data

    def _unexpected(self, what):
        return self._session.error(ErrorKind.BAD_RESPONSE, f"sent an unexpected answer for {what}.")

    def _items(self, data, what):
        items = data.get("Items")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise self._unexpected(what)
        return items

    # -- the adapter interface --------------------------------------------------

    def connect(self):
        info = self._get("/System/Info/Public", "its identity")
        user = self._user()
        views = self._get("/UserViews", f"libraries for user {user}", {"userId": user})
        music = [
            (v["Id"], v.get("Name", ""))
            for v in self._items(views, "libraries")
            if v.get("CollectionType") == "music" and v.get("Id")
        ]
        self._library_id, title = pick_library(music, self._library, "Jellyfin", "JELLYFIN_LIBRARY")
        return ServerInfo(
            server_id=str(info.get("Id") or ""),
            server_name=str(info.get("ServerName") or ""),
            library_title=title,
            server_time=self._session.server_time,
        )

    def _user(self):
        """The user to act for: an API key is not one."""
        if not self._user_id:
            users = self._get("/Users", "its users", kind=list)
            admins = [
                u
                for u in users
                if isinstance(u, dict)
                and (u.get("Policy") or {}).get("IsAdministrator")
                and not (u.get("Policy") or {}).get("IsDisabled")
                and u.get("Id")
            ]
            if not admins:
                raise self._session.error(
                    ErrorKind.NOT_FOUND,
                    "lists no administrator to act for. Set JELLYFIN_USER_ID to the user whose music to use.",
                )
            self._user_id = admins[0]["Id"]
        return self._user_id

    def count_tracks(self):
        data = self._get("/Items", "the track count", self._listing(0, 0))
        return json_count(data.get("TotalRecordCount")) or 0

    def track_pages(self, page_size):
        """Yield lists of track dicts, one list per request."""
        for items in self._pages("tracks", page_size):
            yield [_track(item) for item in items]

    def track_keys(self, page_size):
        """Yield lists of every track's Id, from listings without user data or extra
        fields (Jellyfin has no feed of deleted items)."""
        slim = {"Fields": "", "EnableUserData": "false"}
        for items in self._pages("track ids", page_size, slim):
            yield [str(item.get("Id") or "") for item in items]

    def changed_track_pages(self, since, page_size):
        """Yield lists of track dicts for tracks that may have changed after `since`
        (epoch seconds, by the server's clock): saved since (edited or added), played
        since, and every favourite, since marking one does not move DateLastSaved.
        A track may come more than once. No listing shows a track that stopped being
        a favourite: the cache learns that at the next full sync."""
        mark = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for items in self._pages("changed tracks", page_size, {"minDateLastSaved": mark}):
            yield [_track(item) for item in items]
        latest_first = {"IsPlayed": "true", "SortBy": "DatePlayed", "SortOrder": "Descending"}
        for items in self._pages("played tracks", page_size, latest_first):
            tracks = [_track(item) for item in items]
            played = [t for t in tracks if t["last_played_at"] and t["last_played_at"].timestamp() >= since]
            if played:
                yield played
            if len(played) < len(tracks):
                break  # the rest were played before `since`
        for items in self._pages("favourites", page_size, {"IsFavorite": "true"}):
            yield [_track(item) for item in items]

    def _pages(self, what, page_size, query=None):
        """Yield the item lists of a track listing, about one per request."""

        def fetch(start, size):
            data = self._get("/Items", what, self._listing(start, size) | (query or {}))
            return self._items(data, what), json_count(data.get("TotalRecordCount"))

        return stable_pages(fetch, lambda item: item.get("Id"), page_size)

    def _listing(self, start, limit):
        if self._library_id is None:
            self.connect()
        return {
            "userId": self._user(),
            "ParentId": self._library_id,
            "IncludeItemTypes": "Audio",
            "Recursive": "true",
            "Fields": _FIELDS,
            "EnableImages": "false",
            "EnableUserData": "true",
            "EnableTotalRecordCount": "true",
            "SortBy": "DateCreated,SortName",
            "SortOrder": "Ascending",
            "StartIndex": start,
            "Limit": limit,
        }

    # -- playlists --------------------------------------------------------------
    # A new playlist takes all its tracks in one request (the ids travel in a JSON body).
    # Adding to or removing from an existing one puts ids in the URL, about 170 a request.

    def list_playlists(self):
        """The user's audio playlists (all of them writable)."""
        params = {
            "userId": self._user(),
            "IncludeItemTypes": "Playlist",
            "Recursive": "true",
            "Fields": "ChildCount",
            "EnableImages": "false",
            "EnableUserData": "false",
        }
        data = self._get("/Items", "playlists", params)
        return [
            PlaylistRef(p["Id"], _text(p.get("Name")), json_count(p.get("ChildCount")) or 0)
            for p in self._items(data, "playlists")
            if p.get("MediaType") == "Audio" and p.get("Id")
        ]

    def playlist_url(self, playlist_id):
        """Jellyfin Web's page for the playlist, served by the server itself."""
        return f"{self.url}/web/#/details?id={playlist_id}"

    def _create(self, title, keys, summary):
        body = {"Name": title, "Ids": keys, "UserId": self._user(), "MediaType": "Audio"}
        response = self._request("POST", "/Playlists", "the new playlist", json=body)
        try:
            playlist_id = response.json().get("Id")
        except (ValueError, AttributeError):
            playlist_id = None
        if not playlist_id:
            raise self._session.error(ErrorKind.BAD_RESPONSE, "did not return the new playlist.")
        if summary:
            path = f"/Items/{quote(str(playlist_id), safe='')}"
            with undo_on_failure(lambda: self._request("DELETE", path, "the new playlist")):
                self.set_playlist_summary(playlist_id, summary)
        return playlist_id

    def set_playlist_summary(self, playlist_id, summary):
        """The playlist's Overview. Neither POST /Playlists/{id} nor any playlist route
        takes one; jellyfin-web's metadata editor posts the whole item to /Items/{id},
        which sets every field from the body (one left out is cleared, or fails the
        request), so the item is read first and sent back with the new Overview."""
        path = f"/Items/{quote(str(playlist_id), safe='')}"
        item = self._get(path, "the playlist", {"userId": self._user()})
        self._request("POST", path, "the playlist's overview", json=item | {"Overview": summary})

    def read_playlist(self, playlist_id):
        """[(entry id, track id)] of a playlist, in order. An entry's id is its track's."""

        def fetch(start, size):
            params = {
                "userId": self._user(),  # needed with an API key, though Jellyfin documents it as optional
                "StartIndex": start,
                "Limit": size,
                "EnableImages": "false",
                "EnableUserData": "false",
            }
            data = self._get(_playlist_path(playlist_id), "the playlist", params)
            items = self._items(data, "the playlist")
            entries = [(i.get("PlaylistItemId") or i["Id"], i["Id"]) for i in items if i.get("Id")]
            return entries, json_count(data.get("TotalRecordCount"))

        return read_all(fetch)

    def _rewrite(self, playlist_id, entries, keys):
        """Jellyfin only appends, skips a track the playlist holds already, removes every
        copy of a track at once, and lets no API key move an entry. So the entries that
        stay are those holding the longest start of `keys` the playlist has in order;
        every other entry is removed and the rest of `keys` added after them: a removal
        and an add per 170 tracks from the first change to the end, however many changed.

        Removal comes first: a moved track must leave before it can come back, and a
        server refusing an API key removal (Jellyfin 10.10, jellyfin#13476) then fails
        before anything changed."""
        start = _kept_start(entries, keys)
        kept = set(keys[:start])
        self._remove(playlist_id, list(dict.fromkeys(entry for entry, key in entries if key not in kept)))
        self._add(playlist_id, keys[start:])

    def _add(self, playlist_id, keys):
        for chunk in self._chunks(keys):
            params = {"ids": ",".join(chunk), "userId": self._user()}
            self._request("POST", _playlist_path(playlist_id), "the playlist", params=params)

    def _remove(self, playlist_id, entries):
        for chunk in self._chunks(entries):
            # Jellyfin removes entries in bulk; 10.11 ignores userId here, later versions read it.
            params = {"entryIds": ",".join(chunk), "userId": self._user()}
            self._request(
                "DELETE",
                _playlist_path(playlist_id),
                "the playlist's entries",
                params=params,
                refused=_ENTRY_REMOVAL_REFUSED,
            )


def _kept_start(entries, keys):
    """How many of `keys`, from the first, the playlist's entries hold in that order once
    the entries in between are removed. Removing an entry removes every copy of its track,
    so the start ends before a track with a copy to remove."""
    start = len(keys)
    while True:
        held, n = [], 0
        for _, key in entries:
            if n < start and key == keys[n]:
                n += 1
            else:
                held.append(key)
        removed = set(held)
        start = next((i for i in range(n) if keys[i] in removed), n)
        if start == n:
            return n


def _playlist_path(playlist_id):
    return f"/Playlists/{quote(str(playlist_id), safe='')}/Items"


def _track(item):
    """The cache's columns for an Audio item. Real items may lack any field or send it
    as null: a loose file has no album, an untagged one no artists."""
    user_data = _dict(item.get("UserData"))
    album_artist = _text(item.get("AlbumArtist"))
    credited = _names(item.get("Artists"))
    ticks = json_count(item.get("RunTimeTicks"))
    return {
        "rating_key": _text(item.get("Id")),
        "title": _text(item.get("Name")),
        # As Jellyfin's own web client shows a track's artists, their names joined with ", "
        # (jellyfin-web src/components/listview/listview.js, getListViewHtml:
        # `artistItems.map(a => a.Name).join(', ')`). Artists, not ArtistItems: the server
        # leaves out of ArtistItems the artists it has no item for yet.
        "artist": ", ".join(credited) or album_artist,
        # Untagged, the album artist is the performer, as Plex shows it.
        "artists": credited or ([album_artist] if album_artist else []),
        # As Jellyfin's scanner does for a file without an album artist tag
        # (MediaBrowser.Providers/MediaInfo/AudioFileProber.cs).
        "album_artist": album_artist or (credited[0] if credited else ""),
        "album": _text(item.get("Album")),
        "album_key": _text(item.get("AlbumId")),
        "track_number": _position(item.get("IndexNumber")),
        "disc_number": _position(item.get("ParentIndexNumber")),
        "duration_ms": ticks // _TICKS_PER_MS if ticks else None,
        "year": plausible_year(json_count(item.get("ProductionYear"))),
        "genres": [g for g in _list(item.get("Genres")) if isinstance(g, str) and g],
        # No star ratings in Jellyfin: a favourite is the top of the scale, the rest unrated.
        "user_rating": 10 if user_data.get("IsFavorite") is True else None,
        "play_count": json_count(user_data.get("PlayCount")) or 0,
        "last_played_at": from_iso(user_data.get("LastPlayedDate")),
        "added_at": from_iso(item.get("DateCreated")),
        # No item field says when it last changed (DateLastSaved never comes): incremental
        # syncs go by the server's clock instead (ServerInfo.server_time).
        "server_updated_at": None,
        "recording_mbid": recording_id(_dict(item.get("ProviderIds")).get(_RECORDING)),
        "server_says_live": False,
    }


def _text(value):
    return value if isinstance(value, str) else ""


def _dict(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return value if isinstance(value, list) else []


def _names(value):
    """The artist names of a list, in order, once each (any case), blanks and non-names dropped."""
    names = {}
    for name in _list(value):
        if isinstance(name, str) and name.strip():
            names.setdefault(name.strip().casefold(), name.strip())
    return list(names.values())


def _position(value):
    # Taggers write track or disc 0 for "unknown".
    return json_count(value) or None
