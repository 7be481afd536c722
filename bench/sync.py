"""Full sync from the fake Plex, beside its floor (the same requests and parsing, no database).

    .venv/bin/python bench/sync.py [--tracks 18432 100000] [--repeat 3] [--page-size 1000]
                                   [--database sqlite postgres]

For each library size: the fake Plex runs in its own process (`manage.py fakeplex`); the floor,
the sync and `manage.py sync` each run in a process of their own against a fresh data dir, so
the peak RSS is that process's own (wait4's ru_maxrss). The floor and the sync are timed inside
their process (bench/_runner.py, Django start-up excluded); `manage.py sync` from outside, as a
user sees it, process start included. Targets (issue 14): the sync within 1.5x the floor and
`manage.py sync` within 2x it; peak RSS at most 120 MB at 100k, and flat in library size; at
most 2 x (track pages) + 20 requests, although the fake Plex, like real ones, lists only two
genres per item. `--database postgres` adds a sync into PostgreSQL (started by bin/services from Debian's
packages, a fresh database each run) beside the SQLite one; the PostgreSQL server's own
memory and CPU are not in its figures.
"""

import argparse
import re

from _common import (
    Cleanup,
    cpu_seconds,
    env_for,
    header,
    new_data_dir,
    processes,
    run,
    run_measured,
    runner,
    server_cpu_seconds,
    start_fakeplex,
    start_postgres,
    table,
)

RSS_LIMIT_MB = 120
RATIO_LIMITS = {"sync": 1.5, "manage.py sync": 2.0, "sync on PostgreSQL": 2.0}
# What each run measures, by the database asked for: the floor, then syncs into each.
_WHAT = {"sqlite": ("sync", "manage.py sync"), "postgres": ("sync on PostgreSQL",)}
_COMMANDS = {"manage.py sync": processes.manage("sync")}
# The command's last line: "plex: 18,432 tracks cached (...) in 3.1 s with 36 requests (...)".
_SUMMARY = re.compile(r"([\d,]+) tracks cached .* with (\d+) requests")


def measure(cleanup, tracks, repeat, page_size, databases, postgres):
    logs = cleanup.tempdir(f"logs-{tracks}")
    fake, url = start_fakeplex(cleanup, tracks, logs / "fakeplex.log")
    rows = []
    try:
        for i in range(repeat):
            for database, what in [("floor", "floor")] + [(d, w) for d in databases for w in _WHAT[d]]:
                data = new_data_dir(cleanup, f"{what.replace(' ', '-')}-{tracks}")
                env = env_for(data, url, SYNC_PAGE_SIZE=page_size)
                db_cpu = None
                if database == "postgres":
                    new_database, server = postgres
                    env["DATABASE_URL"] = new_database(f"bench_{tracks}_{i}")
                    db_cpu = server_cpu_seconds(server)
                fake_cpu = cpu_seconds(fake.pid)
                args = _COMMANDS.get(what) or runner("floor" if what == "floor" else "sync")
                m = run_measured(cleanup, args, env, timeout=900)
                fake_cpu = cpu_seconds(fake.pid) - fake_cpu
                if db_cpu is not None:
                    db_cpu = server_cpu_seconds(server) - db_cpu
                if m.returncode:
                    raise RuntimeError(f"{what} at {tracks} tracks failed (exit {m.returncode}):\n{m.stdout}")
                r = _result(what, m)
                if r["track_count"] != tracks:
                    raise RuntimeError(f"{what} saw {r['track_count']} tracks, expected {tracks}")
                rows.append(
                    {
                        "tracks": tracks,
                        "run": i + 1,
                        "what": what,
                        "wall_s": r["wall_s"],
                        "requests": r["requests"],
                        "peak_rss_mb": m.peak_rss_mb,
                        "base_rss_mb": r.get("rss_before_mb"),
                        "cpu_s": m.cpu_s,
                        "fake_cpu_s": fake_cpu,
                        "db_cpu_s": db_cpu,
                    }
                )
                print(
                    f"  {tracks:>7,} {what:<18} run {i + 1}: {r['wall_s']:.2f} s, {r['requests']} requests, "
                    f"peak RSS {m.peak_rss_mb:.0f} MB",
                    flush=True,
                )
    finally:
        cleanup.stop(fake)
    return rows


def _result(what, m):
    """What a run reported: the runner's JSON line, or the command's summary line with the
    process's own wall time (start-up included)."""
    if what not in _COMMANDS:
        return m.json()
    found = _SUMMARY.search(m.stdout)
    if not found:
        raise RuntimeError(f"{what} printed no summary:\n{m.stdout[-2000:]}")
    return {"wall_s": m.wall_s, "track_count": int(found[1].replace(",", "")), "requests": int(found[2])}


