"""Serve a fake Jellyfin server with a generated music library, for demos and manual tests."""

from library.fakes.jellyfin import FakeJellyfinServer
from library.management.commands import fakeplex


class Command(fakeplex.Command):
    help = "Serve a fake Jellyfin server with a generated music library until Ctrl-C."
    label = "Jellyfin"
    default_port = 8096

    def make_server(self, library, options):
        return FakeJellyfinServer(
            library=library,
            api_key=options["token"],
            host=options["host"],
            port=options["port"],
            library_title=options["section_title"],
        )
