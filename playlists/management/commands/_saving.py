"""What the commands that save a playlist share: the save, failures as one line, the result."""

from django.core.management.base import CommandError

from library.sources import SourceError
from playlists import saving


def save_or_fail(save, source):
    """Call `save()` (a playlists.saving call returning a SavedPlaylist) and say what it did,
    in one line; a failure is a CommandError of one line."""
    try:
        saved = save()
    except saving.SaveError as exc:
        raise CommandError(str(exc)) from None
    except SourceError as exc:
        raise CommandError(f"Not saved: {exc.message}") from None
    return (
        f"Saved “{saved.title}” to {source}: {saved.added} added, {saved.removed} removed. "
        f"Requests to the media server: {saved.requests}. Open it: {saved.url}"
    )
