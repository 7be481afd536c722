"""A fake Plex Media Server that the real plexapi client talks to over real HTTP.

Built to the wire format in shared/reference/media-servers.md and to what plexapi 4.18
requests and parses, so code that works against this should work against a real Plex:
XML by default, JSON on `Accept: application/json`, paging from headers or query
parameters, a token on every request but /identity, playlists as plexapi makes them, and
switchable faults (errors, hangs, dropped connections, malformed pages) for the sync code.

It also reproduces what real servers do that is inconvenient (see "Traps found by reading
real captured responses" in shared/reference/media-servers.md): listings carry only the
first two tags of a kind (read by key, items carry all), tracks may hold genres of their
own, listings come in Plex's default order unless sorted, the server ships smart and
read-only playlists that refuse writes, playlist entries are removed and moved by their
playlistItemID (never the track's ratingKey; a move without `after` puts the entry
first; adds only append), and switches make it ignore filters (`ignore_filters`), sorts
(`ignore_sort`) or field-slimming hints (`ignore_field_hints`), as some servers do.
Albums carry `leafCount` (their tracks), as Plex's do.

    with FakePlexServer(library=FakeLibrary(tracks=500)) as server:
        plex = plexapi.server.PlexServer(server.url, server.token)

Standard library only; no Django.
"""

import itertools
import json
import random
import re
import time
import traceback
import uuid
from collections import Counter
from urllib.parse import parse_qsl, urlsplit

from .plexdata import EPOCH, UNTAGGED_EVERY, FakeLibrary, recording_mbid
from .server import FakeServer, Faults, _HttpError, status_phrase

__all__ = ["FakeLibrary", "FakePlaylist", "FakePlexServer", "Faults"]

VERSION = "1.41.3.9314-a0bfb8370"
MUSIC_SECTION = 3
MOVIE_SECTION = 1  # an empty second section, so clients have to pick the music one
_TYPES = {8: "artist", 9: "album", 10: "track"}
_LIBRARY_ATTRS = [
    ("identifier", "com.plexapp.plugins.library"),
    ("mediaTagPrefix", "/system/bundle/media/flags/"),
    ("mediaTagVersion", 1734362997),
]
_XML_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)
# Filters as plexapi sends them: `track.updatedAt>>=N` is key "track.updatedAt>>", value N.
_FILTER = re.compile(r"(?:(artist|album|track)\.)?(addedAt|updatedAt|lastRatedAt|lastViewedAt)(>>|<<)")
_FILTER_ATTRS = {
    "addedAt": "added_at",
    "updatedAt": "updated_at",
    "lastRatedAt": "last_rated_at",
    "lastViewedAt": "last_viewed_at",
}
_RELATIVE_DATE = re.compile(r"-?(\d+)(mon|[smhdwy])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mon": 30 * 86400, "y": 365 * 86400}
_PLAYLIST_URI = re.compile(r"server://([^/]+)/com\.plexapp\.plugins\.library/library/metadata/([\d,]*)")
# A listing shows only this many tags of a kind; an item read by key shows all
# (python-plexapi issues #200 and #249).
LISTED_TAGS = 2
# Sort keys python-plexapi knows for music, on the item or (with a prefix) its parent.
_SORT_ATTRS = {
    "addedAt": "added_at",
    "updatedAt": "updated_at",
    "index": "index",
    "year": "year",
    "originallyAvailableAt": "year",
    "userRating": "user_rating",
    "viewCount": "view_count",
    "lastViewedAt": "last_viewed_at",
    "lastRatedAt": "last_rated_at",
    "duration": "duration_ms",
}
_SORTS = ["titleSort", "id", "random", *_SORT_ATTRS]


def _compare(value, op, limit):
    return value is not None and (value > limit if op == ">>" else value < limit)


class FakePlaylist:
    """A playlist. A smart one has a `rule` (library -> tracks) instead of entries; smart,
    read-only and special playlists refuse every write, as on Plex."""

    def __init__(self, key, title, now, rule=None, read_only=False, special_type=None):
        self.key = key
        self.title = title
        self.summary = ""
        self.entries = []  # [playlistItemID, ratingKey] pairs, in playlist order
        self.added_at = self.updated_at = now
        self.rule = rule
        self.read_only = read_only
        self.special_type = special_type

    @property
    def smart(self):
        return self.rule is not None

    @property
    def writable(self):
        return not (self.smart or self.read_only or self.special_type)

    def listed(self, library):
        """[(playlistItemID or None, Track)] as the items listing shows them: smart items
        have no playlistItemID, and tracks since removed are not shown."""
        if self.smart:
            return [(None, t) for t in self.rule(library)]
        return [(item_id, library.tracks[k]) for item_id, k in self.entries if k in library.tracks]

    @property
    def items(self):
        """The ratingKeys in order, as stored (clients don't see tracks since removed)."""
        return [key for _, key in self.entries]


