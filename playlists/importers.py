"""Read playlist files people export from other services into (artist, title) entries.

Formats: M3U/M3U8 (#EXTINF lines or bare file paths and URLs), CSV (plain,
Exportify for Spotify, TuneMyMusic and similar exports, delimiter sniffed) and
JSPF (ListenBrainz). The format comes from the file extension, else from the
content. Every error is a PlaylistFormatError whose message can be shown as is.
"""

import codecs
import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePath
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Entry:
    artist: str
    title: str
    album: str = ""
    duration_ms: int | None = None


class PlaylistFormatError(ValueError):
    """A file that cannot be read as a playlist; the message says what and where."""


@dataclass
class Playlist:
    name: str
    format: str  # "m3u", "csv" or "jspf"
    entries: list[Entry] = field(default_factory=list)
    # reason ("no artist", "no title", ...) -> how many entries were dropped for it
    skipped: Counter = field(default_factory=Counter)

    def skipped_summary(self):
        """E.g. "3 lines skipped: no artist; 1 line skipped: no title", or ""."""
        unit = "track" if self.format == "jspf" else "line"
        return "; ".join(
            f"{count} {unit}{'' if count == 1 else 's'} skipped: {reason}"
            for reason, count in self.skipped.items()
        )

    def _add(self, artist, title, album="", duration_ms=None):
        artist, title, album = _clean(artist), _clean(title), _clean(album)
        if not artist or not title:
            reason = "no title" if artist else "no artist" if title else "no artist or title"
            self.skipped[reason] += 1
            return
        self.entries.append(Entry(artist, title, album, duration_ms or None))


def read_playlist(data: bytes, filename: str) -> Playlist:
    """The playlist in data, with its skipped-line counts."""
    text = _decode(data)
    if not text.strip():
        raise PlaylistFormatError("The file is empty.")
    if _looks_binary(text):
        raise PlaylistFormatError(
            "This is not a text file. Upload an M3U/M3U8, CSV or JSPF (ListenBrainz) playlist."
        )
    path = PurePath(filename.replace("\\", "/"))
    kind = _FORMATS.get(path.suffix.lower()) or _sniff(text)
    playlist = Playlist(name=path.stem or "Imported playlist", format=kind)
    _READERS[kind](text, playlist)
    if not playlist.entries:
        why = playlist.skipped_summary() or "the file has no tracks in it"
        raise PlaylistFormatError(f"No tracks could be read from {filename}: {why}.")
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
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    # latin-1 decodes any byte string; a few bytes cp1252 leaves undefined get here.
    return data.decode("latin-1")


def _looks_binary(text):
    sample = text[:4096]
    controls = sum(1 for c in sample if (c < " " and c not in "\t\r\n") or "\x7f" <= c <= "\x9f")
    return "\x00" in sample or controls > len(sample) // 50


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
                seconds = float(m[1] or 0)
                duration = round(seconds * 1000) if seconds > 0 else None
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
        playlist._add(artist, shown_title or path_title, album or path_album, duration)
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
    return next(csv.reader([line], delimiter=_delimiter(line)))


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
            playlist._add(artist, values.get("title"), values.get("album"), duration)
    except csv.Error as error:
        raise PlaylistFormatError(f"Line {reader.line_num}: this CSV is malformed ({error}).") from None


def _milliseconds(value):
    try:
        return round(float(value)) or None
    except (ValueError, OverflowError):
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
    except (ValueError, OverflowError):
        return None
    return round(seconds if seconds > 36000 else seconds * 1000) or None


# --- JSPF ----------------------------------------------------------------------------------------


def _read_jspf(text, playlist):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise PlaylistFormatError(
            f"This is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    body = data.get("playlist", data) if isinstance(data, dict) else None
    tracks = body.get("track") if isinstance(body, dict) else None
    if not isinstance(tracks, list):
        raise PlaylistFormatError(
            'This JSON file is not a JSPF playlist: it has no "playlist" object with a "track" list.'
        )
    if isinstance(body.get("title"), str) and body["title"].strip():
        playlist.name = body["title"].strip()
    for track in tracks:
        if not isinstance(track, dict):
            playlist.skipped["not a track object"] += 1
            continue
        duration = track.get("duration")
        duration = _milliseconds(str(duration)) if isinstance(duration, int | float | str) else None
        playlist._add(
            _text(track.get("creator")), _text(track.get("title")), _text(track.get("album")), duration
        )


def _text(value):
    return value if isinstance(value, str) else ""


_FORMATS = {".m3u": "m3u", ".m3u8": "m3u", ".csv": "csv", ".tsv": "csv", ".jspf": "jspf", ".json": "jspf"}
_READERS = {"m3u": _read_m3u, "csv": _read_csv, "jspf": _read_jspf}
