"""Outside playlists, which a subscription reads again on every run.

A source is a spec (`read_source(spec)`):

- an http(s) URL to a JSPF, XSPF, M3U/M3U8 or CSV file (read by playlists.importers);
- a ListenBrainz playlist: its URL (https://listenbrainz.org/playlist/<mbid>) or its id;
- `listenbrainz:USER/KIND`: the newest playlist of that kind ListenBrainz made for USER
  (weekly-exploration, weekly-jams, daily-jams, ...), found anew on each call;
- a Deezer playlist URL (https://www.deezer.com/en/playlist/<id>), through its public API;
- a file path (uploads are stored under the data dir, `store_upload`).

Requests go through the media servers' hardened session (library.sources.http): one
deadline per request (OUTSIDE_TIMEOUT), reading stops at OUTSIDE_MAX_MB, at most five
redirects, one retry of what may pass. Every bad source raises SourceProblem with a
one-line message and nothing else happens; a message never shows a URL's query
string, where people paste tokens.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from django.conf import settings

from library.sources.base import SourceError
from library.sources.http import ServerSession
from playlists.importers import EmptyPlaylist, Entry, Playlist, PlaylistFormatError, read_playlist


class SourceProblem(Exception):
    """An outside playlist that cannot be read; the message is one line, fit to show."""


@dataclass(frozen=True)
class OutsidePlaylist:
    title: str
    entries: list[Entry]
    origin: str  # where it was read, fit to show: "Deezer playlist 908622995", a URL without its query
    skipped: str = ""  # "2 tracks skipped: no artist", or ""


_UUID = r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}"
_LISTENBRAINZ_ID = re.compile(_UUID, re.I)
_LISTENBRAINZ_URL = re.compile(rf"(?:/1)?/playlist/({_UUID})/?", re.I)
_CREATED_FOR = re.compile(r"listenbrainz:([^/\s]+)/([a-z0-9-]+)", re.I)
_DEEZER_URL = re.compile(r"(?:/[a-z]{2}(?:-[a-z]{2})?)?/playlist/(\d+)/?", re.I)
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):", re.I)
# Formats defined as UTF-8 (JSON, XML without a declaration, M3U8); plain M3U and CSV
# files from older tools are often in a Windows code page, which the importer reads.
_LEGACY_ENCODINGS = {"m3u", "csv"}
_USER_AGENT = "MediaSage (self-hosted playlist sync; https://github.com/ecwilsonaz/mediasage)"


def read_source(spec: str) -> OutsidePlaylist:
    """The playlist that `spec` names, read now. Raises SourceProblem."""
    spec = spec.strip()
    if not spec:
        raise SourceProblem("No playlist source was given.")
    if match := _CREATED_FOR.fullmatch(spec):
        return _listenbrainz_created_for(match[1], match[2].lower())
    if _LISTENBRAINZ_ID.fullmatch(spec):
        return _listenbrainz_playlist(spec.lower())
    if spec.lower().startswith(("http://", "https://")):
        return _from_url(spec)
    return _from_file(spec)


def store_upload(data: bytes, filename: str) -> str:
    """Keep an uploaded playlist under the data dir for a subscription to read on
    every run; returns its path, a source spec. The same content is stored once."""
    folder = settings.DATA_DIR / "uploads"
    folder.mkdir(exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", PurePosixPath(filename.replace("\\", "/")).name)[-80:] or "playlist"
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}-{name}"
    if not path.exists():
        path.write_bytes(data)
    return str(path)


# --- files and URLs --------------------------------------------------------------------------


def _from_url(url):
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or any(c.isspace() for c in parts.netloc):
        raise SourceProblem(f"{_shown(url)} is not a valid URL: it names no host it could reach.")
    written_port = parts.netloc.rpartition("@")[2].rpartition("]")[2].partition(":")[2]
    if written_port and _port(parts) is None:
        raise SourceProblem(f"{_shown(url)} is not a valid URL: its port is not a number from 1 to 65535.")
    listenbrainz = host.removeprefix("www.").removeprefix("api.") == "listenbrainz.org"
    if listenbrainz and (match := _LISTENBRAINZ_URL.fullmatch(parts.path)):
        return _listenbrainz_playlist(match[1].lower())
    deezer = host == "deezer.com" or host.endswith(".deezer.com")
    if deezer and (match := _DEEZER_URL.fullmatch(parts.path)):
        return _deezer_playlist(match[1])
    session = _session(url)
    name = unquote(PurePosixPath(parts.path).name)
    response = _get(session, url, _clip(parts.path or "/"))
    return _parse(response.content, name or "playlist", _shown(url))


def _from_file(spec):
    path = Path(spec).expanduser()
    try:
        if not path.exists():
            if _SCHEME.match(spec) and not re.match(r"[a-z]:[\\/]", spec, re.I):
                raise SourceProblem(_unknown(spec))
            if "/" not in spec and "\\" not in spec and path.suffix.lower() not in _FILE_SUFFIXES:
                raise SourceProblem(_unknown(spec))
            raise SourceProblem(f"There is no file at {spec}.")
        if not path.is_file():
            raise SourceProblem(f"{spec} is not a file.")
        limit = settings.OUTSIDE_MAX_MB * 2**20
        # Read one byte more than the limit: a file growing meanwhile is still caught.
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as error:
        raise SourceProblem(f"Cannot read {spec}: {error.strerror or error}.") from None
    if len(data) > limit:
        raise SourceProblem(f"{spec} is larger than {settings.OUTSIDE_MAX_MB} MB (OUTSIDE_MAX_MB).")
    return _parse(data, path.name, spec)


_FILE_SUFFIXES = {".m3u", ".m3u8", ".csv", ".tsv", ".jspf", ".json", ".xspf", ".txt"}


def _unknown(spec):
    return (
        f"{_shown(spec)} is not a playlist source MediaSage knows: give an http(s) URL, a file path, "
        "a ListenBrainz or Deezer playlist URL, or listenbrainz:USER/weekly-exploration."
    )


def _parse(data, filename, origin):
    """The OutsidePlaylist in a file's bytes."""
    try:
        playlist = read_playlist(data, filename)
    except EmptyPlaylist as error:
        raise SourceProblem(f"{origin} is empty: {error.why}.") from None
    except PlaylistFormatError as error:
        raise SourceProblem(f"{origin}: {error}") from None
    legacy = playlist.format in _LEGACY_ENCODINGS and not filename.lower().endswith(".m3u8")
    if not legacy and (why := _not_utf8(data)):
        raise SourceProblem(f"{origin}: {why}.")
    return OutsidePlaylist(playlist.name, playlist.entries, origin, playlist.skipped_summary())


