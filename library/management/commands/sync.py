import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.timesince import timesince

from library.models import SyncBusy, SyncState
from library.sources import NOT_CONFIGURED, configured_sources
from library.sync import SyncFailed, sync
from library.vocab import Mode, Phase, Why

# The phases worth a line of their own; the rest are over in a moment.
_SHOWN = {Phase.CONNECTING, Phase.ALBUMS, Phase.CHANGES, Phase.TRACKS, Phase.DELETIONS, Phase.SAVING}
# The phases that count tracks as they go.
_COUNTED = {Phase.TRACKS, Phase.DELETIONS}


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
        if if_stale and not state.sync_due():
            self.stdout.write(
                f"{source}: cache is fresh (synced {timesince(state.last_sync_at)} ago); nothing to do."
            )
            return
        progress = _Progress(self.stdout, tty=sys.stdout.isatty())
        try:
            result = sync(source, on_progress=progress.update, full=full)
        except SyncBusy as exc:
            raise CommandError(f"{exc} Wait for it to finish.") from None
        except SyncFailed as exc:
            raise CommandError(f"{source} sync failed: {exc.message}") from None
        finally:
            progress.end()
        if result is None:
            raise CommandError(f"{source} sync was taken over by another process.")
        self.stdout.write(
            f"{source}: {result.track_count:,} tracks cached (+{result.added:,} added, "
            f"{result.updated:,} updated, -{result.removed:,} removed) in {result.duration_ms / 1000:.1f} s "
            f"with {result.requests} requests ({Mode(result.mode).label.lower()} sync: "
            f"{Why(result.why).label})."
        )


class _Progress:
    """A progress bar on a terminal; a line per phase and every tenth otherwise."""

    def __init__(self, out, tty):
        self.out, self.tty = out, tty
        self.phase = None
        self.last_tenth = -1

    def update(self, state):
        if state.phase != self.phase:
            self.end()
            self.phase = state.phase
            if self.phase in _SHOWN and not (self.tty and self.phase == Phase.TRACKS):
                self.out.write(f"{state.phase_label}...")
        if self.phase not in _COUNTED or not state.total:
            return
        current, total = state.current, state.total
        if self.tty:
            bar = "#" * int(current / total * 30)
            self.out.write(f"\r[{bar:<30}] {current:,} / {total:,} tracks", ending="")
            self.out.flush()
        elif (tenth := current * 10 // total) > self.last_tenth:
            self.last_tenth = tenth
            self.out.write(f"  {current:,} / {total:,} tracks")

    def end(self):
        if self.tty and self.phase in _COUNTED:
            self.out.write("")
