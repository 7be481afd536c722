"""Plex adapter: reads a music section in pages of raw XML elements.

plexapi's Track objects re-fetch an item whenever code reads an attribute that
the listing left empty (genres, year, an unrated track's userRating), turning
one sync into one request per track. So this module only uses plexapi for the
connection and its error mapping, and reads the listing elements' attributes
itself. Genres and year live on albums in Plex listings: the album and artist
listings are read once up front and joined on parentRatingKey.
"""

import time
from datetime import UTC, datetime
from urllib.parse import urlparse
from xml.etree.ElementTree import ParseError

import requests
from plexapi.exceptions import BadRequest, NotFound, Unauthorized
from plexapi.server import PlexServer

from library.sources import ServerInfo, SourceError

# Plex type numbers for /library/sections/{id}/all?type=N
_ARTIST, _ALBUM, _TRACK = 8, 9, 10
_RETRY_PAUSE = 1.0


class PlexSource:
    name = "plex"
    label = "Plex"

    def __init__(self, url, token, library="", timeout=30, session=None):
        self.url = url
        self._token = token
        self._library = library
        self._timeout = timeout
        self._session = session or requests.Session()
        self._session.hooks["response"].append(self._count)
        self.request_count = 0
        self._server = None
        self._section_key = None
        self._albums = None

    def _count(self, response, *args, **kwargs):
        self.request_count += 1

    @property
    def _where(self):
        return urlparse(self.url).netloc

    # -- errors ---------------------------------------------------------------

    def _call(self, fn, what):
        """Run one request, retrying once on a timeout, a dropped connection or a
        5xx, and turn every failure into a SourceError the user can act on."""
        for attempt in (1, 2):
            try:
                return fn()
            except Unauthorized:
                raise SourceError(
                    "unauthorized",
                    f"Plex at {self._where} rejected the token (HTTP 401). Check PLEX_TOKEN.",
                ) from None
            except NotFound:
                raise SourceError("not_found", f"Plex at {self._where} has no {what} (HTTP 404).") from None
            except ParseError:
                raise SourceError(
                    "bad_response", f"Plex at {self._where} sent malformed XML while reading {what}."
                ) from None
            except BadRequest as exc:
                # plexapi's message starts "(500) internal_server_error; <url> ..."
                status = str(exc)[1:4]
                error = SourceError(
                    "bad_response", f"Plex at {self._where} answered HTTP {status} while reading {what}."
                )
                if not status.startswith("5"):
                    raise error from None
            except requests.Timeout:
                error = SourceError(
                    "timeout",
                    f"Plex at {self._where} did not answer within {self._timeout} s while reading {what}.",
                )
            except requests.RequestException:
                error = SourceError("unreachable", f"Cannot reach Plex at {self._where}.")
            if attempt == 1:
                time.sleep(_RETRY_PAUSE)
        raise error

    def _query(self, path, what, start=None, size=None):
        headers = {}
        if start is not None:
            headers = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(size)}
        data = self._call(lambda: self._server.query(path, headers=headers), what)
        if data is None:
            raise SourceError("bad_response", f"Plex at {self._where} sent an empty answer for {what}.")
        return data

    # -- the adapter interface --------------------------------------------------

    def connect(self):
        self._server = self._call(
            lambda: PlexServer(self.url, self._token, session=self._session, timeout=self._timeout),
            "its identity",
        )
        sections = self._query("/library/sections", "library sections")
        key, title = self._pick_section(sections)
        self._section_key = key
        return ServerInfo(
            server_id=self._server.machineIdentifier or "",
            server_name=self._server.friendlyName or "",
            library_title=title,
        )

    def _pick_section(self, sections):
        music = [d.attrib for d in sections if d.attrib.get("type") == "artist"]
        titles = ", ".join(repr(s.get("title", "")) for s in music) or "none"
        if self._library:
            for section in music:
                if section.get("title", "").strip().lower() == self._library.strip().lower():
                    return section["key"], section["title"]
            raise SourceError(
                "not_found",
                f"Plex has no music library named {self._library!r} (PLEX_LIBRARY). "
                f"Its music libraries: {titles}.",
            )
        if len(music) == 1:
            return music[0]["key"], music[0].get("title", "")
        for section in music:
            if section.get("title", "").lower() == "music":
                return section["key"], section["title"]
        raise SourceError(
            "not_found",
            f"Set PLEX_LIBRARY to pick the music library to cache. Plex's music libraries: {titles}.",
        )

    def count_tracks(self):
        data = self._query(self._listing(_TRACK), "the track count", start=0, size=0)
        return _int(data.attrib.get("totalSize")) or 0

    def prepare(self, page_size):
        """Read every album and artist once, for the genres and years tracks lack."""
        artists = {}
        for page in self._pages(_ARTIST, "Directory", page_size, "artists"):
            for el in page:
                artists[el.attrib.get("ratingKey")] = _tags(el, "Genre")
        self._albums = {}
        for page in self._pages(_ALBUM, "Directory", page_size, "albums"):
            for el in page:
                a = el.attrib
                genres = _tags(el, "Genre") or artists.get(a.get("parentRatingKey"), ())
                live = "live" in (t.lower() for t in _tags(el, "Subformat"))
                self._albums[a.get("ratingKey")] = (_year(a.get("year")), genres, live)

    def track_pages(self, page_size):
        """Yield lists of track dicts, one list per request."""
        if self._albums is None:
            self.prepare(page_size)
        for page in self._pages(_TRACK, "Track", page_size, "tracks"):
            yield [self._track(el) for el in page]

    # -- helpers ----------------------------------------------------------------

    def _listing(self, plex_type):
        return f"/library/sections/{self._section_key}/all?type={plex_type}&includeGuids=0"

    def _pages(self, plex_type, tag, page_size, what):
        start = 0
        while True:
            data = self._query(self._listing(plex_type), what, start=start, size=page_size)
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
        rating = _float(a.get("userRating"))
        return {
            "rating_key": a.get("ratingKey", ""),
            "title": a.get("title", ""),
            "artist": a.get("originalTitle") or album_artist,
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


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _year(value):
    year = _int(value)
    # Taggers write 0 or 1 for "unknown"; those are no year.
    return year if year and 1000 <= year <= 2999 else None


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _epoch(value):
    seconds = _int(value)
    if not seconds or seconds < 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