def _not_utf8(data):
    """Why data is not valid UTF-8 (or UTF-16 with a byte order mark), or ""."""
    encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        data.decode(encoding)
    except UnicodeDecodeError as error:
        return (
            f"this is not valid {encoding.upper().removesuffix('-SIG')} text "
            f"(byte 0x{data[error.start]:02x} at position {error.start:,})"
        )
    return ""


# --- ListenBrainz ----------------------------------------------------------------------------


def _listenbrainz_playlist(mbid, session=None, origin=None):
    session = session or _session(settings.LISTENBRAINZ_API_URL, "ListenBrainz")
    url = f"{settings.LISTENBRAINZ_API_URL}/1/playlist/{mbid}"
    response = _get(session, url, f"playlist {mbid}")
    # The API answers JSPF ({"playlist": {...}}): the importer's JSPF reader reads it.
    return _parse(response.content, f"{mbid}.jspf", origin or f"ListenBrainz playlist {mbid}")


def _listenbrainz_created_for(user, kind):
    """The newest playlist of `kind` ListenBrainz made for `user`. The listing carries
    no tracks: the playlist itself is fetched next."""
    session = _session(settings.LISTENBRAINZ_API_URL, "ListenBrainz")
    url = f"{settings.LISTENBRAINZ_API_URL}/1/user/{quote(user, safe='')}/playlists/createdfor"
    what = f"user {user}"
    data = _json(session, _get(session, url, what, {"count": 100}), what)
    listing = data.get("playlists") if isinstance(data, dict) else None
    found = {}  # mbid -> (date, kind)
    for item in listing if isinstance(listing, list) else []:
        playlist = item.get("playlist") if isinstance(item, dict) else None
        if isinstance(playlist, dict) and (mbid := _listenbrainz_mbid(playlist)):
            found[mbid] = (_date(playlist.get("date")), _source_patch(playlist))
    newest = max((m for m, (_, k) in found.items() if k == kind), key=lambda m: found[m][0], default=None)
    if newest is None:
        kinds = sorted({k for _, k in found.values() if k})
        has = f"it has {', '.join(kinds)}" if kinds else "it has made none for this user yet"
        raise SourceProblem(f"ListenBrainz has no {kind} playlist for {user} ({has}).")
    return _listenbrainz_playlist(newest, session, f"ListenBrainz {kind} for {user} (playlist {newest})")


def _listenbrainz_mbid(playlist):
    match = re.search(rf"/playlist/({_UUID})", str(playlist.get("identifier") or ""), re.I)
    return match[1].lower() if match else None


def _source_patch(playlist):
    """What made a "created for you" playlist: weekly-exploration, weekly-jams, ..."""
    extension = playlist.get("extension")
    node = extension.get("https://musicbrainz.org/doc/jspf#playlist") if isinstance(extension, dict) else None
    for key in ("additional_metadata", "algorithm_metadata", "source_patch"):
        node = node.get(key) if isinstance(node, dict) else None
    return node.lower() if isinstance(node, str) else ""