class FakePlexServer(FakeServer):
    """A Plex server on a real port, served from daemon threads: start()/stop(), or `with`.

    For assertions: `requests` counts (method, route pattern), never the token;
    `track_pages` counts successful track pages; `playlists` holds what clients made, and
    `builtin_playlists` the smart and read-only ones every server ships.
    Flip `faults` to misbehave; set `machine_identifier` to become a different server.
    Request lines longer than `max_url_length` get 414, as real servers do.

    `ignore_filters`: True answers every listing as if unfiltered; a set of names ignores
    those filters only ("track.lastRatedAt" that one, "lastRatedAt" at every level).
    `refused_filters`: names of filters answered 400, as a server version that does not
    know them ("lastRatedAt" at every level, "track.lastRatedAt" that one only).
    `ignore_field_hints`: True ignores excludeFields and includeFields.
    `ignore_sort`: True answers listings in the default order whatever `sort` asks.
    """

    thread_name = "fakeplex"

    def __init__(
        self,
        library=None,
        token="fake-plex-token",
        host="127.0.0.1",
        port=0,
        machine_identifier="fakeplex-0001",
        section_title="Music",
    ):
        super().__init__(library or FakeLibrary(), host, port)
        self.token = token
        self.machine_identifier = machine_identifier
        self.section_title = section_title
        self.friendly_name = "MediaSage Fake Plex"
        self.ignore_filters = False
        self.refused_filters = set()
        self.ignore_field_hints = False
        self.ignore_sort = False
        self.playlists: dict[int, FakePlaylist] = {}
        self._next_item_id = 1001
        self.builtin_playlists = {p.key: p for p in self._builtins()}

    # -- request handling -----------------------------------------------------------------------

    def _serve(self, handler):
        """Answer one request on `handler` (a BaseHTTPRequestHandler)."""
        if length := int(handler.headers.get("Content-Length") or 0):
            handler.rfile.read(length)
        parts = urlsplit(handler.path)
        path = parts.path.rstrip("/") or "/"
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        req = _Request(handler, query, field_hints=not self.ignore_field_hints)
        route, method, args = _route(handler.command, path)
        self._count(handler.command, route)
        if self._too_long(handler):
            return _send_error(handler, 414)
        if route != "/identity":
            if self.faults.status:
                return _send_error(handler, self.faults.status)
            if req.header_or_param("X-Plex-Token") != self.token:
                return _send_error(handler, 401)
        if method is None:
            return _send_error(handler, 404)

        try:
            page = (
                route == "/library/sections/{id}/all"
                and req.query.get("type") == "10"
                and req.paging()[1] != 0
            )
            fault = self._page_fault() if page else None
            if fault == "fail":
                return _send_error(handler, 500)
            if self._dropped_or_hung(handler, fault):
                return None
            with self.library.lock:  # held while rendering too: items are rendered as they stream
                body, content_type = _render(getattr(self, method)(req, *args), req.wants_json)
        except _HttpError as e:
            return _send_error(handler, e.status)
        except Exception:
            traceback.print_exc()
            return _send_error(handler, 500)

        if fault == "malformed":
            body = body[: len(body) // 2]
        elif page:
            with self._count_lock:
                self.track_pages += 1
        _send(handler, 200, body, content_type)
        if page and fault != "malformed" and self.on_track_page:
            self.on_track_page([t.rating_key for t in self._last_page])
        return None

    # -- routes (see _ROUTES); each returns a MediaContainer element or None for an empty 200 ----

    def _get_root(self, req):
        attrs = [
            ("size", 0),
            ("allowSync", 1),
            ("friendlyName", self.friendly_name),
            ("machineIdentifier", self.machine_identifier),
            ("multiuser", 1),
            ("myPlex", 1),
            ("myPlexMappingState", "mapped"),
            ("myPlexSigninState", "ok"),
            ("myPlexSubscription", 1),
            ("myPlexUsername", "demo@example.invalid"),
            ("platform", "Linux"),
            ("platformVersion", "6.1.0"),
            ("transcoderActiveVideoSessions", 0),
            ("transcoderAudio", 1),
            ("updatedAt", EPOCH),
            ("version", VERSION),
        ]
        return _el("MediaContainer", attrs)

    def _get_identity(self, req):
        attrs = [("size", 0), ("apiVersion", "1.1.1"), ("claimed", 1)]
        return _el(
            "MediaContainer", [*attrs, ("machineIdentifier", self.machine_identifier), ("version", VERSION)]
        )

    def _get_library(self, req):
        dirs = [
            ("sections", "Library Sections"),
            ("recentlyAdded", "Recently Added Content"),
            ("onDeck", "On Deck"),
        ]
        attrs = [
            ("size", len(dirs)),
            ("allowSync", 0),
            *_LIBRARY_ATTRS,
            ("title1", "Plex Library"),
            ("title2", ""),
        ]
        return _el("MediaContainer", attrs, [_el("Directory", [("key", k), ("title", t)]) for k, t in dirs])

    def _get_sections(self, req):
        sections = [
            (MOVIE_SECTION, "movie", "Movies", "tv.plex.agents.movie", "Plex Movie", "/data/movies"),
            (
                MUSIC_SECTION,
                "artist",
                self.section_title,
                "tv.plex.agents.music",
                "Plex Music",
                "/data/music",
            ),
        ]
        items = []
        for key, kind, title, agent, scanner, location in sections:
            attrs = [
                ("allowSync", 1),
                ("art", f"/:/resources/{kind}-fanart.jpg"),
                ("composite", f"/library/sections/{key}/composite/{EPOCH}"),
                ("filters", 1),
                ("refreshing", 0),
                ("thumb", f"/:/resources/{kind}.png"),
                ("key", str(key)),
                ("type", kind),
                ("title", title),
                ("agent", agent),
                ("scanner", scanner),
                ("language", "en-US"),
                ("uuid", self._section_uuid(key)),
                ("updatedAt", EPOCH),
                ("createdAt", EPOCH - 5 * 365 * 86400),
                ("scannedAt", EPOCH),
                ("content", 1),
                ("directory", 1),
                ("contentChangedAt", EPOCH),
                ("hidden", 0),
            ]
            items.append(_el("Directory", attrs, [_el("Location", [("id", key), ("path", location)])]))
        return _el("MediaContainer", [("size", 2), ("allowSync", 0), ("title1", "Plex Library")], items)

    def _get_section_all(self, req, section_id):
        section_id = int(section_id)
        if section_id not in (MUSIC_SECTION, MOVIE_SECTION):
            raise _HttpError(404)
        libtype = _int(req.query.get("type", "8"))
        if libtype not in _TYPES:
            raise _HttpError(400)
        objects = list(self._objects(libtype)) if section_id == MUSIC_SECTION else []
        objects = self._filtered(objects, libtype, req.query)
        if req.paging()[1] != 0:  # a count needs no order
            objects = self._sorted(objects, libtype, None if self.ignore_sort else req.query.get("sort"))
        if "limit" in req.query:
            objects = objects[: _int(req.query["limit"])]
        items, attrs = self._page(req, objects)
        # A generator: each item is rendered and freed in turn, which keeps a big page from
        # filling the garbage collector's old generation (and its pauses) with short-lived tuples.
        items = (self._item_el(libtype, o, req, listed=True) for o in items)
        attrs += [
            ("allowSync", 1),
            *_LIBRARY_ATTRS,
            ("librarySectionID", section_id),
            ("librarySectionTitle", self.section_title),
            ("librarySectionUUID", self._section_uuid(section_id)),
            ("title1", self.section_title),
            ("title2", "All " + _TYPES[libtype].capitalize() + "s"),
            ("viewGroup", _TYPES[libtype]),
        ]
        meta = [self._meta()] if req.query.get("includeMeta") == "1" else []
        return _el("MediaContainer", attrs, itertools.chain(meta, items))

    def _get_section_collections(self, req, section_id):
        # plexapi reads the filter metadata of collections too; a music library without any.
        return _el("MediaContainer", [("size", 0), ("totalSize", 0), ("offset", 0)])

    def _get_metadata(self, req, keys):
        lib = self.library
        found = []
        for key in dict.fromkeys(int(k) for k in keys.split(",") if k):
            if key in lib.tracks:
                found.append((10, lib.tracks[key]))
            elif key in lib.albums:
                found.append((9, lib.albums[key]))
            elif key in lib.artists:
                found.append((8, lib.artists[key]))
        if not found:
            raise _HttpError(404)
        page, attrs = self._page(req, found)
        items = (self._item_el(libtype, o, req) for libtype, o in page)
        return _el("MediaContainer", attrs + [("allowSync", 1), *_LIBRARY_ATTRS], items)

    def _get_children(self, req, key):
        lib = self.library
        key = int(key)
        if key in lib.albums:
            libtype, children = 10, lib.album_tracks(key)
        elif key in lib.artists:
            libtype, children = 9, lib.artist_albums(key)
        else:
            raise _HttpError(404)
        page, attrs = self._page(req, children)
        items = (self._item_el(libtype, o, req, listed=True) for o in page)
        return _el("MediaContainer", attrs + [("allowSync", 1), *_LIBRARY_ATTRS, ("key", str(key))], items)

    def _get_playlists(self, req):
        title = req.query.get("title", "").casefold()
        wanted = req.query.get("playlistType", "audio") == "audio"
        every = [*self.builtin_playlists.values(), *self.playlists.values()]
        found = [p for p in every if wanted and title in p.title.casefold()]
        page, attrs = self._page(req, found)
        return _el("MediaContainer", attrs, [self._playlist_el(p) for p in page])

    def _post_playlists(self, req):
        q = req.query
        if q.get("type") != "audio" or q.get("smart", "0") != "0" or not q.get("title"):
            raise _HttpError(400)  # only regular audio playlists here, as plexapi creates them
        keys = self._uri_keys(q.get("uri", ""))
        playlist = FakePlaylist(self.library.take_key(), q["title"], int(time.time()))
        self._append(playlist, keys)
        self.playlists[playlist.key] = playlist
        return _el("MediaContainer", [("size", 1)], [self._playlist_el(playlist)])

    def _get_playlist(self, req, key):
        return _el("MediaContainer", [("size", 1)], [self._playlist_el(self._playlist(key))])

    def _put_playlist(self, req, key):
        playlist = self._writable(key)
        for field in ("title", "summary"):  # plexapi's edit() sends title=, editTitle() title.value=
            value = req.query.get(field, req.query.get(f"{field}.value"))
            if value is not None:
                setattr(playlist, field, value)
        playlist.updated_at = int(time.time())
        return None

    def _delete_playlist(self, req, key):
        del self.playlists[self._writable(key).key]
        return None

    def _get_playlist_items(self, req, key):
        playlist = self._playlist(key)
        page, attrs = self._page(req, playlist.listed(self.library))
        items = (
            self._track_el(t, req, in_section=False, extra=[] if i is None else [("playlistItemID", i)])
            for i, t in page
        )
        info = self._playlist_el(playlist)[1]
        keep = {"ratingKey", "title", "smart", "playlistType", "composite", "duration", "leafCount"}
        return _el("MediaContainer", attrs + [a for a in info if a[0] in keep], items)

    def _put_playlist_items(self, req, key):
        playlist = self._writable(key)
        self._playlist_fault("adds")
        keys = self._uri_keys(req.query.get("uri", ""))
        self._append(playlist, keys)
        attrs = [("size", 1), ("leafCountAdded", len(keys)), ("leafCountRequested", len(keys))]
        return _el("MediaContainer", attrs, [self._playlist_el(playlist)])

    def _delete_playlist_items(self, req, key):
        """Clear the playlist."""
        playlist = self._writable(key)
        playlist.entries = []
        playlist.updated_at = int(time.time())
        return _el("MediaContainer", [("size", 1)], [self._playlist_el(playlist)])

    def _delete_playlist_item(self, req, key, item_id):
        """Remove one entry, named by its playlistItemID (not the track's ratingKey)."""
        playlist = self._writable(key)
        entry = self._entry(playlist, item_id)
        self._playlist_fault("removes")
        playlist.entries.remove(entry)
        playlist.updated_at = int(time.time())
        return _el("MediaContainer", [("size", 1)], [self._playlist_el(playlist)])

    def _put_playlist_item_move(self, req, key, item_id):
        """Move an entry right after the entry `after` names, or first without one, as
        plexapi's Playlist.moveItem asks (both are playlistItemIDs)."""
        playlist = self._writable(key)
        entry = self._entry(playlist, item_id)
        after = req.query.get("after")
        anchor = self._entry(playlist, after) if after else None
        self._playlist_fault("moves")
        playlist.entries.remove(entry)
        at = playlist.entries.index(anchor) + 1 if anchor is not None and anchor is not entry else 0
        playlist.entries.insert(at, entry)
        playlist.updated_at = int(time.time())
        return _el("MediaContainer", [("size", 1)], [self._playlist_el(playlist)])

    # -- helpers -------------------------------------------------------------------------------

    def _section_uuid(self, key):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.machine_identifier}/library/sections/{key}"))

    def _objects(self, libtype):
        lib = self.library
        return {8: lib.artists, 9: lib.albums, 10: lib.tracks}[libtype].values()

    def _page(self, req, objects):
        """The requested slice of objects, and the container attributes that describe it."""
        start, size = req.paging()
        page = objects[start:] if size is None else objects[start : start + size]
        self._last_page = page  # for on_track_page
        return page, [("size", len(page)), ("totalSize", len(objects)), ("offset", start)]

    def _filtered(self, objects, libtype, query):
        lib = self.library
        for key, value in query.items():
            if self._ignores(key):
                continue
            if _named(key, self.refused_filters):
                raise _HttpError(400)
            if match := _FILTER.fullmatch(key):
                level, field, op = match.groups()
                attr = _FILTER_ATTRS[field]
                parent = {
                    ("album", 10): lambda t: lib.albums[t.album_key],
                    ("artist", 10): lambda t: lib.artists[t.artist_key],
                    ("artist", 9): lambda a: lib.artists[a.artist_key],
                }.get((level, libtype))
                if level not in (None, _TYPES[libtype]) and parent is None:
                    raise _HttpError(400)  # filtering on children's fields is not faked
                target = parent or (lambda o: o)
                limit = self._date(value)
                # Plex's ">>" and "<<" are strictly after and before. Albums and
                # artists carry no rating or play dates: an unset date matches nothing.
                objects = [o for o in objects if _compare(getattr(target(o), attr, None), op, limit)]
            elif key == "title":
                objects = [o for o in objects if value.casefold() in o.title.casefold()]
            elif any(c in key for c in "<>!"):
                raise _HttpError(400)  # a filter the fake does not implement: fail loudly
        return objects

    def _ignores(self, key):
        """Whether the ignore_filters switch makes this query parameter a no-op."""
        ignored = self.ignore_filters
        if ignored is True:
            return key.rstrip("<>!=") != key or key == "title"  # every filter, not sort or paging
        return bool(ignored) and _named(key, ignored)

    def _date(self, value):
        if match := _RELATIVE_DATE.fullmatch(value):
            return int(self.library.clock()) - int(match[1]) * _UNITS[match[2]]
        return _int(value)

    def _sorted(self, objects, libtype, sort):
        """Objects in the order asked (comma-separated keys, each maybe `:desc`), else in
        Plex's default order: tracks by album artist, album, disc and number; albums by
        artist and title; artists by title (sort titles, which skip a leading "The")."""
        lib = self.library
        if not sort:
            default = {
                10: lambda t: (
                    _sort_title(lib.artists[t.artist_key].title),
                    _sort_title(lib.albums[t.album_key].title),
                    t.disc,
                    t.index,
                ),
                9: lambda a: (_sort_title(lib.artists[a.artist_key].title), _sort_title(a.title)),
                8: lambda a: _sort_title(a.title),
            }[libtype]
            return sorted(objects, key=default)
        # Stable sorts from the last key to the first give a multi-key sort; ties stay in key order.
        in_key_order = True  # the library's dicts are: sorting by id first costs nothing
        for spec in reversed(sort.split(",")):
            field, _, direction = spec.partition(":")
            level, _, field = field.rpartition(".")
            if field not in _SORTS or direction not in ("", "asc", "desc"):
                raise _HttpError(400)
            if in_key_order and field == "id" and not level and direction != "desc":
                continue
            in_key_order = False
            if field == "random":
                objects = random.sample(objects, len(objects))
                continue
            if libtype == 10 and field in ("year", "originallyAvailableAt") and not level:
                level = "album"  # tracks carry their album's year
            parent = self._parent(libtype, level)
            value = _sort_value(field)
            objects = sorted(objects, key=lambda o: value(parent(o)), reverse=direction == "desc")
        return objects

    def _parent(self, libtype, level):
        """The object a prefixed key ("artist.titleSort") reads, from an object of libtype."""
        lib = self.library
        if level in ("", _TYPES[libtype]):
            return lambda o: o
        if level == "album" and libtype == 10:
            return lambda t: lib.albums[t.album_key]
        if level == "artist" and libtype in (9, 10):
            return lambda o: lib.artists[o.artist_key]
        raise _HttpError(400)

    def _meta(self):
        """The filter and sort metadata plexapi loads before search(sort=…, filters=…)."""
        types = []
        for num, libtype in _TYPES.items():
            sorts = [
                _el("Sort", [("defaultDirection", "asc"), ("descKey", f"{k}:desc"), ("key", k), ("title", k)])
                for k in _SORTS
            ]
            field = _el("Field", [("key", f"{libtype}.addedAt"), ("title", "Date Added"), ("type", "date")])
            attrs = [("key", f"/library/sections/{MUSIC_SECTION}/all?type={num}"), ("type", libtype)]
            types.append(
                _el("Type", [*attrs, ("title", libtype.capitalize() + "s"), ("active", 0)], [*sorts, field])
            )
        operators = [_el("Operator", [("key", "<<="), ("title", "is before")])]
        operators.append(_el("Operator", [("key", ">>="), ("title", "is after")]))
        return _el("Meta", [], [*types, _el("FieldType", [("type", "date")], operators)])

    def _item_el(self, libtype, obj, req, listed=False):
        """An item as a listing (`listed`: tags cut short) or a read by key shows it."""
        if libtype == 10:
            return self._track_el(obj, req, in_section=listed, listed=listed)
        if libtype == 9:
            return self._album_el(obj, req, listed)
        return self._artist_el(obj, req, listed)

    def _track_el(self, t, req, in_section=True, extra=(), listed=True):
        lib = self.library
        album, artist = lib.albums[t.album_key], lib.artists[t.artist_key]
        key, album_key, artist_key = t.rating_key, album.key, artist.key
        attrs = [
            ("ratingKey", str(key)),
            ("key", f"/library/metadata/{key}"),
            ("parentRatingKey", str(album_key)),
            ("grandparentRatingKey", str(artist_key)),
            ("guid", _guid("track", key)),
            ("parentGuid", _guid("album", album_key)),
            ("grandparentGuid", _guid("artist", artist_key)),
            ("type", "track"),
            ("title", t.title),
            ("grandparentKey", f"/library/metadata/{artist_key}"),
            ("parentKey", f"/library/metadata/{album_key}"),
            ("grandparentTitle", artist.title),
            ("parentTitle", album.title),
        ]
        if t.track_artist and t.track_artist != artist.title:
            attrs.append(("originalTitle", t.track_artist))
        attrs += [("summary", ""), ("index", t.index), ("parentIndex", t.disc)]
        if album.year is not None:
            attrs.append(("parentYear", album.year))
        if t.user_rating is not None:
            attrs += [("userRating", t.user_rating), ("lastRatedAt", t.last_rated_at)]
        if t.view_count:
            attrs += [("viewCount", t.view_count), ("lastViewedAt", t.last_viewed_at)]
        if not in_section:  # items outside a section listing say which section they are in
            attrs += self._section_attrs()
        thumb = f"/library/metadata/{album_key}/thumb/{album.updated_at}"
        attrs += [
            ("thumb", thumb),
            ("parentThumb", thumb),
            ("grandparentThumb", f"/library/metadata/{artist_key}/thumb/{artist.updated_at}"),
            ("duration", t.duration_ms),
            ("addedAt", t.added_at),
            ("updatedAt", t.updated_at),
            *extra,
        ]
        tags = [*self._genre_els(t, req, listed), *_guid_els(t, req)]
        if "Media" in req.excluded_elements:
            return _el("Track", req.drop_fields(attrs), tags, json_key="Metadata")
        file = "/".join(
            s.replace("/", "_") for s in (artist.title, album.title, f"{t.index:02d} - {t.title}")
        )
        part = [
            ("id", key),
            ("key", f"/library/parts/{key}/{t.added_at}/file.flac"),
            ("duration", t.duration_ms),
            ("file", f"/data/music/{file}.flac"),
            ("size", t.duration_ms * 110),
            ("container", "flac"),
        ]
        media = [("id", key), ("duration", t.duration_ms), ("bitrate", 880), ("audioChannels", 2)]
        media += [("audioCodec", "flac"), ("container", "flac")]
        children = [_el("Media", media, [_el("Part", part)]), *tags]
        return _el("Track", req.drop_fields(attrs), children, json_key="Metadata")

    def _album_el(self, a, req, listed):
        artist = self.library.artists[a.artist_key]
        attrs = [
            ("ratingKey", str(a.key)),
            ("key", f"/library/metadata/{a.key}/children"),
            ("parentRatingKey", str(artist.key)),
            ("guid", _guid("album", a.key)),
            ("parentGuid", _guid("artist", artist.key)),
            ("type", "album"),
            ("title", a.title),
            ("parentKey", f"/library/metadata/{artist.key}"),
            ("parentTitle", artist.title),
            ("summary", ""),
            ("index", 1),
        ]
        if a.year is not None:
            attrs += [("year", a.year), ("originallyAvailableAt", f"{a.year}-01-01")]
        attrs += [
            ("leafCount", req.leaf_count(self.library, a.key)),
            ("thumb", f"/library/metadata/{a.key}/thumb/{a.updated_at}"),
            ("parentThumb", f"/library/metadata/{artist.key}/thumb/{artist.updated_at}"),
            ("addedAt", a.added_at),
            ("updatedAt", a.updated_at),
        ]
        return _el("Directory", req.drop_fields(attrs), self._genre_els(a, req, listed), json_key="Metadata")

    def _artist_el(self, a, req, listed):
        attrs = [
            ("ratingKey", str(a.key)),
            ("key", f"/library/metadata/{a.key}/children"),
            ("guid", _guid("artist", a.key)),
            ("type", "artist"),
            ("title", a.title),
            ("summary", ""),
            ("index", 1),
            ("thumb", f"/library/metadata/{a.key}/thumb/{a.updated_at}"),
            ("addedAt", a.added_at),
            ("updatedAt", a.updated_at),
        ]
        return _el("Directory", req.drop_fields(attrs), self._genre_els(a, req, listed), json_key="Metadata")

    def _genre_els(self, obj, req, listed):
        if "Genre" in req.excluded_elements:
            return []
        genres = obj.genres[:LISTED_TAGS] if listed else obj.genres
        return [_el("Genre", [("tag", g)]) for g in genres]

    def _section_attrs(self):
        return [
            ("librarySectionID", MUSIC_SECTION),
            ("librarySectionKey", f"/library/sections/{MUSIC_SECTION}"),
            ("librarySectionTitle", self.section_title),
        ]

    @staticmethod
    def _entry(playlist, item_id):
        """The entry with this playlistItemID; a track's ratingKey is not one (404)."""
        item_id = _int(item_id)
        for entry in playlist.entries:
            if entry[0] == item_id:
                return entry
        raise _HttpError(404)

    def _playlist(self, key):
        key = int(key)
        playlist = self.playlists.get(key) or self.builtin_playlists.get(key)
        if playlist is None:
            raise _HttpError(404)
        return playlist

    def _writable(self, key):
        playlist = self._playlist(key)
        if not playlist.writable:
            raise _HttpError(400)  # Plex refuses to change smart and read-only playlists
        return playlist

    def _builtins(self):
        """The playlists a fresh Plex server shows: two smart ones and a read-only one."""
        lib = self.library
        now = EPOCH

        def loved(library):
            return [t for t in library.tracks.values() if t.user_rating == 10]

        def recent(library):
            played = [t for t in library.tracks.values() if t.last_viewed_at]
            return sorted(played, key=lambda t: -t.last_viewed_at)[:50]

        favourites = FakePlaylist(lib.take_key(), "Favourites", now, read_only=True, special_type="favorites")
        for track in loved(lib)[:5]:
            favourites.entries.append([self._next_item_id, track.rating_key])
            self._next_item_id += 1
        return [
            FakePlaylist(lib.take_key(), "❤️ Tracks", now, rule=loved),
            FakePlaylist(lib.take_key(), "Recently Played", now, rule=recent),
            favourites,
        ]

    def _playlist_el(self, p):
        tracks = [t for _, t in p.listed(self.library)]
        attrs = [
            ("ratingKey", str(p.key)),
            ("key", f"/playlists/{p.key}/items"),
            ("guid", f"com.plexapp.agents.none://{uuid.uuid5(uuid.NAMESPACE_OID, str(p.key))}"),
            ("type", "playlist"),
            ("title", p.title),
            ("summary", p.summary),
            ("smart", int(p.smart)),
            ("playlistType", "audio"),
            ("composite", f"/playlists/{p.key}/composite/{p.updated_at}"),
            ("allowSync", 1),
            ("leafCount", len(tracks)),
            ("duration", sum(t.duration_ms for t in tracks)),
            ("addedAt", p.added_at),
            ("updatedAt", p.updated_at),
        ]
        if p.smart:
            attrs.append(("content", f"library://x/directory/%2Flibrary%2Fsections%2F{MUSIC_SECTION}%2Fall"))
        if p.read_only:
            attrs.append(("readOnly", 1))
        if p.special_type:
            attrs.append(("specialPlaylistType", p.special_type))
        return _el("Playlist", attrs, json_key="Metadata")

    def _uri_keys(self, uri):
        """Track keys named by a playlist uri; albums and artists expand to their tracks."""
        match = _PLAYLIST_URI.fullmatch(uri)
        if not match or match[1] != self.machine_identifier:
            raise _HttpError(400)
        lib = self.library
        keys = []
        for key in (int(k) for k in match[2].split(",") if k):
            if key in lib.tracks:
                keys.append(key)
            elif key in lib.albums:
                keys += [t.rating_key for t in lib.album_tracks(key)]
            elif key in lib.artists:
                keys += [t.rating_key for a in lib.artist_albums(key) for t in lib.album_tracks(a.key)]
            # Unknown keys are skipped, as Plex does.
        return keys

    def _append(self, playlist, keys):
        for key in keys:
            playlist.entries.append([self._next_item_id, key])
            self._next_item_id += 1
        playlist.updated_at = int(time.time())


