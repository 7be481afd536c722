"""One run of a saved playlist: recipe -> entries -> cached tracks -> each target, in place.

    record = run(saved_id)                  # a PlaylistRun, or None when one is already running
    record = run(saved_id, dry_run=True)    # the diff, nothing written

The steps: claim the run (one at a time per saved playlist, in the database); make
every cache it needs ready (an empty cache waits for or starts a sync, a stale one is
synced first, a failed sync fails the run); resolve the recipe into ordered entries;
for each target server, match them on that server's cache (an entry from that server's
own cache is its key; else the user's remembered choice, else the Matcher) and never
search the server; work out the playlist the mode asks for; write it in place; record.

A failure (source, server, cache) is recorded with a one-line reason and the target
is left as it was; an empty result never empties a target unless the saved playlist
allows it. No transaction is held across a request to a server.

PlaylistRun.detail, for the review page:
    {"source": title the recipe's source gave,
     "synced": [servers whose cache was synced first],
     "targets": {server: {"playlist_id", "to_add": [keys], "to_remove": [keys], "error",
                          "review": [{"artist", "title", "album", "entry_key",
                                      "status": "unmatched" | "ambiguous",
                                      "candidates": [keys]}],
                          "not_in_library": entries the user marked so}}}
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils import timezone

from library.models import SyncBusy, SyncState, Track
from library.sources import SourceError, get_source
from library.sync import SyncFailed, sync
from library.vocab import ErrorKind, Phase
from playlists import llm, outside, prompting
from playlists.generate import BadFilter, Filters, pick
from playlists.importers import Entry
from playlists.matching import Matcher, entry_key
from playlists.models import RUNS_KEPT, PlaylistRun, RememberedMatch, SavedPlaylist
from playlists.vocab import Outcome, Recipe, WriteMode

log = logging.getLogger(__name__)

# Review lists and diffs kept in a run's detail, per target: the page shows the first
# ones and counts the rest.
_DETAIL_ROWS = 1000
# Seconds between looks at a cache sync another process runs.
_SYNC_POLL = 1.0


class RunFailed(Exception):
    """A run that cannot go on; the message is one line, fit for the user."""


@dataclass(frozen=True)
class _Item:
    """One entry of the recipe's result; `key` is its track on `server` when it came
    from that server's cache (a smart pick, a mirrored playlist)."""

    entry: Entry
    server: str = ""
    key: str = ""


@dataclass
class _Matched:
    keys: list[str] = field(default_factory=list)
    review: list[dict] = field(default_factory=list)
    not_in_library: int = 0


def run(saved_id, dry_run=False):
    """Run the saved playlist once; returns its PlaylistRun, or None when a run of it is
    already under way (a second task for the same playlist is a no-op)."""
    saved = SavedPlaylist.objects.get(pk=saved_id)
    record = _claim(saved, dry_run)
    if record is None:
        log.info("saved playlist %s is already running; skipping", saved_id)
        return None
    started = time.monotonic()
    adapters = {}  # one per server for the run, so their request counts are the run's
    try:
        _execute(saved, record, adapters, dry_run)
    except (RunFailed, SourceError, outside.SourceProblem) as exc:
        _fail(record, str(exc))
    except Exception as exc:
        log.exception("saved playlist %s failed unexpectedly", saved_id)
        _fail(record, f"The run failed unexpectedly: {exc.__class__.__name__}: {exc}")
    record.requests = {server: adapter.request_count for server, adapter in adapters.items()}
    record.duration_ms = round((time.monotonic() - started) * 1000)
    record.finished_at = timezone.now()
    record.save()
    _prune(saved)
    saved.note_next_run()
    return record


def _claim(saved, dry_run):
    """A new PlaylistRun, or None if one is running. A run its worker never finished
    (killed, or past the task timeout) is recorded as failed and no longer blocks."""
    abandoned = timezone.now() - timedelta(seconds=settings.SYNC_TASK_TIMEOUT)
    saved.runs.filter(finished_at__isnull=True, started_at__lt=abandoned).update(
        finished_at=timezone.now(),
        outcome=Outcome.FAILED,
        error="The worker stopped during this run; the target was not changed by it after that.",
    )
    try:
        with transaction.atomic():
            return PlaylistRun.objects.create(saved=saved, dry_run=dry_run)
    except IntegrityError:
        return None


def _fail(record, message):
    record.outcome = Outcome.FAILED
    record.error = " ".join(message.split())[:500]


def _prune(saved):
    old = saved.runs.values_list("pk", flat=True)[RUNS_KEPT:]
    PlaylistRun.objects.filter(pk__in=list(old)).delete()


def _adapter(adapters, server):
    if server not in adapters:
        adapters[server] = get_source(server)
    return adapters[server]


