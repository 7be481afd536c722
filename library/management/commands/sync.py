import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils.timesince import timesince

from library.models import SyncState
from library.sources import NOT_CONFIGURED, SourceError, configured_sources
from library.sync import SyncBusy, claim, run_sync

_PHASES = {
    "connecting": "Connecting",
    "albums": "Reading albums and artists",
    "changes": "Reading what changed",
    "tracks": "Reading tracks",
    "saving": "Saving to the cache",
}


class Command(BaseCommand):
    help = "Sync the media server's music library into the local cache, in the foreground."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-stale", action="store_true", help="only sync when the cache is stale or empty"
        )
        parser.add_argument(
            "--source", choices=["plex", "jellyfin"], help="which server (default: every one)"
        )
        parser.add_argument(
            "--full", action="store_true", help="read the whole library, not only what changed"
        )

    def handle(self, *args, if_stale=False, source=None, full=False, **options):
        sources = [source] if source else configured_sources()
        if not sources or not set(sources) <= set(configured_sources()):
            raise CommandError(NOT_CONFIGURED)
        for name in sources:
            self._sync(name, if_stale, full)

    def _sync(self, source, if_stale, full):
        state = SyncState.for_source(source)
        if if_stale and not state.is_stale and state.track_count:
            self.stdout.write(
                f"{source}: cache is fresh (synced {timesince(state.last_sync_at)} ago); nothing to do."
            )
            return
        try:
            run_id = claim(source)
        except SyncBusy as exc:
            raise CommandError(f"{exc} Wait for it to finish.") from None
        progress = _Progress(self.stdout, tty=sys.stdout.isatty())
        try:
            result = run_sync(source, run_id, on_progress=progress.update, full=full)
        except (SourceError, DatabaseError) as exc:
            progress.end()
            raise CommandError(f"{source} sync failed: {getattr(exc, 'message', exc)}") from None
        progress.end()
        if result is None:
            raise CommandError(f"{source} sync was taken over by another process.")
        self.stdout.write(
            f"{source}: {result.track_count:,} tracks cached (+{result.added:,} added, "
            f"{result.updated:,} updated, -{result.removed:,} removed) in {result.duration_ms / 1000:.1f} s "
            f"with {result.requests} requests ({result.mode} sync)."
        )


class _Progress:
    """A progress bar on a terminal; a line per phase and every tenth otherwise."""

    def __init__(self, out, tty):
        self.out, self.tty = out, tty
        self.phase = None
        self.current = self.total = 0
        self.last_tenth = -1

    def update(self, fields):
        self.current = fields.get("current", self.current)
        self.total = fields.get("total", self.total)
        phase = fields.get("phase", self.phase)
        if phase != self.phase:
            self.end()
            self.phase = phase
            if phase in _PHASES and not (self.tty and phase == "tracks"):
                self.out.write(f"{_PHASES[phase]}...")
        if self.phase != "tracks" or not self.total:
            return
        if self.tty:
            done = self.current / self.total
            bar = "#" * int(done * 30)
            self.out.write(f"\r[{bar:<30}] {self.current:,} / {self.total:,} tracks", ending="")
            self.out.flush()
        elif (tenth := self.current * 10 // self.total) > self.last_tenth:
            self.last_tenth = tenth
            self.out.write(f"  {self.current:,} / {self.total:,} tracks")

    def end(self):
        if self.tty and self.phase == "tracks":
            self.out.write("")
