"""Plex adapter: reads a music section in pages of raw XML elements.

plexapi's Track objects re-fetch an item whenever code reads an attribute that
the listing left empty (genres, year, an unrated track's userRating), turning
one sync into one request per track. So this module only uses plexapi for the
connection and its error mapping, and reads the listing elements' attributes
itself. Genres and year live on albums in Plex listings: the album and artist
listings are read once up front and joined on parentRatingKey.

Listings show only the first two tags of a kind: an item listing two (or more) genres
may have more, so those items, and only those, are read again by key, a few hundred
to a request. A track's genres are its own when it has any (newer servers hold them:
they describe that recording, e.g. a metal song on a pop compilation), else its
album's, else its album artist's.

Every listing is paged by stable_pages(), so a library edited during a sync is neither
skipped nor doubled; all but the change listings are sorted by id (ratingKey, immutable).
Change listings are filtered by date and sorted newest first, so a server that ignores the
filter is read only down to the last sync's mark. Deletions are found by counting: tracks
added in ranges of dates, or each album's tracks (its leafCount).
"""

import bisect
import logging
from collections import Counter, defaultdict, deque
from urllib.parse import quote, urlencode

from plexapi.server import PlexServer

from library.sources.base import (
    MediaSource,
    PlaylistRef,
    ServerInfo,
    SourceError,
    from_epoch,
    pick_library,
    plausible_year,
    read_all,
    recording_id,
    stable_pages,
    text_number,
    undo_on_failure,
)
from library.sources.http import ServerSession
from library.vocab import ErrorKind

log = logging.getLogger(__name__)

# Plex type numbers for /library/sections/{id}/all?type=N
_ARTIST, _ALBUM, _TRACK = 8, 9, 10
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
# Items read again by key, a request's worth at a time (keys of up to 8 digits stay
# under MediaSource.max_url_chars).
_KEYS_PER_REQUEST = 500
# A listing shows this many tags of a kind at most (python-plexapi #200, #249); an item
# showing that many may have more. Subformat carries "Live".
_LISTED_TAGS = 2
_CUT_KINDS = ("Genre", "Subformat")
# A rewrite that would cost this many requests more than clearing the playlist and adding
# it all again clears and refills it instead: a reshuffle or a new selection, where nearly
# every entry would be removed or moved one request each (a 5,000-track reshuffle: 5,000
# requests, against 10). The playlist is then empty for the few requests the refill takes,
# and put back as it was if one fails.
_REFILL_SAVING = 50
# An entry just added, whose playlistItemID Plex does not answer with.
_NEW = object()
_CHANGE_FILTERS = ("updatedAt", "lastRatedAt", "lastViewedAt", "album.updatedAt", "artist.updatedAt")
_LEVELS = {"track": _TRACK, "album": _ALBUM, "artist": _ARTIST}
# Albums slimmed to their key and track count (a server may ignore the hints).
# Tracks by key with their external ids (Guid tags: the MusicBrainz recording id).
_WITH_GUIDS = "&includeGuids=1"
_COUNTS_ONLY = "&excludeElements=Genre,Subformat,Mood,Style&includeFields=ratingKey,leafCount"


def _as_query(hints):
    """ "&a=1&b=2" hints as the query string of a path that has none: "?a=1&b=2"."""
    return f"?{hints[1:]}" if hints else ""