class _Request:
    def __init__(self, handler, query, field_hints=True):
        self.headers = handler.headers
        self.query = query
        self.wants_json = "application/json" in (handler.headers.get("Accept") or "")
        self.excluded_elements = set(query.get("excludeElements", "").split(","))
        hints = query if field_hints else {}
        self._excluded_fields = set(hints.get("excludeFields", "").split(",")) - {""}
        self._included_fields = set(hints.get("includeFields", "").split(",")) - {""}
        self._leaf_counts = None

    def leaf_count(self, library, album_key):
        """How many tracks the album holds, counted once a request (the caller holds the library's lock)."""
        if self._leaf_counts is None:
            self._leaf_counts = Counter(t.album_key for t in library.tracks.values())
        return self._leaf_counts[album_key]

    def header_or_param(self, name):
        return self.query.get(name) or self.headers.get(name)

    def paging(self):
        start = _int(self.header_or_param("X-Plex-Container-Start") or "0")
        size = self.header_or_param("X-Plex-Container-Size")
        size = None if size is None else _int(size)
        if start < 0 or (size is not None and size < 0):
            raise _HttpError(400)
        return start, size

    def drop_fields(self, attrs):
        if self._included_fields:
            attrs = [a for a in attrs if a[0] in self._included_fields]
        if self._excluded_fields:
            attrs = [a for a in attrs if a[0] not in self._excluded_fields]
        return attrs


