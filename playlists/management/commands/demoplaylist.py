from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from library.sources import configured_sources
from playlists.models import RecipeError, SavedPlaylist, parse_every

NAME = "Weekly Exploration (demo)"
SOURCE = "listenbrainz:demo/weekly-exploration"


class Command(BaseCommand):
    help = (
        "Add the demo's saved playlist, a daily subscription to the fake ListenBrainz's "
        "Weekly Exploration (bin/run starts both); does nothing when it exists or outside the demo."
    )

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            self.stdout.write("Not the demo (MEDIASAGE_DEMO is not set): no demo playlist added.")
            return
        if SavedPlaylist.objects.filter(name=NAME).exists():
            return
        try:
            SavedPlaylist.add(NAME, SOURCE, configured_sources()[:1], every=parse_every("1d"))
        except RecipeError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Added the demo subscription {NAME!r} ({SOURCE}, every day): see /playlists/saved."
        )
