"""The review page's logic: a saved playlist's entries its last run could not settle,
the user's answer for each, and a search of the cache to find the right track.

An answer is a RememberedMatch: every later run of every saved playlist uses it
(playlists.runs._match), so nothing here is tied to the playlist it was made from.
"""

from dataclasses import dataclass, field
from functools import reduce
from operator import and_

from django.db.models import Q

from library.models import Track
from playlists.models import RememberedMatch

# Tracks a search of the cache offers, and the review rows shown per target.
SEARCH_LIMIT = 20
REVIEW_ROWS = 200


class ChoiceError(ValueError):
    """An answer that cannot be stored as given; the message says why."""


@dataclass
class ReviewRow:
    server: str
    artist: str
    title: str
    album: str
    entry_key: str
    status: str  # "unmatched" or "ambiguous"
    candidates: list = field(default_factory=list)  # cached Tracks


def rows(run):
    """The entries of `run` (a PlaylistRun) still waiting for an answer, with their
    candidate tracks, per target server in the run's order."""
    targets = (run.detail or {}).get("targets", {}) if run else {}
    found = []
    for server, target in targets.items():
        review = target.get("review", [])
        answered = set(
            RememberedMatch.objects.filter(
                server=server, entry_key__in=[r["entry_key"] for r in review]
            ).values_list("entry_key", flat=True)
        )
        waiting = [r for r in review if r["entry_key"] not in answered][:REVIEW_ROWS]
        keys = {key for r in waiting for key in r.get("candidates", [])}
        tracks = {t.rating_key: t for t in Track.objects.filter(source=server, rating_key__in=keys)}
        found += [
            ReviewRow(
                server=server,
                artist=r["artist"],
                title=r["title"],
                album=r.get("album", ""),
                entry_key=r["entry_key"],
                status=r["status"],
                candidates=[tracks[k] for k in r.get("candidates", []) if k in tracks],
            )
            for r in waiting
        ]
    return found


def choose(server, entry_key, rating_key=""):
    """Remember the user's answer for one entry: a cached track of `server`, or "" for
    "not in my library". Raises ChoiceError for a track the cache does not hold."""
    entry_key = (entry_key or "").strip()
    if not entry_key or len(entry_key) > RememberedMatch._meta.get_field("entry_key").max_length:
        raise ChoiceError("That entry cannot be remembered: reload the review page.")
    if rating_key and not Track.objects.filter(source=server, rating_key=rating_key).exists():
        raise ChoiceError("That track is no longer in the cache: search again.")
    return RememberedMatch.remember(entry_key, server, rating_key)


def search(server, text):
    """Cached tracks of `server` whose artist, title or album hold every word of `text`."""
    words = text.split()
    if not words:
        return []
    each = [Q(artist__icontains=w) | Q(title__icontains=w) | Q(album__icontains=w) for w in words]
    return list(
        Track.objects.filter(reduce(and_, each), source=server).order_by("artist", "title")[:SEARCH_LIMIT]
    )


@dataclass
class TargetDiff:
    """What a dry run found for one target: tracks to add and to remove (as cached
    Tracks; `gone` counts keys the cache no longer holds) and the entries unmatched."""

    server: str
    to_add: list
    to_remove: list
    gone: int
    unmatched: list
    error: str = ""


def diff(run):
    """A dry run's diff per target (TargetDiff), or [] for no run."""
    targets = (run.detail or {}).get("targets", {}) if run else {}
    found = []
    for server, target in targets.items():
        keys = [*target.get("to_add", []), *target.get("to_remove", [])]
        tracks = {t.rating_key: t for t in Track.objects.filter(source=server, rating_key__in=keys)}
        found.append(
            TargetDiff(
                server=server,
                to_add=[tracks[k] for k in target.get("to_add", []) if k in tracks],
                to_remove=[tracks[k] for k in target.get("to_remove", []) if k in tracks],
                gone=sum(k not in tracks for k in keys),
                unmatched=target.get("review", []),
                error=target.get("error", ""),
            )
        )
    return found