class PlexSource(MediaSource):
    name = "plex"
    label = "Plex"
    counts_added = True
    counts_albums = True
    setting_names = {
        "url": "PLEX_URL",
        "token": "PLEX_TOKEN",
        "library": "PLEX_LIBRARY",
        "timeout": "PLEX_TIMEOUT",
    }

    def __init__(self, url, token, library="", timeout=30):
        super().__init__(ServerSession(url, "Plex", "the token", "PLEX_TOKEN", timeout))
        self.url = url
        self._token = token
        self._library = library
        self._timeout = timeout
        self._server = None
        self._section_key = None
        self._track_total = None
        self._albums = self._artists = None

    def _call(self, fn, what):
        return self._session.call(fn, what)

    def _query(self, path, what, start=None, size=None):
        headers = {}
        if start is not None:
            headers = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(size)}
        data = self._call(lambda: self._server.query(path, headers=headers), what)
        if data is None:
            raise self._session.error(ErrorKind.BAD_RESPONSE, f"sent an empty answer for {what}.")
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
            server_time=self._session.server_time,
        )

    def count_tracks(self):
        data = self._query(self._listing(_TRACK), "the track count", start=0, size=0)
        self._track_total = text_number(data.attrib.get("totalSize")) or 0
        return self._track_total

    def prepare(self, page_size):
        """Read every album and artist once, for the genres and years tracks lack, then
        again by key the few whose listed tags may have been cut short."""
        self._artists, cut_artists = {}, set()
        for page in self._pages(_ARTIST, "Directory", page_size, "artists"):
            self._add_artists(page)
            cut_artists.update(el.attrib.get("ratingKey") for el in page if _maybe_cut(el))
        self._albums, cut_albums = {}, []
        for page in self._pages(_ALBUM, "Directory", page_size, "albums"):
            self._add_albums(page)
            cut_albums += [el.attrib.get("ratingKey") for el in page if _maybe_cut(el)]
        self._add_albums(self._metadata(cut_albums, "albums"))
        # An artist's genres matter only to its albums that have none.
        bare = {artist for _, genres, _, artist in self._albums.values() if not genres}
        self._add_artists(self._metadata(bare & cut_artists, "artists"))

    def _add_artists(self, elements):
        for el in elements:
            self._artists[el.attrib.get("ratingKey")] = _tags(el, "Genre")

    def _add_albums(self, elements):
        for el in elements:
            a = el.attrib
            live = "live" in (t.lower() for t in _tags(el, "Subformat"))
            artist = a.get("parentRatingKey")
            self._albums[a.get("ratingKey")] = (_year(a.get("year")), _tags(el, "Genre"), live, artist)

    def _load_albums(self, tracks):
        """The albums (and their artists) of these tracks that this sync has not
        read yet, fetched by key: a few requests for the handful of albums an
        incremental sync meets, where the whole album listing is dozens."""
        if self._albums is None:
            self._albums, self._artists = {}, {}
        albums = {t.attrib.get("parentRatingKey") for t in tracks} - self._albums.keys()
        albums = self._metadata(albums, "albums")
        artists = {a.attrib.get("parentRatingKey") for a in albums} - self._artists.keys()
        self._add_artists(self._metadata(artists, "artists"))
        self._add_albums(albums)

    def _metadata(self, keys, what, hints=""):
        """Items by key, in full (every tag) unless `hints` slim them, a few hundred to a
        request (tracks with `&includeGuids=1`, for their MusicBrainz recording id)."""
        found = []
        query = _as_query(hints)
        for chunk in self._chunks(sorted(k for k in keys if k)):
            try:
                data = self._query(f"/library/metadata/{','.join(chunk)}{query}", what)
            except SourceError as exc:
                if exc.kind != ErrorKind.NOT_FOUND:  # all gone since: nothing to add
                    raise
                continue
            found += [el for el in data if el.tag in ("Directory", "Track")]
        return found

    def _complete(self, tracks):
        """These track elements with every genre: those whose listing may have cut
        them short, read again by key (one that has gone since is dropped)."""
        complete, cut = _split_cut(tracks)
        keys = [el.attrib.get("ratingKey") for el in cut]
        return complete + self._metadata(keys, "tracks", _WITH_GUIDS) if keys else complete

    def track_pages(self, page_size):
        """Yield lists of track dicts. Tracks whose genres may be cut short wait until a
        request's worth of them is read again by key."""
        if self._albums is None:
            self.prepare(page_size)
        waiting = []
        for page in self._pages(_TRACK, "Track", page_size, "tracks", guids=True):
            complete, cut = _split_cut(page)
            waiting += cut
            if len(waiting) >= _KEYS_PER_REQUEST:
                complete, waiting = complete + self._complete(waiting), []
            if complete:
                yield [self._track(el) for el in complete]
        if waiting:
            yield [self._track(el) for el in self._complete(waiting)]

    def track_keys(self, page_size, extra=""):
        """Yield lists of every track's key, from listings slimmed to what
        spotting deletions needs (Plex has no feed of deleted items)."""
        for page in self._pages(_TRACK, "Track", page_size, "track keys", _KEYS_ONLY + extra):
            yield [el.attrib.get("ratingKey", "") for el in page]

    def count_added(self, start, end):
        data = self._query(self._listing(_TRACK, _added(start, end)), "a track count", start=0, size=0)
        return text_number(data.attrib.get("totalSize")) or 0

    def added_track_keys(self, start, end, page_size):
        return self.track_keys(page_size, _added(start, end))

    def album_track_counts(self, page_size):
        for page in self._pages(_ALBUM, "Directory", page_size, "album track counts", _COUNTS_ONLY):
            yield [(el.attrib.get("ratingKey", ""), text_number(el.attrib.get("leafCount"))) for el in page]

    def present_track_keys(self, keys):
        return {el.attrib.get("ratingKey") for el in self._metadata(keys, "tracks", _KEYS_ONLY)}

    def changed_track_pages(self, since, page_size):
        """Yield lists of track dicts for tracks that may have changed after
        `since` (epoch seconds, by the server's clock): edited or added tracks,
        new ratings and plays (which need not move updatedAt), and tracks whose
        album or artist changed (their genres and year live there). A track may
        come more than once. Each listing is filtered and sorted newest first: a
        server that ignores the filter is read down to the first older item."""
        self.ignored_filters = []
        # Pages of the five listings are pooled up to page_size, so their albums
        # are looked up together.
        pending = []
        for elements in self._changed(since, page_size):
            pending += elements
            if len(pending) >= page_size:
                yield self._tracks_with_albums(pending)
                pending = []
        if pending:
            yield self._tracks_with_albums(pending)

    def _changed(self, since, page_size):
        """Pages of track elements that may have changed after `since`, listing by listing."""
        for field in _CHANGE_FILTERS:
            level, _, attr = field.rpartition(".")
            if not level:
                yield from self._newer(_TRACK, f"track.{attr}", since, page_size)
            # A server that ignored one filter likely ignores this one too: ask no
            # listing of the whole library to find out.
            elif self.ignored_filters or not (yield from self._newer(_TRACK, field, since, page_size)):
                yield from self._children_of_newer(_LEVELS[level], f"{level}.{attr}", since, page_size)

    def _newer(self, plex_type, name, since, page_size):
        """Pages of items whose `name` is after `since`. True when done; False when the
        server ignored the filter on a date the items do not carry (their album's), which
        no sort of them can stand in for. A server ignoring the filter on the items' own
        date is read newest first down to the first older item (the filter goes into
        `ignored_filters`); one ignoring the sort too raises FILTER_IGNORED."""
        level, _, attr = name.rpartition(".")
        tag = "Track" if plex_type == _TRACK else "Directory"
        extra = f"&{quote(name + '>>', safe='.')}={since}"
        if _LEVELS[level] != plex_type:
            try:
                changed = self._pages(
                    plex_type, tag, page_size, "changed tracks", extra, self._whole, guids=plex_type == _TRACK
                )
                for page in changed:
                    yield page
            except _Ignored:
                self._ignored(name)
                return False
            return True
        totals, what, newest_first = [], f"changed {level}s", f"{attr}:desc,id"
        pages = self._pages(
            plex_type, tag, page_size, what, extra, totals.append, newest_first, guids=plex_type == _TRACK
        )
        for page in pages:
            # Albums and artists are listed so only once a filter was ignored.
            if plex_type == _TRACK and not _is_whole(totals[-1], self._track_total):
                yield page
                continue
            if name not in self.ignored_filters:
                self._ignored(name)
            # Items without the date (a rating taken back) count as changed.
            dates = [text_number(el.attrib.get(attr)) for el in page]
            dated = [date for date in dates if date]
            if any(a < b for a, b in zip(dated, dated[1:], strict=False)):
                raise self._session.error(
                    ErrorKind.FILTER_IGNORED,
                    f"listed every {level} as changed ({name}), unsorted: it ignores the filter and sort.",
                )
            older = next((i for i, date in enumerate(dates) if date and date <= since), None)
            # A page without any date is the undated tail (tracks never rated or played).
            if older is not None or not dated:
                yield page[:older]
                return True
            yield page
        return True

    def _children_of_newer(self, plex_type, name, since, page_size):
        """Pages of the tracks of the albums (or artists) changed after `since`, for a
        server ignoring the filter that would list those tracks: the albums by sort,
        then each one's tracks."""
        parents = [
            el.attrib.get("ratingKey")
            for page in self._newer(plex_type, name, since, page_size)
            for el in page
        ]
        if plex_type == _ARTIST:
            albums = (self._children(key, "Directory", "an artist's albums") for key in parents)
            parents = [el.attrib.get("ratingKey") for page in albums for el in page]
        for key in parents:
            if tracks := self._children(key, "Track", "an album's tracks"):
                yield tracks

    def _children(self, key, tag, what):
        try:
            query = _as_query(_WITH_GUIDS if tag == "Track" else "")
            data = self._query(f"/library/metadata/{key}/children{query}", what)
        except SourceError as exc:
            if exc.kind != ErrorKind.NOT_FOUND:  # gone since: nothing to read
                raise
            return []
        return [el for el in data if el.tag == tag]

    def _whole(self, total):
        """Raises _Ignored for a change listing of items that cannot be sorted by the
        filtered date: paging through the whole library would cost more than a full sync."""
        if _is_whole(total, self._track_total):
            raise _Ignored

    def _ignored(self, name):
        log.warning("Plex ignores the %s filter: listing by date instead", name)
        self.ignored_filters.append(name)

    def _tracks_with_albums(self, elements):
        elements = self._complete(elements)
        self._load_albums(elements)
        return [self._track(el) for el in elements]

    # -- playlists --------------------------------------------------------------
    # Keys travel in the URL, chunked under the URL limit, so N tracks cost about N/600
    # requests. Plex removes and moves entries (playlistItemID, not the track's key) one
    # request each, and adds only at the end: a rewrite adds what is missing first (never
    # less than the old playlist on the server), removes what is unwanted, then moves the
    # entries out of place after their new neighbour, unless that would cost far more
    # than clearing and refilling it (_REFILL_SAVING).

    def list_playlists(self):
        """The audio playlists MediaSage may write to (not smart, read-only or special ones)."""
        self._connect_server()
        data = self._query("/playlists?playlistType=audio", "playlists")
        refs = [_playlist_ref(el) for el in data if el.tag == "Playlist"]
        return [ref for ref in refs if ref.writable]

    def playlist_url(self, playlist_id):
        """Plex Web's page for the playlist, served by the server itself."""
        key = quote(f"/playlists/{playlist_id}", safe="")
        return f"{self.url}/web/index.html#!/server/{self._server.machineIdentifier}/playlist?key={key}"

    def _create(self, title, keys, summary):
        self._connect_server()
        chunks = list(self._chunks(keys)) or [[]]
        query = urlencode({"type": "audio", "title": title, "smart": 0, "uri": self._uri(chunks[0])})
        data = self._call(
            lambda: self._server.query(f"/playlists?{query}", method=self._session.post), "the new playlist"
        )
        created = next((el for el in data if el.tag == "Playlist"), None) if data is not None else None
        if created is None:
            raise self._session.error(ErrorKind.BAD_RESPONSE, "did not return the new playlist.")
        playlist_id = created.attrib["ratingKey"]
        path = f"/playlists/{playlist_id}"
        with undo_on_failure(lambda: self._server.query(path, method=self._session.delete)):
            for chunk in chunks[1:]:
                self._put_items(playlist_id, chunk)
            if summary:
                self.set_playlist_summary(playlist_id, summary)
        return playlist_id

    def set_playlist_summary(self, playlist_id, summary):
        """Plex's summary field, locked as plexapi's editSummary leaves it (so a metadata
        refresh does not replace it)."""
        self._connect_server()
        query = urlencode({"summary.value": _fitted(summary, self.max_url_chars), "summary.locked": 1})
        self._call(
            lambda: self._server.query(f"/playlists/{_id(playlist_id)}?{query}", method=self._session.put),
            "the playlist's summary",
        )

    def read_playlist(self, playlist_id):
        """[(playlistItemID, ratingKey)] of a playlist Plex lets apps change, in order."""
        self._connect_server()
        data = self._query(f"/playlists/{_id(playlist_id)}", f"playlist {playlist_id!r}")
        el = next((el for el in data if el.tag == "Playlist"), None)
        if el is None:
            raise self._session.error(ErrorKind.NOT_FOUND, f"has no playlist {playlist_id!r}.")
        if why := _playlist_ref(el).unwritable:
            title = el.attrib.get("title", playlist_id)
            raise SourceError(ErrorKind.READ_ONLY, f"{title!r} is {why}: Plex does not let apps change it.")
        return read_all(lambda start, size: self._items(playlist_id, start, size))

    def _items(self, playlist_id, start, size):
        """([(playlistItemID, ratingKey)], total) of a page of a playlist's entries."""
        data = self._query(f"/playlists/{_id(playlist_id)}/items", "the playlist", start=start, size=size)
        tracks = [el.attrib for el in data if el.tag == "Track"]
        entries = [(a.get("playlistItemID"), a["ratingKey"]) for a in tracks]
        return entries, text_number(data.attrib.get("totalSize"))

    def _rewrite(self, playlist_id, entries, keys):
        self._connect_server()  # `entries` may come from another adapter's read
        # Each wanted key keeps the first entry holding it; every other entry goes.
        holding = defaultdict(deque)
        for entry, key in entries:
            holding[key].append(entry)
        slot = {}  # kept entry -> its index in `keys`
        new = []
        for i, key in enumerate(keys):
            if holding[key]:
                slot[holding[key].popleft()] = i
            else:
                new.append(i)
        # Plex appends: the kept entries in their old order, then the new ones in order.
        placed = [(entry, slot[entry]) for entry, _ in entries if entry in slot] + [(_NEW, i) for i in new]
        moves = _moves(placed)
        learn = any(_NEW in move for move in moves)  # a new entry moves or is moved after: learn its id
        added = [keys[i] for i in new]
        in_place = len(entries) - len(slot) + len(list(self._chunks(added))) + learn + len(moves)
        if in_place > 1 + len(list(self._chunks(keys))) + _REFILL_SAVING:
            self._refill(playlist_id, keys)
            return
        self._put_all(playlist_id, added)
        for entry, _ in entries:
            if entry not in slot:
                self._call(lambda entry=entry: self._delete_item(playlist_id, entry), "the playlist")
        if learn:
            placed = placed[: len(slot)] + self._named(playlist_id, keys, new, len(slot))
            moves = _moves(placed)
        for entry, after in moves:
            self._move(playlist_id, entry, after)

    def _refill(self, playlist_id, keys):
        """Clear the playlist (one request), then add `keys`."""
        self._call(
            lambda: self._server.query(f"/playlists/{_id(playlist_id)}/items", method=self._session.delete),
            "the playlist",
        )
        self._put_all(playlist_id, keys)

    def _named(self, playlist_id, keys, new, kept):
        """[(entry, index in `keys`)] of the entries just added for keys[i] for i in `new`:
        the playlist's last ones, after the `kept` entries (Plex skips a key it no longer
        has, so some may be missing)."""
        waiting = defaultdict(deque)
        for i in new:
            waiting[keys[i]].append(i)
        added, _ = self._items(playlist_id, kept, len(new))
        return [(entry, waiting[key].popleft()) for entry, key in added if waiting[key]]

    def _move(self, playlist_id, entry, after):
        """Put an entry right after another one (`after`), or first (None)."""
        path = f"/playlists/{_id(playlist_id)}/items/{entry}/move"
        if after is not None:
            path += f"?after={after}"
        self._call(lambda: self._server.query(path, method=self._session.put), "the playlist's order")

    def _uri(self, keys):
        return f"server://{self._server.machineIdentifier}/com.plexapp.plugins.library/library/metadata/{','.join(keys)}"

    def _put_all(self, playlist_id, keys):
        for chunk in self._chunks(keys):
            self._put_items(playlist_id, chunk)

    def _put_items(self, playlist_id, keys):
        query = urlencode({"uri": self._uri(keys)})
        self._call(
            lambda: self._server.query(f"/playlists/{playlist_id}/items?{query}", method=self._session.put),
            "the playlist",
        )

    def _delete_item(self, playlist_id, item):
        self._server.query(f"/playlists/{playlist_id}/items/{item}", method=self._session.delete)

    # -- helpers ----------------------------------------------------------------

    def _listing(self, plex_type, extra="", sort="id", guids=False):
        """A section listing's path; `guids` asks for each item's external ids (Guid tags),
        where a track's MusicBrainz recording id is."""
        return (
            f"/library/sections/{self._section_key}/all?type={plex_type}"
            f"&includeGuids={int(guids)}&sort={sort}{extra}"
        )

    def _pages(self, plex_type, tag, page_size, what, extra="", check_total=None, sort="id", guids=False):
        def fetch(start, size):
            data = self._query(self._listing(plex_type, extra, sort, guids), what, start=start, size=size)
            total = text_number(data.attrib.get("totalSize"))
            if check_total:
                check_total(total)
            return [el for el in data if el.tag == tag], total

        return stable_pages(fetch, lambda el: el.attrib.get("ratingKey"), page_size)

    def _track(self, el):
        a = el.attrib
        album = self._albums.get(a.get("parentRatingKey"), (None, (), False, None))
        album_year, album_genres, album_live, artist = album
        album_artist = a.get("grandparentTitle", "")
        rating = text_number(a.get("userRating"), float)
        return {
            "rating_key": a.get("ratingKey", ""),
            "title": a.get("title", ""),
            "artist": a.get("originalTitle") or album_artist,
            "artists": [a.get("originalTitle") or album_artist],
            "album_artist": album_artist,
            "album": a.get("parentTitle", ""),
            "album_key": a.get("parentRatingKey", ""),
            "track_number": text_number(a.get("index")),
            "disc_number": text_number(a.get("parentIndex")),
            "duration_ms": text_number(a.get("duration")),
            "year": _year(a.get("parentYear")) or _year(a.get("year")) or album_year,
            "genres": list(_tags(el, "Genre") or album_genres or self._artists.get(artist, ())),
            "user_rating": None if rating is None else max(0, min(10, round(rating))),
            "play_count": text_number(a.get("viewCount")) or 0,
            "last_played_at": from_epoch(text_number(a.get("lastViewedAt"))),
            "added_at": from_epoch(text_number(a.get("addedAt"))),
            "server_updated_at": from_epoch(text_number(a.get("updatedAt"))),
            "recording_mbid": _recording_mbid(el),
            "server_says_live": album_live,
        }


