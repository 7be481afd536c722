"""A fake Jellyfin server that the Jellyfin adapter talks to over real HTTP.

Built to the Jellyfin section of shared/reference/media-servers.md and to Jellyfin
10.11's controllers and DtoService, so code that works against this should work against
a real server: JSON with PascalCase names, nulls left out except the empty Guids Jellyfin
writes as null (`"ChannelId": null` on every library item), routes and query names
matched without regard to case (as ASP.NET binds them), an API key in any of the places
Jellyfin reads one, user data and playlists that belong to a user (an API key is not
one), a Date header by the server's clock, and the fake Plex's fault switches and
request counters. Playlists behave as 10.11's PlaylistManager: an entry's PlaylistItemId
is its track's Id, adding skips tracks already there and appends, removing an entry
removes every copy, Move refuses an API key (and indexes as Jellyfin does when allowed),
and an Overview is set only by posting the whole item back to /Items/{id}.

The library is the fake Plex's FakeLibrary, seen as Jellyfin shows the same files: Ids
are 32 hex digits derived from the Plex keys (item_id), durations are ticks, tracks carry
their album's year and genres, and the first administrator's favourites are the tracks
rated 8 or more (Jellyfin has no star ratings). file_tags() says what Jellyfin reads from
each track's file: every credited artist ("A feat. B" credits A and B; some tracks credit
three), and, for a share of tracks chosen by key, the rough edges of real libraries:
files outside any album (no AlbumId, Album or AlbumArtist), no artist tag
(`"Artists": []`), a track number of 0. Mutate the library to change the server.

The library's updatedAt is Jellyfin's DateLastSaved: `minDateLastSaved` filters on it, but,
as on a real server, no item ever carries it (BaseItemDto has no such property, though
`Fields=DateLastSaved` is accepted). Marking a favourite or playing a track does not
move it, so set those directly (or change_tracks(..., bump_updated_at=False)).

    with FakeJellyfinServer(library=FakeLibrary(tracks=500), api_key="k") as server:
        requests.get(server.url + "/Users", headers={"Authorization": 'MediaBrowser Token="k"'})

Standard library only; no Django.
"""

import json
import random
import re
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from operator import attrgetter
from urllib.parse import parse_qsl, unquote, urlsplit

from .plexdata import EPOCH, UNTAGGED_EVERY, FakeLibrary, recording_mbid

# The same switches, error and HTTP plumbing as the fake Plex (whose handler also turns
# Nagle off); only the routes and the wire format differ.
from .server import FakeServer, Faults, _HttpError, status_phrase

__all__ = [
    "FakeJellyfinServer",
    "FakeLibrary",
    "FakePlaylist",
    "FakeUser",
    "FileTags",
    "Faults",
    "file_tags",
    "item_id",
]

VERSION = "10.11.5"
_TICKS_PER_MS = 10_000
# Track, album and playlist Ids are their Plex keys times an odd number modulo 2**128:
# distinct, reversible, and they look like the Guids Jellyfin prints.
_ID_MULTIPLIER = 0x9E3779B97F4A7C15F39CC0605CEDC835
_ID_INVERSE = pow(_ID_MULTIPLIER, -1, 2**128)
_GUID = re.compile(r"[0-9a-f]{32}")
_AUTH_PROVIDER = "Jellyfin.Server.Implementations.Users.DefaultAuthenticationProvider"
# `Token="…", Client=…`: values quoted or bare, URL-encoded as Jellyfin clients send them.
_AUTH_PARAM = re.compile(r'([\w-]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))')


def item_id(key):
    """The Jellyfin Id of the track, album or playlist with this Plex key."""
    return f"{key * _ID_MULTIPLIER % 2**128:032x}"


def _item_key(guid):
    return int(guid, 16) * _ID_INVERSE % 2**128


def _name_id(kind, name):
    # Jellyfin derives the Ids of artists, genres, views and the like from their names.
    return uuid.uuid5(uuid.NAMESPACE_OID, f"{kind}:{name}").hex


