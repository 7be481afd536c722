from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from library.models import SyncBusy, SyncState
from library.sources import configured_sources
from library.sync import SyncFailed, sync
from playlists import saving
from playlists.importers import PlaylistFormatError, read_playlist
from playlists.management.commands._saving import save_or_fail
from playlists.matching import Matcher


class Command(BaseCommand):
    help = (
        "Match an M3U/M3U8, CSV, JSPF or XSPF playlist against the cached library and save it to the "
        "media server, with zero per-track server requests."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the playlist file")
        parser.add_argument("--to", dest="source", choices=["plex", "jellyfin"], default="plex")
        parser.add_argument("--name", help="playlist name (default: the file's own)")
        parser.add_argument(
            "--mode", choices=list(saving.MODES), default="sync", help="default: sync by name"
        )
        parser.add_argument("--playlist", help="id or title of the playlist, for --mode replace/append")
        parser.add_argument("--dry-run", action="store_true", help="match and report, save nothing")
        parser.add_argument(
            "--sync-first", action="store_true", help="sync the cache first if empty or stale"
        )

    def handle(self, *args, source, file, name, mode, playlist, dry_run, sync_first, **options):
        if source not in configured_sources():
            raise CommandError(f"{source} is not configured (see README: settings).")
        path = Path(file)
        try:
            parsed = read_playlist(path.read_bytes(), path.name)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from None
        except PlaylistFormatError as exc:
            raise CommandError(f"{file}: {exc}") from None

        if sync_first and SyncState.for_source(source).sync_due():
            self._sync(source)
        if warning := saving.cache_warning(source):
            self.stderr.write(f"Warning: {warning.message}")
        if not SyncState.for_source(source).track_count:
            raise CommandError("The cache is empty: run `python manage.py sync` (or pass --sync-first).")

        results = Matcher.for_source(source).match_all(parsed.entries)
        self._report(parsed, results)
        keys = [r.track.rating_key for r in results if r.status == "matched"]
        if dry_run:
            self.stdout.write("Dry run: nothing saved.")
            return
        title = name or parsed.name
        self.stdout.write(
            save_or_fail(lambda: saving.save(source, title, keys, mode=mode, playlist_id=playlist), source)
        )

    def _report(self, parsed, results):
        counts = {"matched": 0, "ambiguous": 0, "unmatched": 0}
        for result in results:
            counts[result.status] += 1
            entry = f"{result.entry.artist} - {result.entry.title}"
            if result.status == "matched" and result.candidates:
                took = result.track
                year = f" ({took.year})" if took.year else ""
                self.stdout.write(
                    f"  =  {entry}: the same recording is on {len(result.candidates)} albums; "
                    f"took {took.album}{year} [{took.rating_key}]"
                )
            elif result.status == "ambiguous":
                self.stdout.write(f"  ?  {entry}: several tracks fit, left out:")
                for c in result.candidates:
                    self.stdout.write(f"       {c.artist} - {c.title} ({c.album}) [{c.rating_key}]")
            elif result.status == "unmatched":
                self.stdout.write(f"  ✗  {entry}: not in the library")
        summary = ", ".join(f"{n} {status}" for status, n in counts.items())
        skipped = f"; {parsed.skipped_summary()}" if parsed.skipped else ""
        self.stdout.write(f"“{parsed.name}”: {len(results)} entries: {summary}{skipped}.")

    def _sync(self, source):
        try:
            sync(source)
        except SyncBusy:
            raise CommandError("A sync is already running; try again when it finishes.") from None
        except SyncFailed as exc:
            raise CommandError(f"Sync failed: {exc.message}") from None