def _is_whole(total, library_total):
    """Whether a change listing holds the whole library: the server ignored its filter."""
    return bool(total and library_total and total >= library_total)


class _Ignored(Exception):
    """A change listing answered the whole library: the server ignored its filter."""


def _added(start, end):
    """Filters for start <= addedAt < end (None: unbounded); Plex's >> and << are strict."""
    bounds = [("addedAt>>", None if start is None else start - 1), ("addedAt<<", end)]
    return "".join(f"&{quote(name)}={value}" for name, value in bounds if value is not None)


def _recording_mbid(el):
    """The MusicBrainz recording id among a track's Guid tags (includeGuids=1): Plex
    writes `mbid://<uuid>` (some servers `mbid://recording/<uuid>`) beside other agents'
    ids such as `plex://track/…` or `local://…`."""
    for child in el:
        if child.tag != "Guid":
            continue
        scheme, _, rest = child.attrib.get("id", "").partition("://")
        kind, _, value = rest.rpartition("/")
        if scheme == "mbid" and kind in ("", "recording") and (mbid := recording_id(value)):
            return mbid
    return ""


def _maybe_cut(el):
    """Whether a listed item shows as many tags of a kind as a listing shows at most."""
    counts = Counter(child.tag for child in el)
    return any(counts[kind] >= _LISTED_TAGS for kind in _CUT_KINDS)


