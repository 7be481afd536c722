import contextlib
import re
import signal
import subprocess
from collections import Counter
from dataclasses import replace

import pytest

from library.models import Track
from library.sync import sync
from mediasage.processes import ROOT, app_env, manage
from playlists.fakes.deezer import FakeDeezerServer
from playlists.fakes.listenbrainz import FakeListenBrainzServer


@pytest.fixture
def synced(fake_plex, transactional_db):
    """The fake Plex's library, synced into the cache."""
    sync("plex")
    fake_plex.reset_counts()
    return fake_plex


@pytest.fixture
def best_of(fake_plex, transactional_db):
    """The fake Plex's library with one recording on two of its artist's albums, synced:
    the album it was on is renamed a later "Greatest Hits", and a new, earlier studio
    album (so with higher rating keys) holds the same recording. Returns the cached
    (original, best-of copy)."""
    lib = fake_plex.library
    with lib.lock:
        counts = Counter((t.artist_key, t.title) for t in lib.tracks.values())
        track = next(
            t
            for t in lib.tracks.values()
            if counts[t.artist_key, t.title] == 1
            and t.track_artist is None
            and not t.truth_live
            and not lib.albums[t.album_key].truth_live
            and lib.artists[t.artist_key].title != "Various Artists"
            and not re.search(r"[(\[]| - ", t.title)
        )
        best_of = lib.albums[track.album_key]
        best_of.title, best_of.year = "Greatest Hits", 2015
        album = replace(best_of, key=lib.take_key(), title="First Light", year=1985)
        lib.albums[album.key] = album
        copy = replace(
            track, rating_key=lib.take_key(), album_key=album.key, duration_ms=track.duration_ms + 1500
        )
        lib.tracks[copy.rating_key] = copy
    sync("plex")
    fake_plex.reset_counts()
    return Track.objects.get(rating_key=copy.rating_key), Track.objects.get(rating_key=track.rating_key)


@pytest.fixture
def m3u(tmp_path):
    """An M3U of cached tracks, in a given order, plus two that are not in the library."""

    def make(tracks):
        lines = ["#EXTM3U", "#PLAYLIST:Friday Night"]
        for t in tracks:
            lines += [f"#EXTINF:200,{t.artist} - {t.title}", f"/music/{t.rating_key}.flac"]
        lines += [
            "#EXTINF:200,Nobody Here - Not A Real Song",
            "x.mp3",
            "#EXTINF:200,Ghost Band - Phantom",
            "y.mp3",
        ]
        path = tmp_path / "friday.m3u8"
        path.write_text("\n".join(lines), encoding="utf-8")
        return path

    return make


def studio_tracks(n):
    """Cached tracks that only one cached track could match: plain titles whose
    artist and title appear nowhere else in the library, even with a suffix."""

    def base(track):
        title = re.split(r" [(\[-]", track.title)[0]
        return track.artist.casefold(), title.casefold()

    tracks = list(Track.objects.order_by("rating_key"))
    counts = Counter(base(t) for t in tracks)
    plain = [t for t in tracks if counts[base(t)] == 1 and not re.search(r"[(\[]| - |feat", t.title)]
    return plain[:n]


@pytest.fixture(params=["plex", "jellyfin"])
def big_library(request, plex_factory, settings, transactional_db):
    """A fake server of each kind holding 6,000 tracks, synced into the cache: saving
    is one contract for both. Returns (source, server)."""
    if request.param == "plex":
        server = plex_factory(6000, seed=5, token="big-token")
        settings.PLEX_URL, settings.PLEX_TOKEN, settings.PLEX_LIBRARY = server.url, server.token, ""
        yield "plex", _synced("plex", server)
        return
    from library.fakes.jellyfin import FakeJellyfinServer, FakeLibrary

    with FakeJellyfinServer(library=FakeLibrary(tracks=6000, seed=5), api_key="big-key") as server:
        settings.JELLYFIN_URL, settings.JELLYFIN_API_KEY = server.url, server.api_key
        settings.JELLYFIN_USER_ID = settings.JELLYFIN_LIBRARY = ""
        yield "jellyfin", _synced("jellyfin", server)


def _synced(source, server):
    sync(source)
    server.reset_counts()
    return server


@pytest.fixture
def fake_listenbrainz(settings):
    """The fake ListenBrainz API, empty, with LISTENBRAINZ_API_URL pointing at it."""
    with FakeListenBrainzServer() as server:
        settings.LISTENBRAINZ_API_URL = server.url
        yield server


@pytest.fixture
def fake_deezer(settings):
    """The fake Deezer API, empty, with DEEZER_API_URL pointing at it."""
    with FakeDeezerServer() as server:
        settings.DEEZER_API_URL = server.url
        yield server


@pytest.fixture
def serve_command(tmp_path):
    """Run a fake's command (`serve_command("fakedeezer", "--port", "0")`) as a
    context: it gives the command's first line of output, and on leaving, Ctrl-C
    must stop the command cleanly."""

    @contextlib.contextmanager
    def serve(*args):
        proc = subprocess.Popen(
            manage(*args), cwd=ROOT, env=app_env(tmp_path), stdout=subprocess.PIPE, text=True
        )
        try:
            yield proc.stdout.readline()
            proc.send_signal(signal.SIGINT)
            assert proc.wait(10) == 0
        finally:
            proc.kill()
            proc.stdout.close()

    return serve


# Looks like an OpenAI key, so a leak of it would be plain to see.
LLM_KEY = "sk-test-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


@pytest.fixture(scope="session")
def _fake_llm_server():
    from playlists.fakes.llm import FakeLLMServer

    with FakeLLMServer(api_key=LLM_KEY) as server:
        yield server


@pytest.fixture
def fake_llm(_fake_llm_server, settings):
    """The fake model, behaving, with settings pointing at it (model fake-small)."""
    from playlists.fakes.llm import DEFAULT_MODELS

    server = _fake_llm_server
    server.reset()
    server.models = list(DEFAULT_MODELS)
    server.api_key = LLM_KEY
    server.retry_after = 1
    server.faults.hang_seconds = 5
    settings.LLM_BASE_URL = server.base_url
    settings.LLM_API_KEY = LLM_KEY
    settings.LLM_MODEL = "fake-small"
    settings.LLM_TIMEOUT = 1
    yield server
    server.reset()
