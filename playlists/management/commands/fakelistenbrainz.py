"""Serve a fake ListenBrainz API whose playlists come from the demo library."""

import contextlib
import threading

from django.core.management.base import BaseCommand

from library.fakes.plexdata import FakeLibrary
from playlists.fakes.demo import fill_listenbrainz
from playlists.fakes.listenbrainz import FakeListenBrainzServer


class Command(BaseCommand):
    help = "Serve a fake ListenBrainz API, with created-for playlists from the demo library, until Ctrl-C."
    default_port = 8110
    # Needs no database, like fakeplex.
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=self.default_port, help="0 picks a free port")
        parser.add_argument("--tracks", type=int, default=18432, help="the demo library's size (as fakeplex)")
        parser.add_argument("--seed", type=int, default=1, help="the demo library's seed (as fakeplex)")
        parser.add_argument("--user", default="demo", help="whom the playlists are created for")

    def handle(self, *args, **options):
        library = FakeLibrary(tracks=options["tracks"], seed=options["seed"])
        with self.serve(library, options) as server:
            self.stdout.write(self.summary(server, options))
            self.stdout.flush()
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()

    def serve(self, library, options):
        server = FakeListenBrainzServer(host=options["host"], port=options["port"])
        return fill_listenbrainz(server, library, user=options["user"])

    def summary(self, server, options):
        user = options["user"]
        return (
            f"Fake ListenBrainz serving {len(server.playlists)} playlists at {server.url}. "
            f"Set LISTENBRAINZ_API_URL={server.url} and subscribe to listenbrainz:{user}/weekly-exploration "
            f"or listenbrainz:{user}/weekly-jams. Ctrl-C to stop."
        )
