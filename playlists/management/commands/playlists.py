from django.core.management.base import BaseCommand, CommandError

from playlists import runs
from playlists.models import RecipeError, SavedPlaylist, parse_every
from playlists.vocab import Outcome, WriteMode


class Command(BaseCommand):
    help = "Saved playlists that keep themselves up to date: add, run, list, remove."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="save a playlist recipe and its targets")
        add.add_argument("name")
        add.add_argument(
            "--source",
            required=True,
            help="smart (with --filters), plex:TITLE or jellyfin:TITLE (a mirror), "
            "an http(s) URL, a file, listenbrainz:USER/weekly-exploration, or prompt:SENTENCE",
        )
        add.add_argument("--to", action="append", required=True, choices=["plex", "jellyfin"])
        add.add_argument("--mode", choices=WriteMode.values, default=WriteMode.REPLACE)
        add.add_argument("--every", default="", help="6h, 1d, 1w (default: only when run)")
        add.add_argument(
            "--filters",
            default="",
            help="the builder's query string, for --source smart; tracks=N or minutes=M for a prompt",
        )
        add.add_argument("--allow-empty", action="store_true", help="let an empty result empty the target")
        run = actions.add_parser("run", help="run a saved playlist now, in the foreground")
        run.add_argument("name")
        run.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
        actions.add_parser("list", help="the saved playlists and their last run")
        remove = actions.add_parser("remove", help="forget a saved playlist (its server playlists stay)")
        remove.add_argument("name")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _add(self, name, source, to, mode, every, filters, allow_empty, **options):
        try:
            saved = SavedPlaylist.add(
                name,
                source,
                to,
                mode=mode,
                every=parse_every(every),
                filters=filters,
                allow_empty=allow_empty,
            )
        except RecipeError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Saved {saved.name!r}: {_describe(saved)}.")

    def _run(self, name, dry_run, **options):
        saved = _get(name)
        record = runs.run(saved.pk, dry_run=dry_run)
        if record is None:
            raise CommandError(f"{saved.name!r} is already running; try again when it has finished.")
        self.stdout.write(_summary(record))
        if record.outcome == Outcome.FAILED:
            raise CommandError(record.error)

    def _list(self, **options):
        for saved in SavedPlaylist.objects.prefetch_related("targets"):
            last = saved.last_run
            result = f"last run {last.started_at:%Y-%m-%d %H:%M}: {_result(last)}" if last else "never run"
            self.stdout.write(f"{saved.name}: {_describe(saved)}; {result}")

    def _remove(self, name, **options):
        saved = _get(name)
        saved.delete()
        self.stdout.write(f"Removed {saved.name!r}; its playlists on the servers are left as they are.")


def _get(name):
    try:
        return SavedPlaylist.objects.get(name=" ".join(name.split()))
    except SavedPlaylist.DoesNotExist:
        raise CommandError(f"No saved playlist called {name!r} (see `playlists list`).") from None


def _describe(saved):
    servers = " and ".join(t.get_server_display() for t in saved.targets.all())
    kind, mode = saved.get_kind_display().lower(), saved.get_mode_display().lower()
    return f"{kind} to {servers}, {mode}, {saved.schedule_label}"


def _result(record):
    return record.get_outcome_display() + (f" ({record.error})" if record.error else "")


def _summary(record):
    requests = ", ".join(f"{server} {count}" for server, count in sorted(record.requests.items())) or "none"
    lines = [
        f"{record.saved.name}: {_result(record)}{' (dry run: nothing written)' if record.dry_run else ''}",
        f"added {record.added}, removed {record.removed}, kept {record.kept}, unmatched {record.unmatched}",
        f"requests: {requests}; {record.duration_ms / 1000:.1f} s",
    ]
    for server, target in sorted(record.detail.get("targets", {}).items()):
        if target.get("notice"):
            lines.append(f"{server}: {target['notice']}")
    return "\n".join(lines)