def _execute(saved, record, adapters, dry_run):
    targets = list(saved.targets.all())
    if not targets:
        raise RunFailed("This saved playlist has no target server.")
    servers = dict.fromkeys([_recipe_server(saved), *(t.server for t in targets)])
    servers.pop("", None)
    record.detail["synced"] = [server for server in servers if _ready_cache(server)]
    title, items = _resolve(saved, adapters, record)
    record.detail["source"] = title
    record.detail["targets"] = {}
    written = False
    errors = []
    for target in targets:
        matched = _match(items, target.server)
        record.unmatched += len(matched.review)
        detail = record.detail["targets"][target.server] = {
            "playlist_id": target.playlist_id,
            "review": matched.review[:_DETAIL_ROWS],
            "not_in_library": matched.not_in_library,
        }
        try:
            written |= _apply(saved, target, matched.keys, _adapter(adapters, target.server), record, dry_run)
        except SourceError as exc:
            detail["error"] = exc.message
            errors.append(f"{target.get_server_display()}: {exc.message}")
    if errors:
        raise RunFailed("; ".join(errors))
    record.outcome = Outcome.DONE if written else Outcome.EMPTY


def _recipe_server(saved):
    """The server whose cache the recipe reads, or ""."""
    if saved.kind == Recipe.SMART:
        return _filters(saved).source
    if saved.kind in (Recipe.MIRROR, Recipe.PROMPT):
        return saved.recipe.get("server", "")
    return ""


def _filters(saved):
    try:
        return Filters.from_query(QueryDict(saved.recipe.get("filters", "")))
    except BadFilter as exc:
        raise RunFailed(f"The smart playlist's filters are wrong: {exc}") from None


# --- the cache first -----------------------------------------------------------------------------


def _ready_cache(server):
    """Make the server's cache fit to match against (seed 004: never search the server
    instead). Returns whether this run synced it; raises RunFailed when it cannot be."""
    state = SyncState.for_source(server)
    label = state.get_source_display()
    synced = False
    while True:
        run_id = None
        if state.is_running and state.phase == Phase.QUEUED:
            # Queued for the worker, which may be busy with this very run: take it over.
            run_id = state.run_id
        elif state.is_running:
            # Another process syncs it: its result will do.
            time.sleep(_SYNC_POLL)
            state.refresh_from_db()
            continue
        elif synced or not state.sync_due():
            break
        try:
            sync(server, run_id=run_id)
            synced = True
        except SyncBusy:
            pass  # started meanwhile: wait for it
        except SyncFailed as exc:
            raise RunFailed(f"The {label} cache could not be synced: {exc.message}") from None
        state.refresh_from_db()
    if state.sync_due():
        raise RunFailed(f"The {label} cache is empty: {state.failure() or 'sync it first'}")
    return synced


# --- the recipe ----------------------------------------------------------------------------------


def _resolve(saved, adapters, record):
    """(the source's title, the recipe's entries in order)."""
    if saved.kind == Recipe.SMART:
        filters = _filters(saved)
        return "Smart playlist", [_from_cache(track) for track in pick(filters)]
    if saved.kind == Recipe.SUBSCRIPTION:
        playlist = outside.read_source(saved.recipe.get("source", ""))
        return playlist.title, [_Item(entry) for entry in playlist.entries]
    if saved.kind == Recipe.MIRROR:
        return _mirrored(saved.recipe, adapters)
    if saved.kind == Recipe.PROMPT:
        return _prompted(saved.recipe, record)
    raise RunFailed(f"Unknown recipe {saved.kind!r}.")


def _from_cache(track):
    # The recording id carries the match across servers when both know it.
    entry = Entry(track.artist, track.title, track.album, track.duration_ms, mbid=track.recording_mbid)
    return _Item(entry, track.source, track.rating_key)


def _prompted(recipe, record):
    """A fresh selection for the sentence, from its server's cache; the model's
    description becomes the targets' summary."""
    rules = prompting.read_rules(
        recipe.get("prompt", ""), recipe.get("server") or "plex", recipe.get("tracks"), recipe.get("minutes")
    )
    try:
        result = prompting.generate(rules)
    except (llm.LLMError, prompting.NothingMatches) as exc:
        raise RunFailed(str(exc)) from None
    record.detail["description"] = result.description
    record.detail["prompt"] = {
        "tokens": result.prompt_tokens + result.completion_tokens,
        "invented": result.checked.invented,
        "filled": result.checked.filled,
    }
    return result.title, [_from_cache(pick.track) for pick in result.checked.picks]


