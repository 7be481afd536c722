"""Serve a fake Deezer API whose playlist comes from the demo library."""

from playlists.fakes.deezer import FakeDeezerServer
from playlists.fakes.demo import fill_deezer
from playlists.management.commands import fakelistenbrainz


class Command(fakelistenbrainz.Command):
    help = "Serve a fake Deezer API, with a playlist from the demo library, until Ctrl-C."
    default_port = 8111

    def serve(self, library, options):
        server = FakeDeezerServer(host=options["host"], port=options["port"])
        server.embedded = 100  # the demo playlist is read in pages, as long ones are
        self.playlist_id = fill_deezer(server, library)
        return server

    def summary(self, server, options):
        return (
            f"Fake Deezer serving a playlist of {len(server.playlists[self.playlist_id][1])} tracks at "
            f"{server.url}. Set DEEZER_API_URL={server.url} and subscribe to "
            f"https://www.deezer.com/playlist/{self.playlist_id}. Ctrl-C to stop."
        )