# One track in this many (by key, so a track keeps its shape however the library
# changes) shows a rough edge of real libraries. The numbers are coprime, so a few
# tracks show two at once.
_THREE_CREDITS_EVERY = 13
_TRACK_ZERO_EVERY = 17  # a track number tag of 0
_UNCREDITED_EVERY = 19  # no artist tag: "Artists": []
_LOOSE_EVERY = 23  # a file outside any album folder: no AlbumId, Album or AlbumArtist
# Guests on three-credit tracks: names the generator never makes, so no guest is also
# an album artist.
_GUESTS = ("Tim Wheeler", "Emmy the Great", "Nils Frahm", "Ólafur Arnalds", "Neneh Cherry", "MF DOOM")


@dataclass(frozen=True, slots=True)
class FileTags:
    """What Jellyfin reads from a generated track's file, where it differs from Plex's view."""

    artists: list[str]  # every credited artist, in order
    album: str | None
    album_id: str | None
    album_artist: str | None
    index: int


def file_tags(library, track):
    """How Jellyfin shows `track` of `library`: a performer "A feat. B" is credited as
    A and B, a compilation track as its performer; some tracks credit three artists,
    some none, some are loose files or have track number 0 (see the shares above)."""
    album = library.albums[track.album_key]
    album_artist = library.artists[track.artist_key].title
    key = track.rating_key
    artists = (track.track_artist or album_artist).split(" feat. ")
    if key % _THREE_CREDITS_EVERY == 0:
        artists = [*artists, *random.Random(key).sample(_GUESTS, 2)][:3]
    if key % _UNCREDITED_EVERY == 0:
        artists = []
    loose = key % _LOOSE_EVERY == 0
    return FileTags(
        artists=artists,
        album=None if loose else album.title,
        album_id=None if loose else item_id(album.key),
        album_artist=None if loose else album_artist,
        index=_track_number(track),
    )


def _provider_ids(track):
    """A track's MusicBrainz ids as Jellyfin 10.11 reads them from its file's tags:
    MusicBrainzRecording the recording, MusicBrainzTrack the release track (another id).
    Half the files without a recording id carry a release track id alone."""
    mbid = recording_mbid(track)
    release_track = str(uuid.uuid5(uuid.NAMESPACE_OID, f"release-track:{track.rating_key}"))
    if mbid:
        return {"MusicBrainzTrack": release_track, "MusicBrainzRecording": mbid}
    return {"MusicBrainzTrack": release_track} if track.rating_key % (2 * UNTAGGED_EVERY) == 0 else {}


def _track_number(track):
    return 0 if track.rating_key % _TRACK_ZERO_EVERY == 0 else track.index


@dataclass
class FakeUser:
    name: str
    is_admin: bool = False
    is_disabled: bool = False

    @property
    def id(self):
        return _name_id("user", self.name)


@dataclass
class FakePlaylist:
    id: str
    name: str
    owner_id: str
    media_type: str
    # Track Ids in order. Jellyfin names a playlist entry by its item's Id (PlaylistItemId)
    # and 10.11 never adds an item twice, so these double as the entries' ids.
    items: list[str] = field(default_factory=list)
    overview: str = ""


