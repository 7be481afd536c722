"""A saved playlist's runs: a 500-entry ListenBrainz subscription with 5 % changes,
against the fake Plex and the fake Jellyfin.

    .venv/bin/python bench/saved.py [--servers plex jellyfin] [--tracks 20000] [--entries 500]
                                      [--changed 0.05]

For each server: the fake server runs in its own process (`manage.py fakeplex` or
`fakejellyfin`) and is synced into a fresh cache; the fake ListenBrainz runs in this
process, made from the same generated library, and serves a "Weekly Exploration" of
--entries tracks for the user `bench` (two of them songs the library lacks, as real
ones have). The subscription `listenbrainz:bench/weekly-exploration` is saved with
`manage.py playlists add`, then `manage.py playlists run` is timed as a user's script
calls it: the first run (creates the playlist); a run after a new week's playlist
replaced --changed of the entries (half dropped, half new tracks put in at random
places: the run must follow the newest); and a run with nothing changed. Each line is
the command's own count of requests to the media server, the fake ListenBrainz's count
of requests to it, and the wall time (a new process: Django's start and the matcher's
index of the cache are in it). Target (issue 15's "a 200-track playlist with 10 changes
costs at most 10 requests"): the changed run costs at most one request to the media
server per entry changed.
"""

import argparse
import random

from _common import TOKEN, Cleanup, env_for, header, new_data_dir, run_measured, start_fake, table

from library.fakes.plexdata import FakeLibrary
from mediasage import processes
from playlists.fakes.demo import library_entries
from playlists.fakes.listenbrainz import FakeListenBrainzServer

USER = "bench"
_LABELS = {"plex": "Plex", "jellyfin": "Jellyfin"}


def playlists(cleanup, env, *args):
    measured = run_measured(cleanup, processes.manage("playlists", *args), env)
    if measured.returncode:
        raise RuntimeError(f"manage.py playlists {' '.join(args)} failed:\n{measured.stdout[-3000:]}")
    return measured


def figures(measured, server):
    """(added, removed, kept, unmatched, requests to the server) from the run's summary."""
    lines = measured.stdout.splitlines()
    counts = next(line for line in lines if line.startswith("added "))
    added, removed, kept, unmatched = (int(part.split()[1]) for part in counts.split(", ")[:4])
    requests = next(line for line in lines if line.startswith("requests: "))
    sent = int(requests.split(f"{server} ")[1].split(";")[0].split(",")[0])
    return added, removed, kept, unmatched, sent


def changed_week(entries, spare, share, rng):
    """The next week's entries: `share` of them replaced, half dropped and half new."""
    entries = list(entries)
    changes = max(2, round(len(entries) * share))
    for i in sorted(rng.sample(range(len(entries)), changes // 2), reverse=True):
        del entries[i]
    for entry in spare[: changes - changes // 2]:
        entries.insert(rng.randrange(len(entries) + 1), entry)
    return entries, changes


def bench_server(cleanup, server, args, library, listenbrainz):
    """The three runs against one server; returns (rows, requests of the changed run, entries changed)."""
    logs = cleanup.tempdir(f"saved-{server}-logs")
    _, url = start_fake(cleanup, server, args.tracks, logs / f"fake{server}.log")
    data = new_data_dir(cleanup, f"saved-{server}")
    urls = {
        "plex": {"PLEX_URL": url, "PLEX_TOKEN": TOKEN},
        "jellyfin": {"JELLYFIN_URL": url, "JELLYFIN_API_KEY": TOKEN},
    }
    env = env_for(data, LISTENBRAINZ_API_URL=listenbrainz.url, **urls[server])
    synced = run_measured(cleanup, processes.manage("sync"), env, timeout=900)
    if synced.returncode:
        raise RuntimeError(f"the sync that fills the {server} cache failed:\n{synced.stdout[-3000:]}")

    pool = library_entries(library, args.entries * 2, seed=f"bench:{server}")
    entries, spare = pool[: args.entries], pool[args.entries :]
    listenbrainz.playlists.clear()
    listenbrainz.add_playlist(
        "Weekly Exploration for bench, week 1", entries, created_for=USER, source_patch="weekly-exploration"
    )
    spec = f"listenbrainz:{USER}/weekly-exploration"
    playlists(cleanup, env, "add", "Bench weekly", "--source", spec, "--to", server)

    def timed(label):
        listenbrainz.reset_counts()
        measured = playlists(cleanup, env, "run", "Bench weekly")
        figures_ = figures(measured, server)
        source = sum(listenbrainz.requests.values())
        rows.append((_LABELS[server], label, *figures_, source, f"{measured.wall_s:.2f}"))
        return figures_[-1]

    rows = []
    timed("first run (creates the playlist)")
    week2, changes = changed_week(entries, spare, args.changed, random.Random(15))
    listenbrainz.add_playlist(
        "Weekly Exploration for bench, week 2", week2, created_for=USER, source_patch="weekly-exploration"
    )
    cost = timed(f"a new week, {changes} entries changed")
    timed("nothing changed")
    return rows, cost, changes


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", nargs="+", choices=list(_LABELS), default=list(_LABELS))
    parser.add_argument("--tracks", type=int, default=20000)
    parser.add_argument("--entries", type=int, default=500)
    parser.add_argument("--changed", type=float, default=0.05)
    args = parser.parse_args()

    header(
        f"bench/saved.py: a {args.entries}-entry ListenBrainz subscription at {args.tracks:,} cached tracks"
    )
    library = FakeLibrary(tracks=args.tracks, seed=1)  # the fakes' library: same seed, same tracks
    rows, missed = [], []
    with Cleanup() as cleanup, FakeListenBrainzServer() as listenbrainz:
        for server in args.servers:
            server_rows, cost, changes = bench_server(cleanup, server, args, library, listenbrainz)
            rows += server_rows
            if cost > changes:
                missed.append(f"{_LABELS[server]}: {cost} requests for {changes} entries changed")

    headers = ["server", "run", "added", "removed", "kept", "unmatched", "requests to server"]
    print(table([*headers, "requests to ListenBrainz", "wall s"], rows))
    if missed:
        print(f"\nTARGET MISSED: more than one request per change ({'; '.join(missed)})")
        return 1
    print("\ntarget met: the changed run took at most one request per change on each server")
    return 0


if __name__ == "__main__":
    from _common import run

    run(main)