# Route patterns double as the keys of server.requests; {id} and {ids} match digits.
_ROUTES = {
    "/": {"GET": "_get_root"},
    "/identity": {"GET": "_get_identity"},
    "/library": {"GET": "_get_library"},
    "/library/sections": {"GET": "_get_sections"},
    "/library/sections/{id}/all": {"GET": "_get_section_all"},
    "/library/sections/{id}/collections": {"GET": "_get_section_collections"},
    "/library/metadata/{ids}": {"GET": "_get_metadata"},
    "/library/metadata/{id}/children": {"GET": "_get_children"},
    "/playlists": {"GET": "_get_playlists", "POST": "_post_playlists"},
    "/playlists/{id}": {"GET": "_get_playlist", "PUT": "_put_playlist", "DELETE": "_delete_playlist"},
    "/playlists/{id}/items": {
        "GET": "_get_playlist_items",
        "PUT": "_put_playlist_items",
        "DELETE": "_delete_playlist_items",
    },
    "/playlists/{id}/items/{id}": {"DELETE": "_delete_playlist_item"},
    "/playlists/{id}/items/{id}/move": {"PUT": "_put_playlist_item_move"},
}
_ROUTE_PATTERNS = [
    (re.compile(re.escape(p).replace(r"\{id\}", r"(\d+)").replace(r"\{ids\}", r"([\d,]+)")), p)
    for p in _ROUTES
]


