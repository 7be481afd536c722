"""Read playlist files people export from other services into (artist, title) entries.

Formats: M3U/M3U8 (#EXTINF lines or bare file paths and URLs), CSV (plain,
Exportify for Spotify, TuneMyMusic and similar exports, delimiter sniffed), JSPF
(ListenBrainz) and XSPF. The format comes from the file extension, else from the
content (XML is always read as XSPF). An entry carries the MusicBrainz recording id
(`mbid`, lower case) when a JSPF or XSPF identifier names one, and an `isrc` when the
source has it. Every error is a PlaylistFormatError whose message can be shown as is:
any input, however malformed (binary, a zip, a web page, deep nesting), is one of these.
"""

import codecs
import csv
import io
import json
import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePath
from urllib.parse import unquote, urlsplit

from django.conf import settings


@dataclass(frozen=True)
class Entry:
    artist: str
    title: str
    album: str = ""
    duration_ms: int | None = None
    mbid: str = ""  # MusicBrainz recording id
    isrc: str = ""


class PlaylistFormatError(ValueError):
    """A file that cannot be read as a playlist; the message says what and where."""


class EmptyPlaylist(PlaylistFormatError):
    """A playlist without one entry that could be read; `why` says what was skipped."""

    def __init__(self, filename, why):
        super().__init__(f"No tracks could be read from {filename}: {why}.")
        self.why = why


class _Full(Exception):
    """The playlist already holds as many entries as an import may have."""


_LABELS = {"m3u": "M3U", "csv": "CSV", "jspf": "JSPF", "xspf": "XSPF", None: "M3U, CSV, JSPF or XSPF"}


def _invalid(kind, why):
    return PlaylistFormatError(f"This is not a valid {_LABELS[kind]} file: {why}.")


@dataclass
class Playlist:
    name: str
    format: str  # "m3u", "csv", "jspf", "xspf", or "deezer" (its API, playlists.outside)
    entries: list[Entry] = field(default_factory=list)
    max_entries: int | None = None
    # reason ("no artist", "no title", ...) -> how many entries were dropped for it
    skipped: Counter = field(default_factory=Counter)

    def skipped_summary(self):
        """E.g. "3 lines skipped: no artist; 1 line skipped: no title", or ""."""
        unit = "line" if self.format in ("m3u", "csv") else "track"
        return "; ".join(
            f"{count} {unit}{'' if count == 1 else 's'} skipped: {reason}"
            for reason, count in self.skipped.items()
        )

    def add(self, artist, title, album="", duration_ms=None, mbid="", isrc=""):
        """Add an entry, or count it skipped without an artist or a title."""
        artist, title, album = _clean(artist), _clean(title), _clean(album)
        if not artist or not title:
            reason = "no title" if artist else "no artist" if title else "no artist or title"
            self.skipped[reason] += 1
            return
        if len(self.entries) == self.max_entries:
            raise _Full
        isrc = re.sub(r"[\s-]", "", isrc).upper()  # "US-RC1-76-07839" is written with and without dashes
        self.entries.append(Entry(artist, title, album, duration_ms or None, mbid, isrc))


def read_playlist(data: bytes, filename: str, max_entries: int | None = None) -> Playlist:
    """The playlist in data, with its skipped-line counts. More than max_entries entries
    (default: the IMPORT_MAX_ENTRIES setting) is an error; reading stops at one more."""
    max_entries = max_entries or settings.IMPORT_MAX_ENTRIES
    path = PurePath(filename.replace("\\", "/"))
    named_kind = _FORMATS.get(path.suffix.lower())
    text = _decode(data)
    if not text.strip():
        raise _invalid(named_kind, "it is empty")
    if why := _not_text(data, text) or _markup(text):
        raise _invalid(named_kind, why)
    kind = "xspf" if _is_xml(text) else named_kind or _sniff(text)
    playlist = Playlist(name=path.stem or "Imported playlist", format=kind, max_entries=max_entries)
    try:
        _READERS[kind](text, playlist)
    except _Full:
        raise PlaylistFormatError(
            f"This playlist has {_count_entries(kind, text):,} entries, and MediaSage imports at most "
            f"{max_entries:,} at a time (the IMPORT_MAX_ENTRIES setting). Split it into smaller files."
        ) from None
    if not playlist.entries:
        raise EmptyPlaylist(filename, playlist.skipped_summary() or "the file has no tracks in it")
    # A name longer than a save allows would only fill the page.
    playlist.name = _clean(playlist.name)[:200] or "Imported playlist"
    return playlist


