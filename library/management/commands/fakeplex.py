"""Serve a fake Plex Media Server with a generated music library, for demos and manual tests."""

import contextlib
import threading

from django.core.management.base import BaseCommand

from library.fakes.plex import FakeLibrary, FakePlexServer


class Command(BaseCommand):
    help = "Serve a fake Plex Media Server with a generated music library until Ctrl-C."
    label = "Plex"
    default_port = 32400
    # Needs no database: it must run before (or without) migrations.
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=self.default_port, help="0 picks a free port")
        parser.add_argument("--tracks", type=int, default=18432)
        parser.add_argument("--token", default=f"fake-{self.label.lower()}-token", help="token or API key")
        parser.add_argument("--seed", type=int, default=1, help="same seed, same library")
        parser.add_argument("--section-title", default="Music", help="the music library's title")
        if self.label == "Plex":  # switches only the fake Plex has (the Jellyfin command reuses this one)
            parser.add_argument(
                "--ignore-filters",
                nargs="?",
                const="all",
                metavar="NAMES",
                help="answer filtered listings as if unfiltered: all filters, or these (comma-separated)",
            )
            parser.add_argument(
                "--ignore-field-hints", action="store_true", help="ignore excludeFields and includeFields"
            )

    def handle(self, *args, **options):
        library = FakeLibrary(tracks=options["tracks"], seed=options["seed"])
        with self.make_server(library, options) as server:
            self.stdout.write(
                f"Fake {self.label} serving {len(library.tracks)} tracks at {server.url} "
                f"with token {options['token']} (not a secret). Ctrl-C to stop."
            )
            self.stdout.flush()
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()

    def make_server(self, library, options):
        server = FakePlexServer(
            library=library,
            token=options["token"],
            host=options["host"],
            port=options["port"],
            section_title=options["section_title"],
        )
        ignored = options["ignore_filters"]
        server.ignore_filters = ignored == "all" or set((ignored or "").split(",")) - {""}
        server.ignore_field_hints = options["ignore_field_hints"]
        return server