def _route(method, path):
    """(route pattern, handler method name or None, path arguments)."""
    for regex, pattern in _ROUTE_PATTERNS:
        if match := regex.fullmatch(path):
            return pattern, _ROUTES[pattern].get(method), match.groups()
    return path, None, ()


def _int(value):
    try:
        return int(value)
    except ValueError:
        raise _HttpError(400) from None


def _sort_title(title):
    folded = title.casefold()
    for article in ("the ", "a ", "an "):
        if folded.startswith(article):
            return folded[len(article) :]
    return folded


def _sort_value(field):
    """A sort key function for `field` whose values order with None first."""
    if field == "titleSort":
        return lambda o: _sort_title(o.title)
    if field == "id":
        return lambda o: getattr(o, "rating_key", None) or o.key  # tracks name their key apart
    attr = _SORT_ATTRS[field]

    def value(o):
        v = getattr(o, attr, None)
        return (0, 0) if v is None else (1, v)

    return value


def _guid(kind, key):
    # Looks like Plex's 24 hex digits; an odd multiplier modulo 2**96 keeps keys distinct.
    return f"plex://{kind}/{key * 0x9E3779B97F4A7C15 % 2**96:024x}"


def _guid_els(track, req):
    """A track's external ids, shown only when asked (includeGuids=1): its MusicBrainz
    recording id where the file is tagged with one; untagged, half the tracks show
    another agent's id instead, half none."""
    if req.query.get("includeGuids") != "1":
        return []
    mbid = recording_mbid(track)
    if mbid:
        return [_el("Guid", [("id", f"mbid://{mbid}")])]
    if track.rating_key % (2 * UNTAGGED_EVERY) == 0:
        return [_el("Guid", [("id", f"local://{track.rating_key}")])]
    return []


