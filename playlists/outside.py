"""Playlists from outside the media servers, read again on every run of a subscription.

Stand-in until the outside sources land (wt-outside): a playlist file on this machine
only, through the import's reader. The names (read_source, OutsidePlaylist,
SourceProblem) are the ones the engine calls.
"""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from playlists.importers import Entry, PlaylistFormatError, read_playlist


class SourceProblem(Exception):
    """A source that gave no playlist; the message is one line, fit for the user."""


@dataclass(frozen=True)
class OutsidePlaylist:
    title: str
    entries: list[Entry]
    origin: str


def read_source(spec: str) -> OutsidePlaylist:
    path = Path(spec).expanduser()
    if not path.is_file():
        raise SourceProblem(f"No playlist file at {spec}.")
    limit = settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024
    if path.stat().st_size > limit:
        raise SourceProblem(
            f"{spec} is over {settings.IMPORT_MAX_UPLOAD_MB} MB: not a playlist MediaSage reads."
        )
    try:
        playlist = read_playlist(path.read_bytes(), path.name)
    except PlaylistFormatError as exc:
        raise SourceProblem(str(exc)) from None
    return OutsidePlaylist(playlist.name, playlist.entries, str(path))
