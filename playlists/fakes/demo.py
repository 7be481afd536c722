"""Outside playlists made from a fake media server's library, so a subscription to the
fake ListenBrainz or Deezer matches the demo library (and misses a few, as real ones do).

Standard library only (and playlists.importers.Entry); no Django.
"""

import random
from datetime import UTC, datetime, timedelta

from library.fakes.plexdata import recording_mbid
from playlists.importers import Entry

# Songs no generated library holds: every outside playlist has some.
_STRANGERS = [
    Entry("Sigur Rós", "Hoppípolla", "Takk...", 268000, mbid="5f0cb5a5-4d8b-4f0d-9d3e-3b2a1c8f9e01"),
    Entry("YOASOBI", "夜に駆ける", "THE BOOK", 261000, isrc="JPP302000257"),
    Entry("Daft Punk", "Get Lucky", "Random Access Memories", 369000, isrc="USQX91300108"),
    Entry("Nick Drake", "Pink Moon", "Pink Moon", 124000),
]


def library_entries(library, count, seed, strangers=2):
    """`count` entries: tracks of `library` picked by `seed`, as an outside service
    lists them (performer, title, album, length, recording id where the files are
    tagged with one, a made-up ISRC), with `strangers` songs it lacks among them."""
    rng = random.Random(seed)
    with library.lock:
        tracks = rng.sample(list(library.tracks.values()), min(count - strangers, len(library.tracks)))
        entries = [
            Entry(
                track.track_artist or library.artists[track.artist_key].title,
                track.title,
                library.albums[track.album_key].title,
                track.duration_ms,
                mbid=recording_mbid(track),
                isrc=f"ZZMSG{track.rating_key % 10**7:07d}",
            )
            for track in tracks
        ]
    for stranger in _STRANGERS[:strangers]:
        entries.insert(rng.randrange(len(entries) + 1), stranger)
    return entries


def fill_listenbrainz(server, library, user="demo", size=50):
    """Three weeks of Weekly Exploration and Weekly Jams for `user`, newest last."""
    monday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday -= timedelta(days=monday.weekday())
    for weeks_ago in (2, 1, 0):
        week = monday - timedelta(weeks=weeks_ago)
        for n, (kind, name) in enumerate(
            (("weekly-exploration", "Weekly Exploration"), ("weekly-jams", "Weekly Jams"))
        ):
            server.add_playlist(
                f"{name} for {user}, week of {week:%Y-%m-%d %a}",
                library_entries(library, size, seed=f"{kind}:{week:%Y-%m-%d}"),
                created_for=user,
                source_patch=kind,
                date=week + timedelta(hours=n),
            )
    return server


def fill_deezer(server, library, size=120):
    """One playlist long enough to be read in pages; returns its id."""
    return server.add_playlist("Road Trip (Deezer)", library_entries(library, size, seed="deezer"))
