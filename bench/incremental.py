"""Incremental sync at 100k tracks: what a re-sync costs beside a full sync, and whether it is right.

    .venv/bin/python bench/incremental.py [--tracks 100000] [--no-check] [--mode MODE ...]

Each mode is a fake Plex that honours change filters and field hints (`honoured`), ignores
field hints such as excludeFields (`hints-ignored`), or ignores every filter
(`filters-ignored`: each re-sync must notice and read everything); all three by default.

The fake Plex runs in this process, so the script can change its library between syncs
with the fake's own mutation methods; each sync runs in a process of its own
(bench/_runner.py), so its wall time and peak RSS are that process's. Steps:

  1. full sync (sync("plex", full=True)) of a fresh cache
  2. re-sync, library unchanged
  3. re-sync after 1% of the tracks changed (FakeLibrary.change_tracks: retitles and ratings)
  4. re-sync after 0.5% added and 0.5% removed (add_tracks / remove_tracks)
  5. re-sync after plays and rating changes that do not move updatedAt, as on a real Plex

After steps 3-5 the cache is compared, row for row, with a fresh full sync of the same library
(every Track column but the local id and updated_at). Targets (issue 14): unchanged at most 10%
of a full sync and 10 requests, a changed library at most 25%, and its cache equals a full
sync's; where the server ignores filters, at most 1.2 x a full sync.
"""

import argparse
import random
import sqlite3
import statistics
import sys
import time

from _common import ROOT, TOKEN, Cleanup, env_for, header, new_data_dir, run, run_measured, runner, table

sys.path.insert(0, str(ROOT))
from library.fakes.plex import FakeLibrary, FakePlexServer  # noqa: E402

UNCHANGED_LIMIT, UNCHANGED_REQUESTS, CHANGED_LIMIT, IGNORED_LIMIT = 0.10, 10, 0.25, 1.2
MODES = {
    "honoured": {},
    "hints-ignored": {"ignore_field_hints": True},
    "filters-ignored": {"ignore_filters": True},
}


class Bench:
    def __init__(self, cleanup, fake, check):
        self.cleanup = cleanup
        self.fake = fake
        self.check = check
        self.data = new_data_dir(cleanup, "incremental")
        self.rows = []
        self.problems = []
        self.full_walls = []  # every full sync's wall time: step 1 and the reference syncs

    def sync(self, data, full=False):
        self.fake.reset_counts()
        args = runner("sync", *(["--full"] if full else []))
        cpu = time.process_time()  # this process only serves the fake Plex meanwhile
        m = run_measured(self.cleanup, args, env_for(data, self.fake.url), timeout=900)
        fake_cpu = time.process_time() - cpu
        r = m.json()
        if m.returncode or "error" in r:
            raise RuntimeError(f"sync failed (exit {m.returncode}):\n{m.stdout[-3000:]}")
        r.update(peak_rss_mb=m.peak_rss_mb, cpu_s=m.cpu_s, fake_cpu_s=fake_cpu)
        return r

    def step(self, name, full=False, compare=False):
        r = self.sync(self.data, full=full)
        if full:
            self.full_walls.append(r["wall_s"])
        match = self.compare() if compare and self.check else ""
        self.rows.append((name, r, match))
        print(
            f"  {name}: {r['wall_s']:.2f} s ({r.get('mode') or 'n/a'}), {r['requests']} requests, "
            f"+{r['added']} ~{r['updated']} -{r['removed']}, peak RSS {r['peak_rss_mb']:.0f} MB {match}",
            flush=True,
        )
        if match.startswith("DIFFERS"):
            self.problems.append(f"{name}: cache {match}")
        return r

    def compare(self):
        """The cache against a fresh full sync of the library as it is now."""
        ref = new_data_dir(self.cleanup, "reference")
        self.full_walls.append(self.sync(ref, full=True)["wall_s"])
        diff = diff_caches(self.data / "library_cache.db", ref / "library_cache.db")
        return f"DIFFERS from a fresh full sync: {diff}" if diff else "== full sync"


def diff_caches(db, ref):
    """'' when both caches hold the same tracks, else what differs (counts and a few keys)."""
    con = sqlite3.connect(db)
    try:
        con.execute("ATTACH DATABASE ? AS ref", (str(ref),))
        cols = [
            row[1]
            for row in con.execute("PRAGMA table_info(library_track)")
            if row[1] not in ("id", "updated_at")
        ]
        sel = ", ".join(cols)
        only_here = con.execute(
            f"SELECT rating_key, title, user_rating FROM (SELECT {sel} FROM main.library_track "
            f"EXCEPT SELECT {sel} FROM ref.library_track) ORDER BY rating_key"
        ).fetchall()
        only_ref = con.execute(
            f"SELECT rating_key, title, user_rating FROM (SELECT {sel} FROM ref.library_track "
            f"EXCEPT SELECT {sel} FROM main.library_track) ORDER BY rating_key"
        ).fetchall()
    finally:
        con.close()
    if not only_here and not only_ref:
        return ""
    return (
        f"{len(only_here)} rows only in the incremental cache (e.g. {only_here[:3]}), "
        f"{len(only_ref)} only in the full sync's (e.g. {only_ref[:3]})"
    )