def parse_playlist(data: bytes, filename: str) -> tuple[str, list[Entry]]:
    """(suggested playlist name, entries). Format from the extension, else sniffed from content."""
    playlist = read_playlist(data, filename)
    return playlist.name, playlist.entries


def _clean(value):
    return " ".join(str(value or "").split())


def _decode(data):
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    # UTF-16 without a BOM (some Windows tools): Latin text has a NUL as every other byte.
    for encoding, high_bytes in (("utf-16-le", data[1:4096:2]), ("utf-16-be", data[:4096:2])):
        if len(high_bytes) > 1 and high_bytes.count(0) > len(high_bytes) * 0.9:
            return data.decode(encoding, errors="replace")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    # latin-1 decodes any byte string; a few bytes cp1252 leaves undefined get here.
    return data.decode("latin-1")


def _not_text(data, text):
    """Why the file is not a text file, or ""."""
    if data.startswith(b"PK\x03\x04"):
        return "it is a zip archive: unzip it and upload the playlist inside"
    sample = text[:4096]
    controls = sum(1 for c in sample if (c < " " and c not in "\t\r\n") or "\x7f" <= c <= "\x9f")
    if "\x00" in text or controls > len(sample) // 50:
        return "it is binary data, not text"
    return ""


def _markup(text):
    """Why a file of HTML or XML is not a playlist MediaSage reads, or ""."""
    head = text.lstrip()[:2048].casefold()
    if not head.startswith("<"):
        return ""
    if "<html" in head or "<!doctype html" in head:
        return "it is a web page (HTML), perhaps saved from the browser instead of the file it links to"
    if "xspf" in head or "<playlist" in head:
        return ""
    return "it is an XML document, not an XSPF playlist"


def _is_xml(text):
    return text.lstrip().startswith("<")


def _count_entries(kind, text):
    """How many entries a file holds, counted without reading them: its track objects,
    its M3U locations, or its CSV lines after the header."""
    if kind == "jspf":
        return len(_jspf_tracks(text)[1])
    if kind == "xspf":
        return len(_xspf_tracks(text)[1])
    lines = [line for line in text.splitlines() if line.strip()]
    if kind == "csv":
        return len(lines) - 1
    return sum(1 for line in lines if not line.lstrip().startswith("#"))


def _sniff(text):
    head = text.lstrip()
    if head.startswith(("{", "[")):
        return "jspf"
    first = head.splitlines()[0]
    if first.startswith("#"):
        return "m3u"
    if _csv_columns(_split_header(first)) or (
        any(sep in first for sep in ",;\t") and not re.search(r"[\\/]|\.\w{2,4}$", first)
    ):
        return "csv"
    return "m3u"


# --- M3U -----------------------------------------------------------------------------------------

# "#EXTINF:253 tvg-name="x",Artist - Title": duration, optional attributes, display text.
_EXTINF = re.compile(r"\s*(-?\d+(?:\.\d+)?)?(?:\s+[\w-]+=(?:\"[^\"]*\"|\S+))*\s*,(.*)")
_DASH = re.compile(r"\s+[-\u2013\u2014]\s+")  # "-", en and em dash between spaces
_URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.I)
# "01 - ", "01. ", "1-03 ", "01_": the track number that starts many file names
_TRACK_NUMBER = re.compile(r"(?:\d{1,2}[-.])?\d{1,3}(?:\s*[-.]\s*|\s+|_)")
_DISC_FOLDER = re.compile(r"(?:cd|dis[ck])\s*\d+", re.I)


def _read_m3u(text, playlist):
    info = artist = album = ""
    duration = None
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            tag, _, value = line.partition(":")
            tag = tag.upper()
            if tag == "#EXTINF" and (m := _EXTINF.fullmatch(value)):
                duration = _positive_ms(float(m[1] or 0) * 1000)
                info = m[2].strip()
            elif tag == "#PLAYLIST" and value.strip():
                playlist.name = value.strip()
            elif tag == "#EXTART":
                artist = value.strip()
            elif tag == "#EXTALB":
                album = value.strip()
            continue
        path_artist, path_album, path_title = _from_path(line)
        shown_artist, shown_title = _artist_title(info)
        artist = shown_artist or artist or path_artist
        # A folder is the album only in an Artist/Album tree that agrees with the tags.
        if path_album and path_artist.casefold() != artist.casefold():
            path_album = ""
        playlist.add(artist, shown_title or path_title, album or path_album, duration)
        # The tags before a location describe that one entry only.
        info = artist = album = ""
        duration = None


