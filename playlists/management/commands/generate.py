from django.core.management.base import BaseCommand, CommandError

from library.models import SyncState
from library.sources import configured_sources
from playlists import llm, prompting
from playlists.management.commands._saving import save_or_fail


class Command(BaseCommand):
    help = (
        "Make a playlist from a sentence with the model at LLM_BASE_URL, from the cached library "
        "only, and save it to the media server."
    )

    def add_arguments(self, parser):
        parser.add_argument("prompt", help='what the playlist should be: "rainy Sunday jazz, about an hour"')
        parser.add_argument("--to", dest="source", choices=["plex", "jellyfin"], default="plex")
        parser.add_argument("--name", help="playlist name (default: the model's title)")
        length = parser.add_mutually_exclusive_group()
        length.add_argument("--tracks", type=int, help=f"tracks (1-{prompting.MAX_TRACKS})")
        length.add_argument("--minutes", type=int, help="minutes, roughly")
        parser.add_argument("--model", help="one of the endpoint's models (default: LLM_MODEL)")
        parser.add_argument("--dry-run", action="store_true", help="generate and print, save nothing")

    def handle(self, *args, prompt, source, name, tracks, minutes, model, dry_run, **options):
        if source not in configured_sources():
            raise CommandError(f"{source} is not configured (see README: settings).")
        if not SyncState.for_source(source).track_count:
            raise CommandError("The cache is empty: run `python manage.py sync` first.")
        rules = prompting.read_rules(prompt, source, tracks, minutes)
        self.stdout.write("Rules: " + ("; ".join(rules.found) or "none found: the model chooses"))
        try:
            result = prompting.generate(rules, model=model)
        except (llm.LLMError, prompting.NothingMatches) as exc:
            raise CommandError(f"Nothing saved: {exc}") from None
        self._report(result)
        if dry_run:
            self.stdout.write("Dry run: nothing saved. Requests to the media server: 0.")
            return
        keys = [pick.track.rating_key for pick in result.checked.picks]
        title = name or result.title
        self.stdout.write(
            save_or_fail(lambda: prompting.save(source, title, keys, result.description), source)
        )

    def _report(self, result):
        checked = result.checked
        self.stdout.write(f"{result.title}\n{result.description}")
        for n, pick in enumerate(checked.picks, 1):
            mark = "+" if pick.filled else " "
            self.stdout.write(f"{n:3}{mark} {pick.track.artist} - {pick.track.title}: {pick.reason}")
        notes = [
            f"{count} {words}"
            for count, words in (
                (checked.invented, "invented by the model (not in the library), dropped"),
                (checked.duplicates, "duplicates dropped"),
                (checked.broke_rules, "breaking the rules dropped"),
                (checked.over_cap, "over an artist's quarter dropped"),
                (checked.filled, "added from the candidates (+): the model gave too few"),
                (checked.cut, "cut: the model gave too many"),
            )
            if count
        ]
        if notes:
            self.stdout.write("Checks: " + "; ".join(notes) + ".")
        self.stdout.write(
            f"Tokens: {result.prompt_tokens:,} sent, {result.completion_tokens:,} answered ({result.model}); "
            f"{len(result.pool.tracks):,} candidates of {result.pool.matching:,}; "
            f"{result.model_seconds:.1f} s the model, {result.app_seconds:.2f} s MediaSage."
        )
