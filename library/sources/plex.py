"""Plex adapter: reads a music section in pages of raw XML elements.

plexapi's Track objects re-fetch an item whenever code reads an attribute that
the listing left empty (genres, year, an unrated track's userRating), turning
one sync into one request per track. So this module only uses plexapi for the
connection and its error mapping, and reads the listing elements' attributes
itself. Genres and year live on albums in Plex listings: the album and artist
listings are read once up front and joined on parentRatingKey.
"""

import contextlib
from datetime import UTC, datetime
from urllib.parse import quote, urlencode, urlparse

from plexapi.server import PlexServer

from library.sources import SavedPlaylist, ServerInfo, SourceError, pick_library, server_time
from library.sources.http import ServerSession

# Plex type numbers for /library/sections/{id}/all?type=N
_ARTIST, _ALBUM, _TRACK = 8, 9, 10
_RETRY_PAUSE = 1.0
# Hints that shrink a listing to its ratingKeys (a server may ignore them; the
# keys are read either way): a fifth of the time for a 100k-track key listing.
_KEYS_ONLY = (
    "&excludeElements=Media,Genre,Mood,Similar&excludeFields=key,guid,type,title,titleSort,"
    "grandparentTitle,parentTitle,originalTitle,summary,index,parentIndex,parentYear,year,userRating,"
    "lastRatedAt,viewCount,skipCount,lastViewedAt,duration,addedAt,updatedAt,parentRatingKey,"
    "grandparentRatingKey,parentGuid,grandparentGuid,parentKey,grandparentKey,thumb,parentThumb,"
    "grandparentThumb,art,grandparentArt,librarySectionID,librarySectionKey,librarySectionTitle,"
    "musicAnalysisVersion,ratingCount"
)
# Plex answers 414 to request lines over about 8 KB; keys go in the URL.
_MAX_URI_CHARS = 6000


