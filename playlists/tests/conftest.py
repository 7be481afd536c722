import re
from collections import Counter

import pytest

from library.models import Track
from library.sync import claim, run_sync


@pytest.fixture
def synced(fake_plex, transactional_db):
    """The fake Plex's library, synced into the cache."""
    run_sync("plex", claim("plex"))
    fake_plex.reset_counts()
    return fake_plex


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