def _row(tracks, row, runs, vs_floor):
    return [
        f"{tracks:,}",
        row["what"],
        f"{row['wall_s']:.2f}",
        f"{tracks / row['wall_s']:,.0f}",
        row["requests"],
        f"{max(r['peak_rss_mb'] for r in runs):.0f}",
        f"{row['cpu_s']:.1f}",
        f"{row['fake_cpu_s']:.1f}",
        "-" if row["db_cpu_s"] is None else f"{row['db_cpu_s']:.1f}",
        vs_floor,
    ]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, nargs="+", default=[18432, 100000])
    parser.add_argument(
        "--repeat", type=int, default=3, help="floor+sync pairs per size (the median is shown)"
    )
    parser.add_argument("--page-size", type=int, default=1000, help="SYNC_PAGE_SIZE, for floor and sync")
    parser.add_argument(
        "--database", nargs="+", choices=sorted(_WHAT), default=["sqlite"], help="where the syncs write"
    )
    args = parser.parse_args()

    header("bench/sync.py: full sync vs the no-database floor")
    whats = ["floor", *(what for d in args.database for what in _WHAT[d])]
    with Cleanup() as cleanup:
        postgres = start_postgres(cleanup) if "postgres" in args.database else None
        rows = []
        for tracks in args.tracks:
            rows += measure(cleanup, tracks, args.repeat, args.page_size, args.database, postgres)

    print()
    out, failures, best = [], [], {}
    page_size = args.page_size
    for tracks in args.tracks:
        runs = {what: [r for r in rows if r["tracks"] == tracks and r["what"] == what] for what in whats}
        # The median run of each (by wall time), and the sync/floor ratio of each pair as run.
        median = {w: sorted(runs[w], key=lambda r: r["wall_s"])[(len(runs[w]) - 1) // 2] for w in whats}
        fl = median["floor"]
        out.append(_row(tracks, fl, runs["floor"], "1.00x"))
        for what in whats[1:]:
            sy = median[what]
            best[(tracks, what)] = {**sy, "peak_rss_mb": max(r["peak_rss_mb"] for r in runs[what])}
            ratio = sy["wall_s"] / fl["wall_s"]
            pairs = sorted(s["wall_s"] / f["wall_s"] for f, s in zip(runs["floor"], runs[what], strict=True))
            spread = f" ({pairs[0]:.2f}-{pairs[-1]:.2f})" if len(pairs) > 1 else ""
            out.append(_row(tracks, sy, runs[what], f"{ratio:.2f}x{spread}"))
            budget = 2 * -(-tracks // page_size) + 20
            if sy["requests"] > budget:
                failures.append(f"{tracks:,} tracks: {what} made {sy['requests']} requests (budget {budget})")
            if ratio > (limit := RATIO_LIMITS[what]):
                failures.append(f"{tracks:,} tracks: {what} takes {ratio:.2f}x the floor (target {limit}x)")
            peak = max(r["peak_rss_mb"] for r in runs[what])
            if tracks >= 100000 and peak > RSS_LIMIT_MB:
                failures.append(
                    f"{tracks:,} tracks: {what} peak RSS {peak:.0f} MB (target <= {RSS_LIMIT_MB} MB)"
                )
    headers = [
        "tracks",
        "what",
        "wall s",
        "tracks/s",
        "requests",
        "peak RSS MB",
        "CPU s",
        "fake CPU s",
        "db CPU s",
        "vs floor",
    ]
    print(table(headers, out))
    syncs = [best[(t, whats[1])] for t in sorted(args.tracks)]
    if len(syncs) > 1:
        small, big = syncs[0], syncs[-1]
        growth = big["peak_rss_mb"] - small["peak_rss_mb"]
        per_10k = growth / ((big["tracks"] - small["tracks"]) / 10000)
        print(
            f"\nsync peak RSS: {small['peak_rss_mb']:.0f} MB at {small['tracks']:,} -> "
            f"{big['peak_rss_mb']:.0f} MB at {big['tracks']:,} tracks "
            f"({growth:+.0f} MB, {per_10k:+.1f} MB per 10k tracks; Django+plexapi baseline "
            f"{big['base_rss_mb']:.0f} MB before the sync starts)"
        )
        if per_10k > 2:
            failures.append(f"sync peak RSS grows {per_10k:.1f} MB per 10k tracks (target: flat)")
    print(
        "\nwall s: the median run; floor and syncs: claim to result inside the process (Django start-up\n"
        "excluded); manage.py sync: the process from start to exit. vs floor: median / median floor (in\n"
        "brackets: the range of the ratios of the runs as paired). peak RSS:\n"
        "the highest of the runs (the process's own ru_maxrss). CPU s: that process's user+sys; fake CPU s:\n"
        "the fake Plex process's CPU over the same run; db CPU s: the PostgreSQL server's processes'\n"
        "(SQLite's work is in the sync's own CPU s)."
    )
    print("\n" + ("TARGETS MISSED:\n  " + "\n  ".join(failures) if failures else "all targets met"))
    return 1 if failures else 0


if __name__ == "__main__":
    run(main)