def _artist_title(text):
    """Split "Artist - Title" at the first dash; ("", text) without one."""
    parts = _DASH.split(text, maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else ("", text)


def _from_path(location):
    """(artist, album, title) guessed from Music/Artist/Album/01 - Title.flac or Artist - Title.mp3."""
    if _URL.match(location):
        location = unquote(urlsplit(location).path)
    parts = [p for p in re.split(r"[\\/]", location) if p]
    if not parts:
        return "", "", ""
    stem, dot, extension = parts[-1].rpartition(".")
    if not dot or not extension.isalnum() or len(extension) > 5:
        stem = parts[-1]
    folders = parts[:-1]
    if folders and _DISC_FOLDER.fullmatch(folders[-1]):
        folders.pop()
    numbered = _TRACK_NUMBER.match(stem)
    if numbered:
        stem = stem[numbered.end() :]
    has_tree = len(folders) >= 2
    artist, title = _artist_title(stem)
    # "Artist - Title" names a song unless it sits numbered in an Artist/Album tree, where
    # the dash is more likely part of the title ("03 - Song - Live.flac").
    if artist and (not numbered or not has_tree or artist.casefold() == folders[-2].casefold()):
        in_album = has_tree and artist.casefold() == folders[-2].casefold()
        return artist, folders[-1] if in_album else "", title
    if has_tree:
        return folders[-2], folders[-1], stem
    return "", "", stem


# --- CSV -----------------------------------------------------------------------------------------

# Header names real exports use, best first: Exportify (Spotify), TuneMyMusic, Soundiiz, iTunes.
_COLUMNS = {
    "title": ("track name", "title", "track title", "song name", "song title", "song", "track", "name"),
    "artist": ("artist name(s)", "artist name", "artist names", "artist", "artists", "artist(s)", "creator"),
    "album": ("album name", "album", "album title", "release"),
    "duration_ms": ("duration (ms)", "track duration (ms)", "duration_ms", "duration ms"),
    "duration": ("duration", "length", "time"),
    "playlist": ("playlist name", "playlist"),
}


def _delimiter(line):
    counts = {sep: line.count(sep) for sep in ",;\t"}
    return max(counts, key=counts.get) if any(counts.values()) else ","


def _split_header(line):
    try:
        return next(csv.reader([line], delimiter=_delimiter(line)))
    except csv.Error:  # e.g. a field over the csv module's size limit: not a header
        return []


def _csv_columns(header):
    """{role: column index} for a header row, or None without artist and title columns."""
    names = [" ".join(cell.replace("\ufeff", "").split()).casefold() for cell in header]
    found = {}
    for role, aliases in _COLUMNS.items():
        for alias in aliases:
            if alias in names:
                found[role] = names.index(alias)
                break
    return found if "artist" in found and "title" in found else None


def _read_csv(text, playlist):
    first = next(line for line in text.splitlines() if line.strip())
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(first), strict=True)
    columns = None
    named = False
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if columns is None:
                columns = _csv_columns(row)
                if columns is None:
                    cells = [f'"{cell.strip()[:40]}"' for cell in row if cell.strip()]
                    found = ", ".join(cells[:10]) + (", ..." if len(cells) > 10 else "")
                    raise PlaylistFormatError(
                        f"Line {reader.line_num}: no artist and title columns in this CSV. "
                        f'Its columns are {found}; name them e.g. "artist" and "title" '
                        '(Spotify exports from Exportify use "Artist Name(s)" and "Track Name").'
                    )
                continue
            values = {role: row[i].strip() for role, i in columns.items() if i < len(row)}
            if not named and values.get("playlist"):
                playlist.name, named = values["playlist"], True
            # Exportify joins several artists with a bare comma: "Daft Punk,Pharrell Williams".
            artist = re.sub(r",(?=\S)", ", ", values.get("artist", ""))
            duration = _milliseconds(values.get("duration_ms", "")) or _duration(values.get("duration", ""))
            playlist.add(artist, values.get("title"), values.get("album"), duration)
    except csv.Error as error:
        raise _invalid("csv", f"line {reader.line_num} is malformed ({error})") from None


def _positive_ms(milliseconds):
    """Whole milliseconds, or None for a length no track has (0, negative, inf, nan)."""
    return round(milliseconds) if math.isfinite(milliseconds) and milliseconds >= 0.5 else None


def _milliseconds(value):
    try:
        return _positive_ms(float(value))
    except ValueError:
        return None


def _duration(value):
    """ms from "4:13", "1:02:03" or a number: seconds, or ms when it is too big to be seconds."""
    try:
        if ":" in value:
            seconds = 0
            for part in value.split(":"):
                seconds = seconds * 60 + float(part)
        else:
            seconds = float(value)
    except ValueError:
        return None
    return _positive_ms(seconds if seconds > 36000 else seconds * 1000)