def _date(value):
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return float("-inf")  # undated: any dated playlist is newer


# --- Deezer ----------------------------------------------------------------------------------


def _deezer_playlist(playlist_id):
    """A Deezer playlist through the public API: its tracks come embedded, in pages
    linked by `next` when there are many."""
    base = settings.DEEZER_API_URL
    session = _session(base, "Deezer")
    what = f"playlist {playlist_id}"
    data = _deezer_json(session, f"{base}/playlist/{playlist_id}", what)
    playlist = Playlist(name=_line(data.get("title")) or f"Deezer playlist {playlist_id}", format="deezer")
    listing, seen = data.get("tracks"), set()
    while isinstance(listing, dict):
        for track in listing.get("data") or []:
            if isinstance(track, dict):
                _add_deezer_track(playlist, track)
            else:
                playlist.skipped["not a track object"] += 1
        if len(playlist.entries) > settings.IMPORT_MAX_ENTRIES:
            raise SourceProblem(
                f"Deezer playlist {playlist_id} has more than {settings.IMPORT_MAX_ENTRIES:,} tracks, "
                "the most MediaSage reads (IMPORT_MAX_ENTRIES)."
            )
        following = urlsplit(str(listing.get("next") or ""))
        # Only the API's own pages, asked of the configured API, each once.
        if not following.path.startswith(f"/playlist/{playlist_id}/") or following in seen:
            break
        seen.add(following)
        query = f"?{following.query}" if following.query else ""
        listing = _deezer_json(session, f"{base}{following.path}{query}", what)
    if not playlist.entries:
        why = playlist.skipped_summary() or "it has no tracks"
        raise SourceProblem(f"Deezer playlist {playlist_id} is empty: {why}.")
    return OutsidePlaylist(
        playlist.name[:200], playlist.entries, f"Deezer playlist {playlist_id}", playlist.skipped_summary()
    )


def _add_deezer_track(playlist, track):
    artist, album = track.get("artist"), track.get("album")
    duration = track.get("duration")
    playlist.add(
        artist.get("name") if isinstance(artist, dict) else "",
        _line(track.get("title")),
        album.get("title") if isinstance(album, dict) else "",
        duration * 1000 if isinstance(duration, int) and duration > 0 else None,
        isrc=_line(track.get("isrc")),
    )


def _deezer_json(session, url, what):
    """The JSON object Deezer answered. Its errors come as 200 with an error object."""
    data = _json(session, _get(session, url, what), what)
    if not isinstance(data, dict):
        raise SourceProblem(f"{session.server} sent something other than a JSON object for {what}.")
    if isinstance(error := data.get("error"), dict):
        said = _clip(_line(error.get("message")) or "no reason given")
        if error.get("code") == 800:  # DATA_NOT_FOUND: no such playlist, or a private one
            raise SourceProblem(f"Deezer has no public {what} (it says: {said}).")
        kind = _clip(_line(error.get("type")) or "error")
        raise SourceProblem(f"Deezer refused {what}: {said} ({kind}, code {_clip(str(error.get('code')))}).")
    return data


# --- the wire --------------------------------------------------------------------------------


def _session(url, label=""):
    session = ServerSession(url, label, credential=None, setting=None, timeout=settings.OUTSIDE_TIMEOUT)
    session.max_mb, session.max_setting = settings.OUTSIDE_MAX_MB, "OUTSIDE_MAX_MB"
    # The XSPF reader refuses a DTD itself; here one would only hide that a web page
    # (<!DOCTYPE html>) came instead of a playlist.
    session.refuse_dtd = False
    session.headers["User-Agent"] = _USER_AGENT
    return session


def _get(session, url, what, params=None):
    try:
        return session.call(lambda: session.get(url, params=params), what)
    except SourceError as error:
        raise SourceProblem(error.message) from None


def _json(session, response, what):
    try:
        return response.json()
    except ValueError:
        html = b"<html" in response.content[:2048].lower()
        kind = "a web page (HTML)" if html else "something other than JSON"
        raise SourceProblem(f"{session.server} sent {kind} for {what}.") from None
    except RecursionError:
        raise SourceProblem(f"{session.server} sent JSON nested too deeply for {what}.") from None


def _shown(spec):
    """A spec as messages show it: a URL without its query, fragment or user:password@."""
    parts = urlsplit(spec)
    if not parts.scheme or not parts.netloc:
        return _clip(spec.partition("?")[0])
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if _port(parts) else ""
    return _clip(f"{parts.scheme}://{host}{port}{parts.path}")


def _port(parts):
    try:
        return parts.port
    except ValueError:
        return None


def _line(value):
    return " ".join(value.split()) if isinstance(value, str) else ""


def _clip(text, size=120):
    return text if len(text) <= size else text[: size - 1] + "…"