def _mirrored(recipe, adapters):
    """The entries of a playlist on the other server, through that server's cache."""
    server, title = recipe.get("server", ""), recipe.get("title", "")
    adapter = _adapter(adapters, server)
    playlist_id = recipe.get("playlist_id") or next(
        (p.id for p in adapter.list_playlists() if p.title.strip().casefold() == title.strip().casefold()),
        None,
    )
    if playlist_id is None:
        raise RunFailed(f"{adapter.label} has no playlist called {title!r}.")
    keys = [key for _, key in adapter.read_playlist(playlist_id)]
    tracks = {t.rating_key: t for t in Track.objects.filter(source=server, rating_key__in=keys)}
    # A track the cache does not hold yet (added since its last sync) cannot be named.
    return title, [_from_cache(tracks[key]) for key in keys if key in tracks]


# --- matching on a target's cache ----------------------------------------------------------------


def _match(items, server):
    """The target server's keys for the items, in order, once each; and what to review."""
    matched = _Matched()
    outside_items = [item for item in items if item.server != server]
    keys_of = {item: entry_key(item.entry) for item in outside_items}
    chosen = {
        m.entry_key: m
        for m in RememberedMatch.objects.filter(server=server, entry_key__in=set(keys_of.values()))
    }
    # A remembered track a later sync removed no longer counts: the Matcher tries again.
    cached = set(
        Track.objects.filter(
            source=server, rating_key__in=[m.rating_key for m in chosen.values() if m.rating_key]
        ).values_list("rating_key", flat=True)
    )
    matcher = Matcher.for_source(server) if outside_items else None
    for item in items:
        if item.server == server:
            matched.keys.append(item.key)
            continue
        key = keys_of[item]
        if (choice := chosen.get(key)) and (choice.not_in_library or choice.rating_key in cached):
            if choice.not_in_library:
                matched.not_in_library += 1
            else:
                matched.keys.append(choice.rating_key)
            continue
        result = matcher.match(item.entry)
        if result.track:
            matched.keys.append(result.track.rating_key)
            continue
        matched.review.append(
            {
                "artist": item.entry.artist,
                "title": item.entry.title,
                "album": item.entry.album,
                "entry_key": key,
                "status": result.status,
                "candidates": [t.rating_key for t in result.candidates],
            }
        )
    matched.keys = list(dict.fromkeys(matched.keys))
    return matched


# --- writing a target ----------------------------------------------------------------------------


def _apply(saved, target, desired, adapter, record, dry_run):
    """Bring one target to what the mode asks for; returns whether it was (or, in a dry
    run, would be) written."""
    detail = record.detail["targets"][target.server]
    entries = _read_target(adapter, target, detail)
    current = [key for _, key in entries]
    final = _wanted(saved.mode, desired, current, target.written_keys)
    present = set(current)
    to_add = [key for key in final if key not in present]
    wanted = set(final)
    to_remove = [key for key in current if key not in wanted]
    detail.update(to_add=to_add[:_DETAIL_ROWS], to_remove=to_remove[:_DETAIL_ROWS])
    if not desired and not saved.allow_empty:
        # An empty result is more often a broken source than a wish to empty the playlist.
        detail["error"] = "The recipe gave no tracks: the playlist was left as it was."
        return False
    record.added += len(to_add)
    record.removed += len(to_remove)
    record.kept += len(final) - len(to_add)
    if dry_run:
        return True
    description = record.detail.get("description", "")
    if not target.playlist_id:
        if final:
            target.playlist_id = adapter.create_playlist(saved.name, final, summary=description).id
            detail["playlist_id"] = target.playlist_id
    else:
        if final != current:
            adapter.update_playlist(target.playlist_id, final, title=saved.name, entries=entries)
        if description:
            adapter.set_playlist_summary(target.playlist_id, description)
    target.written_keys = [key for key in desired if key in wanted]
    target.save()
    return True


def _read_target(adapter, target, detail):
    """The target playlist's entries. One deleted on the server since the last run (or a
    server that forgot it, as the demo's does on restart) is made again, and the run says so."""
    if not target.playlist_id:
        return []
    try:
        return adapter.read_playlist(target.playlist_id)
    except SourceError as exc:
        if exc.kind != ErrorKind.NOT_FOUND:
            raise
    detail["notice"] = "The playlist was no longer on the server: it was made again."
    target.playlist_id = ""
    return []


def _wanted(mode, desired, current, written):
    """The playlist's contents after the run, in order."""
    if mode == WriteMode.APPEND:
        present = set(current)
        return current + [key for key in desired if key not in present]
    if mode == WriteMode.MERGE:
        # Tracks on the playlist that no run put there were added by hand, and stay.
        ours = set(written) | set(desired)
        return desired + [key for key in current if key not in ours]
    return desired