def _split_cut(elements):
    """(elements whose tags are complete, elements whose tags may be cut short)."""
    complete, cut = [], []
    for el in elements:
        (cut if _maybe_cut(el) else complete).append(el)
    return complete, cut


def _playlist_ref(el):
    """A Playlist element as a PlaylistRef, saying why Plex refuses to let apps change it."""
    a = el.attrib
    unwritable = ""
    if a.get("smart") == "1":
        unwritable = "a smart playlist"
    elif a.get("readOnly") == "1" or a.get("specialPlaylistType"):
        unwritable = "a read-only playlist"
    return PlaylistRef(a["ratingKey"], a.get("title", ""), text_number(a.get("leafCount")) or 0, unwritable)


def _in_order(positions):
    """Indexes of a longest increasing run (not necessarily contiguous) of `positions`:
    the items that can stay where they are while the others move around them."""
    tails, tail_at, before = [], [], [None] * len(positions)
    for i, position in enumerate(positions):
        n = bisect.bisect_left(tails, position)
        before[i] = tail_at[n - 1] if n else None
        if n == len(tails):
            tails.append(position)
            tail_at.append(i)
        else:
            tails[n], tail_at[n] = position, i
    kept, i = set(), tail_at[-1] if tail_at else None
    while i is not None:
        kept.add(i)
        i = before[i]
    return kept


def _moves(placed):
    """The moves, as [(entry, entry to put it after, or None for first)], that put a
    playlist's [(entry, wanted index)] in order, moving only entries out of place.
    Done in wanted order, each entry lands right after its wanted predecessor, which is
    in place by then."""
    stay = _in_order([i for _, i in placed])
    moves, previous = [], None
    for j in sorted(range(len(placed)), key=lambda j: placed[j][1]):
        if j not in stay:
            moves.append((placed[j][0], previous))
        previous = placed[j][0]
    return moves


def _fitted(text, limit):
    """`text`, cut short (ending in "…") when it takes more than `limit` characters in a
    URL, where Plex wants it: a long or non-Latin summary would otherwise get 414."""
    if len(quote(text)) <= limit:
        return text
    fits = bisect.bisect_right(range(len(text)), limit, key=lambda n: len(quote(text[:n] + "…")))
    return text[: fits - 1] + "…"


def _id(playlist_id):
    return quote(str(playlist_id), safe="")


def _tags(el, tag):
    return tuple(child.attrib["tag"] for child in el if child.tag == tag and child.attrib.get("tag"))


def _year(value):
    return plausible_year(text_number(value))
