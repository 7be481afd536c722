"""Reads at 100k cached tracks: status, first page, filter previews, playlist picks.

    .venv/bin/python bench/reads.py [--tracks 100000] [-n 50] [--no-http]

Fills a fresh cache with a real sync from the fake Plex (its own process), then times,
n times each, median / p95 / max in ms:
  - in this process, with Django's test Client (the app and the database, no network):
    GET /api/library/status, GET / (the builder: first page render), GET /playlists/preview
    with several filter sets, and playlists.generate.pick() with the same filter sets;
  - over real HTTP against gunicorn as docker-compose runs it (2 workers x 4 threads),
    one client at a time: the same pages, and GET /playlists/generate for the picks.
"first" is the first call of each in the process (for GET /, the genre/decade counts are not cached yet).
Target (from playlists/generate.py): well under 100 ms, so p95 <= 100 ms is checked.
"""

import argparse
import os
import sys
import time
from urllib.parse import urlencode

import requests
from _common import (
    ROOT,
    Cleanup,
    env_for,
    free_port,
    header,
    new_data_dir,
    run,
    run_measured,
    runner,
    start_fakeplex,
    summary,
    table,
    time_calls,
    wait_until,
    web_command,
)

LIMIT_MS = 100


def fill_cache(cleanup, tracks):
    logs = cleanup.tempdir("reads-logs")
    fake, url = start_fakeplex(cleanup, tracks, logs / "fakeplex.log")
    data = new_data_dir(cleanup, "reads")
    m = run_measured(cleanup, runner("sync"), env_for(data, url), timeout=900)
    cleanup.stop(fake)  # nothing below talks to Plex
    r = m.json()
    if m.returncode or r.get("track_count") != tracks:
        raise RuntimeError(f"the sync that fills the cache failed:\n{m.stdout[-3000:]}")
    print(f"cache filled: {r['track_count']:,} tracks in {r['wall_s']:.1f} s\n", flush=True)
    return data, url


