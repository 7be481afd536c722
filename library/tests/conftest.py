import pytest

from library.tests.servers import JELLYFIN, PLEX, Server


@pytest.fixture(params=[PLEX, JELLYFIN], ids=["plex", "jellyfin"])
def server(request):
    """Each fake server in turn, with the settings pointing at it (fake_plex, fake_jellyfin)."""
    name, label, adapter, expected, key = request.param
    fake = request.getfixturevalue(f"fake_{name}")
    return Server(name, label, fake, adapter, expected, key)