# --- JSPF ----------------------------------------------------------------------------------------


def _jspf_tracks(text):
    """(the playlist object, its list of tracks) in a JSPF text."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise _invalid(
            "jspf", f"it is not JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise _invalid("jspf", "it is nested too deeply to be a playlist") from None
    except ValueError:  # an integer longer than Python converts (4,300 digits)
        raise _invalid("jspf", "it holds a number too long to read") from None
    body = data.get("playlist", data) if isinstance(data, dict) else None
    tracks = body.get("track") if isinstance(body, dict) else None
    if not isinstance(tracks, list):
        raise _invalid("jspf", 'it has no "playlist" object with a "track" list')
    return body, tracks


def _read_jspf(text, playlist):
    body, tracks = _jspf_tracks(text)
    if isinstance(body.get("title"), str) and body["title"].strip():
        playlist.name = body["title"].strip()
    for track in tracks:
        if not isinstance(track, dict):
            playlist.skipped["not a track object"] += 1
            continue
        duration = track.get("duration")
        duration = _milliseconds(str(duration)) if isinstance(duration, int | float | str) else None
        identifiers = track.get("identifier")
        # ListenBrainz sends a list of URLs; the JSPF spec and older exports a single one.
        identifiers = identifiers if isinstance(identifiers, list) else [identifiers]
        playlist.add(
            _text(track.get("creator")),
            _text(track.get("title")),
            _text(track.get("album")),
            duration,
            mbid=recording_mbid(_text(i) for i in identifiers),
        )


def _text(value):
    return value if isinstance(value, str) else ""


_RECORDING = re.compile(
    r"\s*https?://(?:www\.)?musicbrainz\.org/recording/([0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12})/?\s*",
    re.I,
)


def recording_mbid(identifiers):
    """The MusicBrainz recording id that the first recording URL among `identifiers`
    (https://musicbrainz.org/recording/<mbid>) names, lower case, or ""."""
    for identifier in identifiers:
        if match := _RECORDING.fullmatch(identifier):
            return match[1].lower()
    return ""


# --- XSPF ----------------------------------------------------------------------------------------


class _NoDoctype(ET.TreeBuilder):
    # Called at the start of a DOCTYPE, before any entity it declares can expand:
    # no playlist needs one, and refusing it keeps entity bombs out whatever expat does.
    def doctype(self, name, pubid, system):
        raise _invalid("xspf", "it declares a DTD, which MediaSage refuses")


def _local(tag):
    """A tag without its namespace: XSPF files come with and without xmlns."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _xspf_tracks(text):
    """(the playlist element, its track elements) in an XSPF text."""
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        parser.feed(text)
        root = parser.close()
    except ET.ParseError as error:
        line, column = error.position
        raise _invalid("xspf", f"it is not well-formed XML (line {line}, column {column + 1})") from None
    lists = [child for child in root if _local(child.tag) == "trackList"]
    if _local(root.tag) != "playlist" or not lists:
        raise _invalid("xspf", "it has no <playlist> with a <trackList>")
    return root, [track for track in lists[0] if _local(track.tag) == "track"]


def _child_texts(element, name):
    return [(child.text or "").strip() for child in element if _local(child.tag) == name]


def _read_xspf(text, playlist):
    root, tracks = _xspf_tracks(text)
    if title := " ".join(_child_texts(root, "title")):
        playlist.name = title
    for track in tracks:
        fields = {name: next(iter(_child_texts(track, name)), "") for name in ("creator", "title", "album")}
        if not fields["creator"] and not fields["title"] and _child_texts(track, "location"):
            # A bare file location names a file on someone else's disk; XSPF says a
            # player may only resolve it, and guessing tags from it is M3U's business.
            playlist.skipped["only a location, no artist or title"] += 1
            continue
        duration = _milliseconds(next(iter(_child_texts(track, "duration")), ""))
        playlist.add(
            fields["creator"],
            fields["title"],
            fields["album"],
            duration,
            mbid=recording_mbid(_child_texts(track, "identifier")),
        )


_FORMATS = {
    ".m3u": "m3u",
    ".m3u8": "m3u",
    ".csv": "csv",
    ".tsv": "csv",
    ".jspf": "jspf",
    ".json": "jspf",
    ".xspf": "xspf",
}
_READERS = {"m3u": _read_m3u, "csv": _read_csv, "jspf": _read_jspf, "xspf": _read_xspf}