class PlexSource:
    name = "plex"
    label = "Plex"

    def __init__(self, url, token, library="", timeout=30):
        self.url = url
        self._token = token
        self._library = library
        self._timeout = timeout
        self._session = ServerSession(url, "Plex", "the token", "PLEX_TOKEN", timeout, _RETRY_PAUSE)
        self._session.hooks["response"].append(self._count)
        self.request_count = 0
        self._server_time = None
        self._server = None
        self._section_key = None
        self._albums = self._artists = None

    def _count(self, response, *args, **kwargs):
        self.request_count += 1
        self._server_time = server_time(response) or self._server_time

    @property
    def _where(self):
        return urlparse(self.url).netloc

    # -- errors ---------------------------------------------------------------

    def _call(self, fn, what):
        """Run one request (retried once on a timeout, a dropped connection or a 5xx);
        every failure becomes a SourceError the user can act on."""
        return self._session.call(fn, what)

    def _query(self, path, what, start=None, size=None):
        headers = {}
        if start is not None:
            headers = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(size)}
        data = self._call(lambda: self._server.query(path, headers=headers), what)
        if data is None:
            raise SourceError("bad_response", f"Plex at {self._where} sent an empty answer for {what}.")
        return data

    # -- the adapter interface --------------------------------------------------

    def _connect_server(self):
        if self._server is None:
            self._server = self._call(
                lambda: PlexServer(self.url, self._token, session=self._session, timeout=self._timeout),
                "its identity",
            )
        return self._server

    def connect(self):
        self._connect_server()
        sections = self._query("/library/sections", "library sections")
        music = [
            (d.attrib["key"], d.attrib.get("title", "")) for d in sections if d.attrib.get("type") == "artist"
        ]
        key, title = pick_library(music, self._library, "Plex", "PLEX_LIBRARY")
        self._section_key = key
        return ServerInfo(
            server_id=self._server.machineIdentifier or "",
            server_name=self._server.friendlyName or "",
            library_title=title,
            server_time=self._server_time,
        )

    def count_tracks(self):
        data = self._query(self._listing(_TRACK), "the track count", start=0, size=0)
        return _int(data.attrib.get("totalSize")) or 0

    def prepare(self, page_size):
        """Read every album and artist once, for the genres and years tracks lack."""
        self._artists = {}
        for page in self._pages(_ARTIST, "Directory", page_size, "artists"):
            self._add_artists(page)
        self._albums = {}
        for page in self._pages(_ALBUM, "Directory", page_size, "albums"):
            self._add_albums(page)

    def _add_artists(self, elements):
        for el in elements:
            self._artists[el.attrib.get("ratingKey")] = _tags(el, "Genre")

    def _add_albums(self, elements):
        for el in elements:
            a = el.attrib
            genres = _tags(el, "Genre") or self._artists.get(a.get("parentRatingKey"), ())
            live = "live" in (t.lower() for t in _tags(el, "Subformat"))
            self._albums[a.get("ratingKey")] = (_year(a.get("year")), genres, live)

    def _load_albums(self, tracks):
        """The albums (and their artists) of these tracks that this sync has not
        read yet, fetched by key: a few requests for the handful of albums an
        incremental sync meets, where the whole album listing is dozens."""
        if self._albums is None:
            self._albums, self._artists = {}, {}
        albums = self._metadata({t.attrib.get("parentRatingKey") for t in tracks} - self._albums.keys())
        self._add_artists(
            self._metadata({a.attrib.get("parentRatingKey") for a in albums} - self._artists.keys())
        )
        self._add_albums(albums)

    def _metadata(self, keys):
        """Items by key, a few hundred to a request."""
        keys, found = sorted(k for k in keys if k), []
        for i in range(0, len(keys), 200):
            try:
                data = self._query(f"/library/metadata/{','.join(keys[i : i + 200])}", "albums and artists")
            except SourceError as exc:
                if exc.kind != "not_found":  # all gone since: nothing to add
                    raise
                continue
            found += [el for el in data if el.tag == "Directory"]
        return found

    def track_pages(self, page_size):
        """Yield lists of track dicts, one list per request."""
        if self._albums is None:
            self.prepare(page_size)
        for page in self._pages(_TRACK, "Track", page_size, "tracks"):
            yield [self._track(el) for el in page]

    def track_keys(self, page_size):
        """Yield lists of every track's key, from listings slimmed to what
        spotting deletions needs (Plex has no feed of deleted items)."""
        for page in self._pages(_TRACK, "Track", page_size, "track keys", _KEYS_ONLY):
            yield [el.attrib.get("ratingKey", "") for el in page]

    def changed_track_pages(self, since, page_size):
        """Yield lists of track dicts for tracks that may have changed after
        `since` (epoch seconds, by the server's clock): edited or added tracks,
        new ratings and plays (which need not move updatedAt), and tracks whose
        album or artist changed (their genres and year live there). A track may
        come more than once."""
        # Pages of the five listings are pooled up to page_size, so their albums
        # are looked up together.
        pending = []
        for field in ("updatedAt", "lastRatedAt", "lastViewedAt", "album.updatedAt", "artist.updatedAt"):
            name = field if "." in field else f"track.{field}"
            extra = f"&{quote(name + '>>', safe='.')}={since}"
            for page in self._pages(_TRACK, "Track", page_size, "changed tracks", extra):
                pending += page
                if len(pending) >= page_size:
                    yield self._tracks_with_albums(pending)
                    pending = []
        if pending:
            yield self._tracks_with_albums(pending)

    def _tracks_with_albums(self, elements):
        self._load_albums(elements)
        return [self._track(el) for el in elements]

    # -- playlists --------------------------------------------------------------

    def list_playlists(self):
        """The server's regular (not smart) audio playlists: [(id, title, item count)]."""
        self._connect_server()
        data = self._query("/playlists?playlistType=audio", "playlists")
        return [
            (el.attrib["ratingKey"], el.attrib.get("title", ""), _int(el.attrib.get("leafCount")) or 0)
            for el in data
            if el.tag == "Playlist" and el.attrib.get("smart") in (None, "0")
        ]

    def save_playlist(self, title, keys, mode="create", playlist_id=None):
        """Write `keys` to a playlist: a new one ("create"), an existing one whose
        contents become `keys` ("replace", same playlist id, so clients that
        pinned it keep it), or an existing one gaining the keys it lacks ("append").

        Keys travel in the URL, chunked under Plex's URL limit, so N tracks cost
        about N/600 requests, plus one per removed item on replace (Plex removes
        items one at a time). On failure, what this call added is taken back."""
        self._connect_server()
        keys = list(dict.fromkeys(str(k) for k in keys))
        removed = 0
        if mode == "create":
            playlist_id, added = self._create(title, keys), len(keys)
        else:
            old = self._items(playlist_id)
            if mode == "append":
                present = {key for _, key in old}
                keys = [k for k in keys if k not in present]
            self._add_or_undo(playlist_id, keys, keep={item for item, _ in old})
            added = len(keys)
            if mode == "replace":
                for item, _ in old:
                    self._call(lambda item=item: self._delete_item(playlist_id, item), "the playlist")
                    removed += 1
        return SavedPlaylist(
            id=str(playlist_id),
            title=title,
            url=self.playlist_url(playlist_id),
            added=added,
            removed=removed,
            requests=self.request_count,  # all this adapter made: one adapter per save
        )

    def playlist_url(self, playlist_id):
        """Plex Web's page for the playlist, served by the server itself."""
        key = quote(f"/playlists/{playlist_id}", safe="")
        return f"{self.url}/web/index.html#!/server/{self._server.machineIdentifier}/playlist?key={key}"

    def _uri(self, keys):
        return f"server://{self._server.machineIdentifier}/com.plexapp.plugins.library/library/metadata/{','.join(keys)}"

    def _chunks(self, keys):
        """Runs of keys whose encoded uri stays under the URL limit."""
        chunk, size = [], 0
        for key in keys:
            cost = len(key) + 3  # the key and its encoded comma
            if chunk and size + cost > _MAX_URI_CHARS:
                yield chunk
                chunk, size = [], 0
            chunk.append(key)
            size += cost
        if chunk:
            yield chunk

    def _create(self, title, keys):
        chunks = list(self._chunks(keys)) or [[]]
        query = urlencode({"type": "audio", "title": title, "smart": 0, "uri": self._uri(chunks[0])})
        data = self._call(
            lambda: self._server.query(f"/playlists?{query}", method=self._session.post), "the new playlist"
        )
        created = next((el for el in data if el.tag == "Playlist"), None) if data is not None else None
        if created is None:
            raise SourceError("bad_response", f"Plex at {self._where} did not return the new playlist.")
        playlist_id = created.attrib["ratingKey"]
        try:
            for chunk in chunks[1:]:
                self._put_items(playlist_id, chunk)
        except SourceError:
            with contextlib.suppress(Exception):
                self._server.query(f"/playlists/{playlist_id}", method=self._session.delete)
            raise
        return playlist_id

    def _put_items(self, playlist_id, keys):
        query = urlencode({"uri": self._uri(keys)})
        self._call(
            lambda: self._server.query(f"/playlists/{playlist_id}/items?{query}", method=self._session.put),
            "the playlist",
        )

    def _add_or_undo(self, playlist_id, keys, keep):
        try:
            for chunk in self._chunks(keys):
                self._put_items(playlist_id, chunk)
        except SourceError:
            # Take back what this call added (the server is failing already, so
            # the original error is the one to report, whatever this does).
            with contextlib.suppress(Exception):
                for item, _ in self._items(playlist_id):
                    if item not in keep:
                        self._delete_item(playlist_id, item)
            raise

    def _delete_item(self, playlist_id, item):
        self._server.query(f"/playlists/{playlist_id}/items/{item}", method=self._session.delete)

    def _items(self, playlist_id):
        """[(playlistItemID, ratingKey)] of a playlist, in order."""
        items, start = [], 0
        while True:
            data = self._query(f"/playlists/{playlist_id}/items", "the playlist", start=start, size=1000)
            page = [(el.attrib["playlistItemID"], el.attrib["ratingKey"]) for el in data if el.tag == "Track"]
            items += page
            start += len(page)
            if not page or start >= (_int(data.attrib.get("totalSize")) or 0):
                return items

    # -- helpers ----------------------------------------------------------------

    def _listing(self, plex_type, extra=""):
        return f"/library/sections/{self._section_key}/all?type={plex_type}&includeGuids=0{extra}"

    def _pages(self, plex_type, tag, page_size, what, extra=""):
        start = 0
        while True:
            data = self._query(self._listing(plex_type, extra), what, start=start, size=page_size)
            items = [el for el in data if el.tag == tag]
            if items:
                yield items
            start += len(items)
            total = _int(data.attrib.get("totalSize"))
            # Without totalSize a short page is the last one, as plexapi assumes.
            if (
                not items
                or (total is not None and start >= total)
                or (total is None and len(items) < page_size)
            ):
                return

    def _track(self, el):
        a = el.attrib
        album_year, album_genres, album_live = self._albums.get(a.get("parentRatingKey"), (None, (), False))
        album_artist = a.get("grandparentTitle", "")
        rating = _number(float, a.get("userRating"))
        return {
            "rating_key": a.get("ratingKey", ""),
            "title": a.get("title", ""),
            "artist": a.get("originalTitle") or album_artist,
            "artists": [a.get("originalTitle") or album_artist],
            "album_artist": album_artist,
            "album": a.get("parentTitle", ""),
            "album_key": a.get("parentRatingKey", ""),
            "track_number": _int(a.get("index")),
            "disc_number": _int(a.get("parentIndex")),
            "duration_ms": _int(a.get("duration")),
            "year": _year(a.get("parentYear")) or _year(a.get("year")) or album_year,
            # Some servers do send track genres; prefer them when present.
            "genres": list(_tags(el, "Genre") or album_genres),
            "user_rating": None if rating is None else max(0, min(10, round(rating))),
            "play_count": _int(a.get("viewCount")) or 0,
            "last_played_at": _epoch(a.get("lastViewedAt")),
            "added_at": _epoch(a.get("addedAt")),
            "server_updated_at": _epoch(a.get("updatedAt")),
            "album_is_live": album_live,
        }


def _tags(el, tag):
    return tuple(child.attrib["tag"] for child in el if child.tag == tag and child.attrib.get("tag"))


def _number(cast, value):
    try:
        return cast(value)
    except (TypeError, ValueError):
        return None


def _int(value):
    return _number(int, value)


def _year(value):
    year = _int(value)
    # Taggers write 0 or 1 for "unknown"; those are no year.
    return year if year and 1000 <= year <= 2999 else None


def _epoch(value):
    seconds = _int(value)
    if not seconds or seconds < 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