def _el(tag, attrs, children=(), json_key=None):
    """An element: (tag, [(name, value)], children (any iterable), key of its list in JSON)."""
    return (tag, attrs, children, json_key)


def _render(container, as_json):
    """The response body and its content type; None is an empty 200."""
    if container is None:
        return b"", "text/xml;charset=utf-8"
    if as_json:
        return json.dumps(
            {"MediaContainer": _json(container)}, ensure_ascii=False
        ).encode(), "application/json"
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    _xml(container, out)
    return "".join(out).encode(), "text/xml;charset=utf-8"


def _xml(el, out):
    tag, attrs, children, _ = el
    out.append("<" + tag)
    for name, value in attrs:
        if type(value) is str:
            value = value.translate(_XML_ESCAPES)
        elif type(value) is bool:
            value = int(value)
        out.append(f' {name}="{value}"')
    opened = False
    for child in children:  # may be a generator, so no len()
        if not opened:
            out.append(">")
            opened = True
        _xml(child, out)
    out.append(f"</{tag}>" if opened else "/>")


def _json(el):
    _, attrs, children, _ = el
    obj = dict(attrs)
    for child in children:
        obj.setdefault(child[3] or child[0], []).append(_json(child))
    return obj


def _named(key, names):
    """Whether a filter parameter ("track.lastRatedAt>>") is one of `names`, with or
    without its level."""
    name = key.rstrip("<>!=")
    return name in names or name.rpartition(".")[2] in names


def _send(handler, status, body, content_type="text/xml;charset=utf-8"):
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("X-Plex-Protocol", "1.0")
    handler.end_headers()
    handler.wfile.write(body)


def _send_error(handler, status):
    phrase = status_phrase(status)
    body = f"<html><head><title>{phrase}</title></head><body><h1>{status} {phrase}</h1></body></html>"
    _send(handler, status, body.encode(), "text/html")