def filter_sets():
    """(name, query pairs), built from what the cache holds."""
    from playlists.generate import artist_names, decade_counts, genre_counts

    genres = [g for g, _ in genre_counts()]
    decades = [d for d, _ in sorted(decade_counts(), key=lambda dn: -dn[1])]
    artists = artist_names(limit=5)
    return [
        ("no filters", []),
        (f"1 genre ({genres[0]})", [("genre", genres[0])]),
        ("3 genres", [("genre", g) for g in genres[len(genres) // 2 : len(genres) // 2 + 3]]),
        ("2 decades, rating >= 6", [("decade", decades[0]), ("decade", decades[1]), ("min_rating", 6)]),
        ("3 artists, no live", [*(("artist", a) for a in artists[:3]), ("exclude_live", "1")]),
        (
            "2 genres, 3 decades, rating >= 4, no live, minus 1 artist",
            [
                *(("genre", g) for g in genres[:2]),
                *(("decade", d) for d in decades[:3]),
                ("min_rating", 4),
                ("exclude_live", "1"),
                ("exclude_artist", artists[0]),
            ],
        ),
        # Smart recipes (issue 15): the sorts read every match in order.
        ("most played", [("sort", "most_played")]),
        ("least played, not played in 30 days", [("sort", "least_played"), ("not_played_days", 30)]),
        ("newest added, 1 genre", [("sort", "newest"), ("genre", genres[0])]),
        (
            "played 1-20 times, 2-8 min, rating <= 4½, oldest added",
            [
                ("min_plays", 1),
                ("max_plays", 20),
                ("min_track_minutes", 2),
                ("max_track_minutes", 8),
                ("max_rating", 9),
                ("sort", "oldest"),
            ],
        ),
        ("added in 365 days, never played", [("added_days", 365), ("never_played", "1")]),
    ]


def in_process(data, url, n):
    """Django's test Client and direct calls, in this process."""
    os.environ.clear()
    os.environ.update(env_for(data, url))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.http import QueryDict
    from django.test import Client

    from playlists.generate import Filters, pick, preview

    client = Client(HTTP_HOST="localhost")  # an allowed host; 127.0.0.1 needs no sign-in here

    def get(path):
        def call():
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: HTTP {response.status_code}")

        return call

    rows = []

    def measure(what, fn, note="", cold=True):
        first = time_calls(fn, 1)[0] if cold else None
        rows.append((what, first, summary(time_calls(fn, n)), note))
        print(f"  {what}: median {rows[-1][2]['median']:.1f} ms", flush=True)

    get("/api/library/status")()  # imports and URL resolver, not the thing measured
    measure("GET /api/library/status", get("/api/library/status"))
    measure("GET / (builder, first page)", get("/"))
    sets = filter_sets()
    for name, pairs in sets:
        count = preview(Filters.from_query(QueryDict(urlencode(pairs)))).count
        measure(
            f"GET /playlists/preview: {name}", get("/playlists/preview?" + urlencode(pairs)), f"{count:,}"
        )
    for name, pairs in [
        *sets,
        ("no filters, 1000 tracks", [("count", 1000)]),
        ("60 minutes", [("max_minutes", 60)]),
        ("most played, 600 minutes", [("sort", "most_played"), ("count", ""), ("max_minutes", 600)]),
    ]:
        filters = Filters.from_query(QueryDict(urlencode(pairs)))
        got = len(pick(filters))
        measure(f"pick(): {name}", lambda f=filters: pick(f), f"{got} tracks", cold=False)
    return rows, sets


def over_http(cleanup, data, url, n, sets):
    """Real HTTP against gunicorn as docker-compose runs it, one request at a time."""
    port = free_port()
    logs = cleanup.tempdir("reads-gunicorn")
    web = cleanup.spawn(web_command(port), env_for(data, url), log=logs / "web.log")
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    wait_until(lambda: session.get(base + "/api/library/status", timeout=5).ok, 60, "gunicorn")
    rows = []

    def get(path):
        def call():
            response = session.get(base + path, timeout=30)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: HTTP {response.status_code}")

        return call

    paths = [("GET /api/library/status", "/api/library/status"), ("GET / (builder, first page)", "/")]
    paths += [(f"GET /playlists/preview: {name}", "/playlists/preview?" + urlencode(p)) for name, p in sets]
    paths += [(f"GET /playlists/generate: {name}", "/playlists/generate?" + urlencode(p)) for name, p in sets]
    for what, path in paths:
        # Both workers answer in turn; warm-up calls fill each one's counts cache.
        rows.append((what, None, summary(time_calls(get(path), n, warmup=4)), ""))
        print(f"  {what}: median {rows[-1][2]['median']:.1f} ms", flush=True)
    cleanup.stop(web)
    return rows


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, default=100000)
    parser.add_argument("-n", type=int, default=50, help="timed calls of each")
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn measurements")
    args = parser.parse_args()

    header(f"bench/reads.py: reads at {args.tracks:,} cached tracks, n={args.n}")
    problems = []
    with Cleanup() as cleanup:
        data, url = fill_cache(cleanup, args.tracks)
        print("in process (Django test Client, direct pick() calls):", flush=True)
        t = time.monotonic()
        local, sets = in_process(data, url, args.n)
        print(f"  ({time.monotonic() - t:.0f} s)\n", flush=True)
        remote = []
        if not args.no_http:
            print("over HTTP (gunicorn --workers 2 --threads 4, one client):", flush=True)
            remote = over_http(cleanup, data, url, args.n, sets)

    for title, rows in (("in process", local), ("HTTP via gunicorn", remote)):
        if not rows:
            continue
        print(f"\n{title}:")
        out = []
        for what, cold, s, note in rows:
            out.append(
                [
                    what,
                    "-" if cold is None else f"{cold:.1f}",
                    f"{s['median']:.1f}",
                    f"{s['p95']:.1f}",
                    f"{s['max']:.1f}",
                    note or "-",
                ]
            )
            if s["p95"] > LIMIT_MS:
                problems.append(f"{title}: {what}: p95 {s['p95']:.0f} ms (target <= {LIMIT_MS} ms)")
        print(table(["what", "first ms", "median ms", "p95 ms", "max ms", "result"], out))
    print("\n" + ("TARGETS MISSED:\n  " + "\n  ".join(problems) if problems else "all targets met"))
    return 1 if problems else 0


if __name__ == "__main__":
    run(main)
