"""Imports at 100k cached tracks: how long a short import takes, and whether concurrent
imports slow the footer's polling.

    .venv/bin/python bench/imports.py [--tracks 100000] [--imports 20] [--concurrent 8]

Production layout on 127.0.0.1: the fake Plex (manage.py fakeplex), a fresh data dir filled
by `manage.py sync`, then gunicorn as docker-compose runs it (--workers 2 --threads 4).
1. POST /playlists/import with a two-line CSV, --imports times one after another: the first
   in each web worker builds the matcher's index of the cache (once per cache state), the
   others reuse it.
2. Four clients poll GET /library/footer every 0.25 s for 10 s alone, then for 10 s while
   --concurrent clients each post that import once a second (eight users uploading at once).
Targets: a short import's p95 under 1 s at 100k; the footer's p95 during imports no more
than 100 ms.
"""

import argparse
import threading
import time

import requests
from _common import (
    PYTHON,
    Cleanup,
    env_for,
    free_port,
    header,
    new_data_dir,
    run,
    run_measured,
    start_fakeplex,
    summary,
    table,
    wait_until,
)

CSV = b"Artist,Title\nNobody Known,Nothing Like It\nAnother Name,Some Song\n"


def post_import(session, base):
    token = session.cookies.get("csrftoken") or ""
    start = time.perf_counter()
    response = session.post(
        base + "/playlists/import",
        files={"file": ("short.csv", CSV, "text/csv")},
        data={"source": "plex"},
        headers={"X-CSRFToken": token},
        timeout=60,
    )
    response.raise_for_status()
    return (time.perf_counter() - start) * 1000


def new_session(base):
    session = requests.Session()
    session.get(base + "/playlists/import", timeout=30).raise_for_status()  # the CSRF cookie
    return session


def poll_footer(base, seconds):
    """Milliseconds of each footer poll by 4 clients, every 0.25 s, for `seconds`."""
    times, stop = [], time.monotonic() + seconds

    def client():
        session = requests.Session()
        while time.monotonic() < stop:
            start = time.perf_counter()
            session.get(base + "/library/footer", timeout=60).raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
            time.sleep(0.25)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, default=100000)
    parser.add_argument("--imports", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=8)
    args = parser.parse_args()

    header(f"bench/imports.py: short imports and footer polling at {args.tracks:,} cached tracks")
    problems = []
    with Cleanup() as cleanup:
        logs = cleanup.tempdir("imports-logs")
        _, url = start_fakeplex(cleanup, args.tracks, logs / "fakeplex.log")
        data = new_data_dir(cleanup, "imports")
        env = env_for(data, url)
        synced = run_measured(cleanup, [PYTHON, "manage.py", "sync", "--full"], env)
        if synced.returncode:
            raise RuntimeError(f"manage.py sync failed:\n{synced.stdout}")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cleanup.spawn(
            [PYTHON, "-m", "gunicorn", "mediasage.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--threads", "4"],
            env,
            log=logs / "web.log",
        )  # fmt: skip
        wait_until(lambda: requests.get(base + "/api/library/status", timeout=5).ok, 60, "gunicorn")

        # A fresh session per import: each may land on either web worker.
        times = [post_import(new_session(base), base) for _ in range(args.imports)]
        cold = times[:2]  # at most one build per web worker
        warm = summary(times[len(cold) :])
        rows = [
            ["first two (may build the index)", len(cold), f"{min(cold):.0f}", "", f"{max(cold):.0f}"],
            ["the rest", warm["n"], f"{warm['median']:.0f}", f"{warm['p95']:.0f}", f"{warm['max']:.0f}"],
        ]
        print(table(["two-line CSV import", "n", "median ms", "p95 ms", "max ms"], rows))
        if warm["p95"] >= 1000:
            problems.append(f"a short import's p95 is {warm['p95']:.0f} ms (target: under 1 s)")

        alone = summary(poll_footer(base, 10))
        stop = threading.Event()
        posted = []

        def importer():
            session = new_session(base)
            while not stop.is_set():
                posted.append(post_import(session, base))
                stop.wait(1)

        importers = [threading.Thread(target=importer) for _ in range(args.concurrent)]
        for t in importers:
            t.start()
        busy = summary(poll_footer(base, 10))
        stop.set()
        for t in importers:
            t.join()
        rows = [
            ["alone", alone["n"], f"{alone['median']:.1f}", f"{alone['p95']:.1f}", f"{alone['max']:.1f}"],
            [f"during {args.concurrent} concurrent imports ({len(posted)} done)", busy["n"],
             f"{busy['median']:.1f}", f"{busy['p95']:.1f}", f"{busy['max']:.1f}"],
        ]  # fmt: skip
        print()
        print(table(["footer polls (4 clients)", "n", "median ms", "p95 ms", "max ms"], rows))
        if busy["p95"] > 100:
            problems.append(f"the footer's p95 during imports is {busy['p95']:.0f} ms (target: ≤ 100 ms)")
    for problem in problems:
        print(f"MISSED: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    run(main)
