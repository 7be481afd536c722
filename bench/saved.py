"""A saved playlist's runs: a 500-entry subscription with 5 % changes, against the fake Plex.

    .venv/bin/python bench/saved.py [--tracks 20000] [--entries 500] [--changed 0.05]

Syncs the fake Plex's library into a fresh cache, saves a subscription to an M3U of
--entries cached tracks (`manage.py playlists add`), then times `manage.py playlists run`
as a user's script would call it: the first run (creates the playlist), a run after the
file changed by --changed of its entries (half dropped, half new tracks put in at random
places), and a run with nothing changed. Each line is the command's own count of requests
to Plex and its wall time (a new process: Django's start and the matcher's index of the
cache are in it). Target: the changed run costs at most 10 requests to Plex.
"""

import argparse
import os
import random
import sys

from _common import ROOT, Cleanup, env_for, header, new_data_dir, run_measured, start_fakeplex, table

from mediasage import processes

REQUEST_TARGET = 10


def cached_tracks(data, url, count):
    """(artist, title) of `count` + some spare cached tracks, in a random order."""
    os.environ.update(env_for(data, url))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from library.models import Track

    return list(Track.objects.order_by("?").values_list("artist", "title")[: count * 2])


def write_m3u(path, tracks):
    lines = ["#EXTM3U"]
    for i, (artist, title) in enumerate(tracks):
        lines += [f"#EXTINF:200,{artist} - {title}", f"/music/{i}.flac"]
    path.write_text("\n".join(lines), encoding="utf-8")


def playlists(cleanup, env, *args):
    measured = run_measured(cleanup, processes.manage("playlists", *args), env)
    if measured.returncode:
        raise RuntimeError(f"manage.py playlists {' '.join(args)} failed:\n{measured.stdout[-3000:]}")
    return measured


def figures(measured):
    """(added, removed, kept, requests to Plex) from the run's summary."""
    lines = measured.stdout.splitlines()
    counts = next(line for line in lines if line.startswith("added "))
    added, removed, kept = (int(part.split()[1]) for part in counts.split(", ")[:3])
    requests = next(line for line in lines if line.startswith("requests: "))
    plex = int(requests.split("plex ")[1].split(";")[0].split(",")[0])
    return added, removed, kept, plex


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, default=20000)
    parser.add_argument("--entries", type=int, default=500)
    parser.add_argument("--changed", type=float, default=0.05)
    args = parser.parse_args()

    header(f"bench/saved.py: a {args.entries}-entry subscription at {args.tracks:,} cached tracks")
    with Cleanup() as cleanup:
        logs = cleanup.tempdir("saved-logs")
        _, url = start_fakeplex(cleanup, args.tracks, logs / "fakeplex.log")
        data = new_data_dir(cleanup, "saved")
        env = env_for(data, url)
        synced = run_measured(cleanup, processes.manage("sync"), env, timeout=900)
        if synced.returncode:
            raise RuntimeError(f"the sync that fills the cache failed:\n{synced.stdout[-3000:]}")
        pool = cached_tracks(data, url, args.entries)
        entries, spare = pool[: args.entries], pool[args.entries :]
        source = logs / "weekly.m3u8"
        write_m3u(source, entries)
        playlists(cleanup, env, "add", "Bench weekly", "--source", str(source), "--to", "plex")

        rows = []
        first = playlists(cleanup, env, "run", "Bench weekly")
        rows.append(("first run (creates the playlist)", *figures(first), f"{first.wall_s:.2f}"))

        rng = random.Random(15)
        changes = max(2, round(args.entries * args.changed))
        for i in sorted(rng.sample(range(len(entries)), changes // 2), reverse=True):
            del entries[i]
        for track in spare[: changes - changes // 2]:
            entries.insert(rng.randrange(len(entries) + 1), track)
        write_m3u(source, entries)
        changed = playlists(cleanup, env, "run", "Bench weekly")
        rows.append((f"{changes} entries changed", *figures(changed), f"{changed.wall_s:.2f}"))

        same = playlists(cleanup, env, "run", "Bench weekly")
        rows.append(("nothing changed", *figures(same), f"{same.wall_s:.2f}"))

    print(table(["run", "added", "removed", "kept", "requests to Plex", "wall s"], rows))
    cost = figures(changed)[3]
    verdict = "TARGET MISSED" if cost > REQUEST_TARGET else "target met"
    print(f"\n{verdict}: the changed run took {cost} requests to Plex")
    return 1 if cost > REQUEST_TARGET else 0


if __name__ == "__main__":
    from _common import run

    run(main)