def plays_and_ratings(library, n, seed=7):
    """Play n tracks and re-rate n others the way Plex records it: lastViewedAt and
    lastRatedAt move, updatedAt does not."""
    rng = random.Random(seed)
    now = int(time.time())
    with library.lock:
        keys = rng.sample(sorted(library.tracks), 2 * n)
        for key in keys[:n]:
            t = library.tracks[key]
            t.view_count += 1
            t.last_viewed_at = now
        for key in keys[n:]:
            t = library.tracks[key]
            t.user_rating = rng.choice([r for r in (None, 2.0, 4.0, 6.0, 8.0, 10.0) if r != t.user_rating])
            t.last_rated_at = now


def bench_mode(cleanup, mode, n, check):
    """Steps 1-5 against a fake Plex in this mode; returns (table rows, problems)."""
    t = time.monotonic()
    library = FakeLibrary(tracks=n, seed=1)
    print(f"\n## mode {mode}: fake library generated in {time.monotonic() - t:.1f} s", flush=True)
    with FakePlexServer(library=library, token=TOKEN) as fake:
        bench = Bench(cleanup, fake, check=check)
        bench.step("1. full sync", full=True)
        for name, value in MODES[mode].items():
            setattr(fake, name, value)
        bench.step("2. unchanged")
        library.change_tracks(n // 100)
        bench.step(f"3. 1% changed ({n // 100:,} tracks)", compare=True)
        library.add_tracks(n // 200)
        library.remove_tracks(n // 200)
        bench.step(f"4. +{n // 200:,} added, -{n // 200:,} removed", compare=True)
        plays_and_ratings(library, n // 500)
        bench.step(f"5. {n // 500:,} played + {n // 500:,} re-rated, updatedAt kept", compare=True)

    full_s = statistics.median(bench.full_walls)
    print(
        f"full sync wall time: median of {len(bench.full_walls)} (step 1 and the checks' fresh caches): "
        f"{full_s:.2f} s ({', '.join(f'{s:.2f}' for s in bench.full_walls)})"
    )
    out = []
    for i, (name, r, match) in enumerate(bench.rows):
        fraction = r["wall_s"] / full_s
        out.append(
            [
                mode,
                name,
                f"{r.get('mode') or 'n/a'}: {r.get('why') or '-'}",
                f"{r['wall_s']:.2f}",
                f"{fraction:.0%}",
                r["requests"],
                f"+{r['added']:,} ~{r['updated']:,} -{r['removed']:,}",
                f"{r['peak_rss_mb']:.0f}",
                f"{r['fake_cpu_s']:.1f}",
                match or "-",
            ]
        )
        if i:
            bench.problems += _missed(mode, name, r, fraction, unchanged=i == 1)
    return out, bench.problems


def _missed(mode, name, r, fraction, unchanged):
    """The targets this re-sync missed, in words."""
    where = f"{mode}, {name}"
    if mode == "filters-ignored":
        if fraction > IGNORED_LIMIT:
            return [f"{where}: {fraction:.0%} of a full sync (target <= {IGNORED_LIMIT:.0%})"]
        return []
    if r.get("mode") == "full":
        return [f"{where}: ran as a full sync, not incrementally"]
    limit = UNCHANGED_LIMIT if unchanged else CHANGED_LIMIT
    missed = [f"{where}: {fraction:.0%} of a full sync (target <= {limit:.0%})"] if fraction > limit else []
    if unchanged and r["requests"] > UNCHANGED_REQUESTS:
        missed.append(f"{where}: {r['requests']} requests (target <= {UNCHANGED_REQUESTS})")
    return missed


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, default=100000)
    parser.add_argument("--no-check", action="store_true", help="skip the comparisons with a fresh full sync")
    parser.add_argument("--mode", nargs="+", choices=list(MODES), default=list(MODES))
    args = parser.parse_args()
    n = args.tracks

    header(f"bench/incremental.py: re-syncs of a {n:,}-track library, modes {', '.join(args.mode)}")
    out, problems = [], []
    with Cleanup() as cleanup:
        for mode in args.mode:
            rows, missed = bench_mode(cleanup, mode, n, check=not args.no_check)
            out += rows
            problems += missed
    headers = [
        "fake",
        "step",
        "mode: why",
        "wall s",
        "of full",
        "requests",
        "changes",
        "peak RSS MB",
        "fake CPU s",
        "check",
    ]
    print("\n" + table(headers, out))
    print("\n" + ("TARGETS MISSED:\n  " + "\n  ".join(problems) if problems else "all targets met"))
    return 1 if problems else 0


if __name__ == "__main__":
    run(main)