class FakeJellyfinServer(FakeServer):
    """A Jellyfin server on a real port, served from daemon threads: start()/stop(), or `with`.

    For assertions: `requests` counts (method, route pattern), never the key; `track_pages`
    counts successful track pages; `playlists` holds what clients made. Flip `faults` to
    misbehave; set `server_id` to become a different server. `users` and `views` may be
    replaced; the tracks live in the first music view. `edit_items`, when set, is given
    each track item before it is sent and returns what to send (fields real servers
    send oddly).
    """

    thread_name = "fakejellyfin"
    empty_listing = ("application/json; charset=utf-8", b'{"Items":[],"TotalRecordCount":0', b"}")
    legacy_auth = True  # X-Emby-Token, X-Emby-Authorization, ?api_key=: on in 10.x, off in 12
    # Jellyfin 10.10 (and, by reports, some 10.11 releases) answers DELETE
    # /Playlists/{id}/Items with 400 for an API key: it looks for a calling user
    # (jellyfin#13476, #15600). False simulates that.
    api_key_removes_entries = True
    # POST /Playlists/{id}/Items/{entry}/Move/{index} acts for the calling user, which an
    # API key is not: every version answers 400 "Guid can't be empty" (jellyfin#12999).
    # True moves as for a user's session, as Jellyfin's PlaylistManager.MoveItemAsync does.
    api_key_moves_entries = False

    def __init__(
        self,
        library=None,
        api_key="fake-jellyfin-key",
        host="127.0.0.1",
        port=0,
        server_id="477c21e2a4fc54f69db09a79a159f6e9",
        library_title="Music",
    ):
        super().__init__(library or FakeLibrary(), host, port)
        self.api_key = api_key
        self.server_id = server_id
        self.server_name = "MediaSage Fake Jellyfin"
        self.users = [FakeUser("Admin", is_admin=True), FakeUser("Family")]
        self.views = [(library_title, "music"), ("Movies", "movies")]
        self.playlists: dict[str, FakePlaylist] = {}
        self.edit_items = None

    # -- request handling -----------------------------------------------------------------------

    def _serve(self, handler):
        """Answer one request on `handler` (a BaseHTTPRequestHandler)."""
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        route, method, args = _route(handler.command, parts.path.rstrip("/") or "/")
        self._count(handler.command, route)
        if self._too_long(handler):
            return _send(handler, 414)
        req = _Request(handler.headers, parts.query, body)
        if route != "/System/Info/Public":
            if self.faults.status:
                return _send(handler, self.faults.status)
            if self._token(req) != self.api_key:
                return _send(handler, 401)
        if method is None:
            return _send(handler, 404)

        page = route == "/Items" and req.enums("includeItemTypes") == ["audio"] and req.int("limit") != 0
        fault = self._page_fault() if page else None
        if fault == "fail":
            return _send(handler, 500)
        if self._dropped_or_hung(handler, fault):
            return None
        try:
            with self.library.lock:
                answer = getattr(self, method)(req, *args)
        except _HttpError as e:
            return _send(handler, e.status)
        except Exception:
            traceback.print_exc()
            return _send(handler, 500)

        if answer is None:
            return _send(handler, 204)
        data = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
        if fault == "malformed":
            data = data[: len(data) // 2]
        elif page:
            with self._count_lock:
                self.track_pages += 1
        _send(handler, 200, data)
        if page and fault != "malformed" and self.on_track_page:
            self.on_track_page([t.rating_key for t in self._last_page])
        return None

    def _token(self, req):
        """The API key where Jellyfin looks: the Authorization header, then the legacy
        headers, then the query string."""
        headers = ["Authorization", "X-Emby-Authorization"] if self.legacy_auth else ["Authorization"]
        for name in headers:
            if token := _auth_params(req.headers.get(name, "")).get("token"):
                return token
        if self.legacy_auth and (
            token := req.headers.get("X-Emby-Token")
            or req.headers.get("X-MediaBrowser-Token")
            or req.get("api_key")
        ):
            return token
        return req.get("ApiKey")

    # -- routes (see _ROUTES); each returns JSON-able data, or None for 204 No Content --------------

    def _get_public_info(self, req):
        return {
            "LocalAddress": self.url,
            "ServerName": self.server_name,
            "Version": VERSION,
            "ProductName": "Jellyfin Server",
            "OperatingSystem": "",
            "Id": self.server_id,
            "StartupWizardCompleted": True,
        }

    def _get_users(self, req):
        return [self._user_dto(u) for u in self.users]

    def _get_me(self, req):
        raise _HttpError(400)  # the calling user, and an API key has none

    def _get_views(self, req):
        self._user(req, required=True)
        views = [self._view_dto(name, kind) for name, kind in self.views]
        return {"Items": views, "TotalRecordCount": len(views), "StartIndex": 0}

    def _get_items(self, req):
        user = self._user(req)
        kinds = req.enums("includeItemTypes")
        if kinds == ["audio"]:
            objects, render = self._tracks(req, user), lambda t: self._track_dto(t, req, user)
        elif kinds == ["playlist"]:
            objects = sorted(
                (p for p in self.playlists.values() if user is None or p.owner_id == user.id),
                key=lambda p: p.name.casefold(),
            )
            render = self._playlist_dto
        else:
            raise _HttpError(400)  # a query the fake does not implement: fail loudly
        return self._page(req, objects, render)

    def _get_item(self, req, guid):
        """One item, every field filled (GET /Items/{id}): playlists only."""
        self._user(req, required=True)
        return self._playlist_dto(self._playlist(guid), whole=True)

    def _post_item(self, req, guid):
        """Update an item from the whole BaseItemDto in the body, as jellyfin-web's
        metadata editor sends it: ItemUpdateController sets Name, Overview and Genres from
        it (missing: cleared), and fails without Tags (400) or ProviderIds (500)."""
        playlist = self._playlist(guid)
        body = req.json()
        if not isinstance(body.get("Tags"), list):
            raise _HttpError(400)  # currentTags.Except(null): an ArgumentNullException
        if not isinstance(body.get("ProviderIds"), dict):
            raise _HttpError(500)  # request.ProviderIds.ToList(): a NullReferenceException
        playlist.name = body.get("Name") or ""
        playlist.overview = body.get("Overview") or ""
        return None

    def _delete_item(self, req, guid):
        # Only playlists: deleting a track would delete its file on a real server.
        if self.playlists.pop(_guid(guid), None) is None:
            raise _HttpError(404)
        return None

    def _post_playlists(self, req):
        body = {k.lower(): v for k, v in req.json().items()}
        # The query parameters are obsolete but still read, and win over the body.
        name = req.get("name") or body.get("name")
        user_id = req.get("userId") or body.get("userid")
        if not name or not user_id:
            raise _HttpError(400)  # without a user, Jellyfin fails looking up the empty Guid
        owner = self._user_by_id(user_id)
        playlist_id = item_id(self.library.take_key())
        media_type = req.get("mediaType") or body.get("mediatype") or "Audio"
        playlist = FakePlaylist(playlist_id, name, owner.id, media_type)
        self._add(playlist, req.list("ids") or body.get("ids") or [])
        self.playlists[playlist_id] = playlist
        return {"Id": playlist_id}

    def _get_playlist_items(self, req, guid):
        user = self._user(req, required=True)  # 10.11 wants the userId an API key lacks
        playlist = self._playlist(guid)
        tracks = self._playlist_tracks(playlist)

        def render(track):
            return {**self._track_dto(track, req, user), "PlaylistItemId": item_id(track.rating_key)}

        return self._page(req, tracks, render)

    def _post_playlist_items(self, req, guid):
        user = self._user(req, required=True)
        self._playlist_fault("adds")
        playlist = self._playlist(guid)
        if playlist.owner_id != user.id:
            raise _HttpError(403)
        self._add(playlist, req.list("ids"))
        return None

    def _delete_playlist_items(self, req, guid):
        if not self.api_key_removes_entries:
            raise _HttpError(400)
        playlist = self._playlist(guid)
        self._playlist_fault("removes")
        gone = {_guid(e) for e in req.list("entryIds")}
        playlist.items = [i for i in playlist.items if i not in gone]
        return None

    def _post_playlist_item_move(self, req, guid, entry, index):
        """Move an entry (its track's Id) to `index` as PlaylistManager.MoveItemAsync does:
        among the entries whose tracks still exist, the entry lands at `index` (after the
        entry now at index - 1); an index past the end appends, one past the entries
        whose tracks exist fails (500, jellyfin#17066)."""
        if not self.api_key_moves_entries:
            raise _HttpError(400)
        playlist = self._playlist(guid)
        entry, index = _guid(entry), int(index)
        self._playlist_fault("moves")
        children = [i for i in playlist.items if self._track(i) is not None]
        if (children.index(entry) if entry in children else -1) == index:
            return None
        if max(index - 1, 0) >= len(children):
            raise _HttpError(500)
        prior = children.index(children[max(index - 1, 0)])
        adjusted = (prior - 1 if prior > 0 else 0) if index == 0 else prior + 1
        if entry not in playlist.items:
            return None  # Jellyfin logs a warning and answers 204
        items = list(playlist.items)
        items.remove(entry)
        if index >= len(items):
            items.append(entry)
        else:
            items.insert(adjusted, entry)
        playlist.items = items
        return None

    # -- helpers -------------------------------------------------------------------------------

    def _user(self, req, required=False):
        """The user named by ?userId=; an API key must name one where a user is needed."""
        user_id = req.get("userId")
        if not user_id:
            if required:
                raise _HttpError(400)
            return None
        return self._user_by_id(user_id)

    def _user_by_id(self, user_id):
        user_id = _guid(user_id)
        for user in self.users:
            if user.id == user_id:
                return user
        raise _HttpError(404)

    def _data_owner(self):
        """The user whose plays and favourites the library holds: the first administrator."""
        return next((u for u in self.users if u.is_admin and not u.is_disabled), None)

    def _favourite(self, t, user):
        return user is self._data_owner() and (t.user_rating or 0) >= 8

    def _plays(self, t, user):
        return t.view_count if user is self._data_owner() else 0

    def _last_played(self, t, user):
        return t.last_viewed_at if self._plays(t, user) else None

    def _music_view_id(self):
        return next((_name_id("view", name) for name, kind in self.views if kind == "music"), None)

    def _tracks(self, req, user):
        if req.get("recursive", "").lower() != "true":
            return []  # a library's direct children are albums, not tracks
        # Other views hold no tracks; an unknown parent falls back to the user's root
        # folder, as in Jellyfin.
        parent = req.get("parentId")
        other_views = {_name_id("view", name) for name, _ in self.views} - {self._music_view_id()}
        if parent and _guid(parent) in other_views:
            return []
        tracks = list(self.library.tracks.values())
        if since := req.get("minDateLastSaved"):
            cutoff = _timestamp(since)
            tracks = [t for t in tracks if t.updated_at >= cutoff]
        for name, test in (("isFavorite", self._favourite), ("isPlayed", self._plays)):
            if (wanted := req.get(name)) is not None:
                if user is None:
                    raise _HttpError(400)  # user data filters need a user
                tracks = [t for t in tracks if bool(test(t, user)) == (wanted.lower() == "true")]
        return self._sorted(tracks, req, user)

    def _sorted(self, tracks, req, user):
        keys = {
            # Jellyfin's sort name for audio: "0001 - 0003 - Title" (disc, track, name);
            # ties go by Name.
            "sortname": lambda t: (f"{t.disc:04d} - {_track_number(t):04d} - {t.title}", t.title),
            "name": attrgetter("title"),
            "datecreated": attrgetter("added_at"),
            "dateplayed": lambda t: self._last_played(t, user) or 0,
        }
        orders = req.enums("sortOrder") or ["ascending"]
        # Stable sorts from the last key to the first give a multi-key sort; one order
        # applies to every key, as in Jellyfin.
        for i, name in reversed(list(enumerate(req.enums("sortBy")))):
            if name not in keys:
                raise _HttpError(400)
            order = orders[i] if i < len(orders) else orders[0]
            tracks = sorted(tracks, key=keys[name], reverse=order == "descending")
        return tracks

    def _page(self, req, objects, render):
        start = req.int("startIndex") or 0
        limit = req.int("limit")
        page = objects[start:] if limit is None else objects[start : start + limit]
        self._last_page = page  # for on_track_page
        return {"Items": [render(o) for o in page], "TotalRecordCount": len(objects), "StartIndex": start}

    def _track(self, guid):
        return self.library.tracks.get(_item_key(guid))

    def _playlist(self, guid):
        try:
            return self.playlists[_guid(guid)]
        except KeyError:
            raise _HttpError(404) from None

    def _playlist_tracks(self, playlist):
        # Entries whose tracks were removed from the library no longer show.
        return [t for t in map(self._track, playlist.items) if t is not None]

    def _add(self, playlist, ids):
        """Append the tracks among `ids`, skipping unknown ids and tracks already in the
        playlist, as Jellyfin's AddToPlaylistInternal does."""
        present = set(playlist.items)
        for guid in map(_guid, ids):
            if guid not in present and self._track(guid) is not None:
                playlist.items.append(guid)
                present.add(guid)

    def _user_dto(self, u):
        return {
            "Name": u.name,
            "ServerId": self.server_id,
            "Id": u.id,
            "HasPassword": True,
            "HasConfiguredPassword": True,
            "HasConfiguredEasyPassword": False,
            "EnableAutoLogin": False,
            "LastLoginDate": _iso(EPOCH),
            "LastActivityDate": _iso(EPOCH),
            "Configuration": {"PlayDefaultAudioTrack": True, "HidePlayedInLatest": True},
            "Policy": {
                "IsAdministrator": u.is_admin,
                "IsHidden": u.is_admin,
                "IsDisabled": u.is_disabled,
                "EnableAllFolders": True,
                "EnableContentDeletion": u.is_admin,
                "AuthenticationProviderId": _AUTH_PROVIDER,
            },
        }

    def _view_dto(self, name, kind):
        return {
            "Name": name,
            "ServerId": self.server_id,
            "Id": _name_id("view", name),
            "DateCreated": _iso(EPOCH - 5 * 365 * 86400),
            "CanDelete": False,
            "CanDownload": False,
            "SortName": name.lower(),
            "ExternalUrls": [],
            "Path": f"/config/root/default/{name}",
            "ChannelId": None,  # the empty Guid, as on every library item
            "IsFolder": True,
            "Type": "CollectionFolder",
            "CollectionType": kind,
            "ImageTags": {},
            "BackdropImageTags": [],
            "LocationType": "FileSystem",
            "MediaType": "Unknown",
        }

    def _track_dto(self, t, req, user):
        """An Audio item as Jellyfin 10.11's DtoService fills a BaseItemDto: properties in
        its order, nulls left out, `Fields` adding only what it names."""
        lib = self.library
        album, tags = lib.albums[t.album_key], file_tags(lib, t)
        fields = set(req.enums("fields"))
        images = req.get("enableImages", "true").lower() != "false"
        dto = {"Name": t.title, "ServerId": self.server_id, "Id": item_id(t.rating_key)}
        if "datecreated" in fields:
            dto["DateCreated"] = _iso(t.added_at)
        dto |= {"HasLyrics": False, "Container": "flac"}
        if album.year is not None:
            dto["PremiereDate"] = f"{album.year}-01-01T00:00:00.0000000Z"
        # A library item's ChannelId is the empty Guid, which Jellyfin's
        # JsonNullableGuidConverter writes as null although nulls are otherwise left out.
        dto["ChannelId"] = None
        # From the file's own tags: the track's genres where it has its own, else its album's.
        genres = list(t.genres or album.genres)
        if "genres" in fields:
            dto["Genres"] = genres
        dto["RunTimeTicks"] = t.duration_ms * _TICKS_PER_MS
        if album.year is not None:
            dto["ProductionYear"] = album.year
        dto |= {"IndexNumber": tags.index, "ParentIndexNumber": t.disc}
        if "providerids" in fields:
            dto["ProviderIds"] = _provider_ids(t)
        dto |= {"IsFolder": False, "Type": "Audio"}
        if "genres" in fields:
            dto["GenreItems"] = [{"Name": g, "Id": _name_id("genre", g)} for g in genres]
        if user is not None and req.get("enableUserData", "true").lower() != "false":
            dto["UserData"] = self._user_data(t, user)
        dto |= {"Artists": tags.artists, "ArtistItems": _artist_items(tags.artists)}
        if tags.album is not None:
            dto |= {"Album": tags.album, "AlbumId": tags.album_id}
        if tags.album_artist is not None:
            dto["AlbumArtist"] = tags.album_artist
        dto["AlbumArtists"] = _artist_items([tags.album_artist] if tags.album_artist else [])
        if images:
            dto |= {"ImageTags": {}, "BackdropImageTags": []}
        dto["ImageBlurHashes"] = {}  # set whether or not images were asked for
        dto |= {"LocationType": "FileSystem", "MediaType": "Audio"}
        return self.edit_items(dto) if self.edit_items else dto

    def _user_data(self, t, user):
        # Rating and Likes are null for music, and Jellyfin leaves nulls out.
        plays = self._plays(t, user)
        data = {
            "PlaybackPositionTicks": 0,
            "PlayCount": plays,
            "IsFavorite": self._favourite(t, user),
            "Played": plays > 0,
        }
        if plays:
            data["LastPlayedDate"] = _iso(self._last_played(t, user))
        return data | {"Key": item_id(t.rating_key), "ItemId": item_id(t.rating_key)}

    def _playlist_dto(self, p, whole=False):
        """A playlist as listings show it, or (`whole`) as GET /Items/{id} does, with the
        fields a listing leaves to `Fields`. Nulls and an empty Overview are left out."""
        tracks = self._playlist_tracks(p)
        dto = {
            "Name": p.name,
            "ServerId": self.server_id,
            "Id": p.id,
            "CanDelete": True,
            "SortName": p.name.lower(),
            "ChannelId": None,
            "RunTimeTicks": sum(t.duration_ms for t in tracks) * _TICKS_PER_MS,
            "IsFolder": True,
            "Type": "Playlist",
            "ChildCount": len(tracks),
            "LocationType": "FileSystem",
            "MediaType": p.media_type,
        }
        if p.overview:
            dto["Overview"] = p.overview
        if whole:
            dto |= {"Genres": [], "Tags": [], "ProviderIds": {}, "People": [], "LockedFields": []}
        return dto


class _Request:
    """A request's headers, query (names without regard to case) and body."""

    def __init__(self, headers, query, body):
        self.headers = headers
        self._query = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
        self._body = body

    def get(self, name, default=None):
        return self._query.get(name.lower(), default)

    def list(self, name):
        return [v for v in self.get(name, "").split(",") if v]

    def enums(self, name):
        """A list of enum names, which Jellyfin also binds without regard to case."""
        return [v.lower() for v in self.list(name)]

    def int(self, name):
        value = self.get(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise _HttpError(400) from None

    def json(self):
        try:
            data = json.loads(self._body or b"{}")
        except ValueError:
            raise _HttpError(400) from None
        if not isinstance(data, dict):
            raise _HttpError(400)
        return data


def _auth_params(header):
    """The parameters of `Authorization: MediaBrowser Token="…", Client="…"`, names lowercased."""
    scheme, _, params = header.strip().partition(" ")
    if scheme.lower() not in ("mediabrowser", "emby"):
        return {}
    return {m[1].lower(): unquote(m[3] if m[2] is None else m[2]) for m in _AUTH_PARAM.finditer(params)}


def _artist_items(names):
    return [{"Name": name, "Id": _name_id("artist", name)} for name in names]


def _guid(value):
    """A Guid as Jellyfin binds it: with or without dashes, any case."""
    guid = value.replace("-", "").lower()
    if not _GUID.fullmatch(guid):
        raise _HttpError(400)
    return guid


def _iso(epoch):
    # Jellyfin's format: UTC with seven fractional digits.
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _timestamp(value):
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _HttpError(400) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _send(handler, status, body=None):
    # Date by the server's clock, the one that stamps DateLastSaved; send_response
    # would take the machine's.
    handler.send_response_only(status)
    handler.send_header("Date", formatdate(handler.server.fake.library.clock(), usegmt=True))
    if body is None and status >= 400:
        body = status_phrase(status).encode()
        handler.send_header("Content-Type", "text/plain; charset=utf-8")
    elif body:
        handler.send_header("Content-Type", "application/json; charset=utf-8")
    if status != 204:
        handler.send_header("Content-Length", str(len(body or b"")))
    handler.send_header("Server", "Kestrel")
    handler.end_headers()
    if body:
        handler.wfile.write(body)


# Route patterns double as the keys of server.requests; {id} matches a Guid.
_ROUTES = {
    "/System/Info/Public": {"GET": "_get_public_info"},
    "/Users": {"GET": "_get_users"},
    "/Users/Me": {"GET": "_get_me"},
    "/UserViews": {"GET": "_get_views"},
    "/Items": {"GET": "_get_items"},
    "/Items/{id}": {"GET": "_get_item", "POST": "_post_item", "DELETE": "_delete_item"},
    "/Playlists": {"POST": "_post_playlists"},
    "/Playlists/{id}/Items": {
        "GET": "_get_playlist_items",
        "POST": "_post_playlist_items",
        "DELETE": "_delete_playlist_items",
    },
    "/Playlists/{id}/Items/{id}/Move/{index}": {"POST": "_post_playlist_item_move"},
}
_ROUTE_PATTERNS = [
    (
        re.compile(
            re.escape(p).replace(r"\{id\}", r"([0-9a-fA-F-]{32,36})").replace(r"\{index\}", r"(-?\d+)"),
            re.IGNORECASE,
        ),
        p,
    )
    for p in _ROUTES
]


def _route(method, path):
    """(route pattern, handler method name or None, path arguments)."""
    for regex, pattern in _ROUTE_PATTERNS:
        if match := regex.fullmatch(path):
            return pattern, _ROUTES[pattern].get(method), match.groups()
    return path, None, ()
