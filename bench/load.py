"""Status polling under load: 20 clients poll /api/library/status every second during a 100k sync.

    .venv/bin/python bench/load.py [--tracks 100000] [--clients 20] [--timeout 600]

Production layout, all on 127.0.0.1: gunicorn as docker-compose runs it (mediasage.wsgi,
--workers 2 --threads 4), the django-q2 worker (manage.py qcluster), and the fake Plex
(manage.py fakeplex), each its own process, on a fresh data dir. The clients start polling,
the sync is asked for with POST /api/library/sync (CSRF cookie and header, as the page does),
then the worker is started and runs it; polling goes on until the status shows it done, and
a few seconds more. Gives up after --timeout seconds.

Reports status codes, "database is locked" in any response or server log, tracebacks in the
logs, latency p50/p95/max overall and per sync phase, and the peak RSS of the processes.
Target: no 5xx, no "database is locked".
"""

import argparse
import collections
import contextlib
import random
import threading
import time
from pathlib import Path

import requests
from _common import (
    Cleanup,
    env_for,
    free_port,
    header,
    new_data_dir,
    percentile,
    processes,
    run,
    start_fakeplex,
    table,
    wait_until,
    web_command,
)

LOCKED = "database is locked"


class Poller(threading.Thread):
    """One client: GET the status once a second (a random phase in the second), as a browser tab does."""

    def __init__(self, base, stop, results, latest):
        super().__init__(daemon=True)
        self.base, self.stop, self.results, self.latest = base, stop, results, latest

    def run(self):
        session = requests.Session()
        start = time.monotonic() + random.random()
        tick = 0
        while not self.stop.is_set():
            delay = start + tick - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                break
            sent = time.monotonic()
            code, phase, locked = None, "?", False
            try:
                response = session.get(self.base + "/api/library/status", timeout=30)
                code = response.status_code
                locked = LOCKED in response.text
                with contextlib.suppress(ValueError):
                    status = response.json()
                    phase = _phase(status)
                    self.latest.update(status=status, at=time.monotonic())
            except requests.RequestException as exc:
                code = type(exc).__name__
            self.results.append((sent, (time.monotonic() - sent) * 1000, code, phase, locked))
            # The next whole second after this answer: a slow answer skips ticks, as a browser's would.
            tick = max(tick + 1, int(time.monotonic() - start) + 1)


def _phase(status):
    if status.get("is_syncing"):
        return status.get("phase") or "syncing"
    return "after sync" if status.get("synced_at") else "before sync"


class RssWatch(threading.Thread):
    """Peak RSS (VmHWM) of every process in the given process groups, sampled twice a second."""

    def __init__(self, groups, stop):
        super().__init__(daemon=True)
        self.groups, self.stop = groups, stop
        self.peak = {}  # pid -> (group name, command, peak MB)

    def run(self):
        while not self.stop.wait(0.5):
            self.sample()

    def sample(self):
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                name = self.groups.get(int(stat[2]))  # the process group
                if name is None:
                    continue
                hwm = next(
                    int(line.split()[1]) / 1024
                    for line in (proc / "status").read_text().splitlines()
                    if line.startswith("VmHWM:")
                )
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, StopIteration, IndexError, ValueError):
                continue
            old = self.peak.get(int(proc.name), (name, cmd, 0))[2]
            self.peak[int(proc.name)] = (name, cmd.strip(), max(old, hwm))


def scan_logs(logs):
    found = {}
    for path in sorted(logs.glob("*.log")):
        text = path.read_text(errors="replace")
        found[path.name] = {
            "database is locked": text.count(LOCKED),
            "Traceback": text.count("Traceback"),
            "WORKER TIMEOUT": text.count("WORKER TIMEOUT"),
            " ERROR ": text.count(" ERROR "),
        }
    return found


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, default=100000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--timeout", type=int, default=600, help="give up after this many seconds")
    args = parser.parse_args()

    header(f"bench/load.py: {args.clients} clients polling the status during a {args.tracks:,}-track sync")
    problems = []
    results = []
    latest = {}
    stop = threading.Event()
    with Cleanup() as cleanup:
        logs = cleanup.tempdir("load-logs")
        fake, url = start_fakeplex(cleanup, args.tracks, logs / "fakeplex.log")
        data = new_data_dir(cleanup, "load")
        env = env_for(data, url, LOG_LEVEL="INFO")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        web = cleanup.spawn(web_command(port), env, log=logs / "web.log")
        session = requests.Session()
        wait_until(lambda: session.get(base + "/api/library/status", timeout=5).ok, 60, "gunicorn")

        pollers = [Poller(base, stop, results, latest) for _ in range(args.clients)]
        for p in pollers:
            p.start()
        time.sleep(3)  # a baseline before the sync

        token = session.cookies.get("csrftoken")
        posted = time.monotonic()
        response = session.post(base + "/api/library/sync", headers={"X-CSRFToken": token or ""}, timeout=10)
        print(f"POST /api/library/sync: HTTP {response.status_code} {response.text.strip()}", flush=True)
        if response.status_code != 202:
            problems.append(f"POST /api/library/sync answered {response.status_code}, not 202")
        worker = cleanup.spawn(processes.WORKER, env, log=logs / "worker.log")
        watch = RssWatch({web.pid: "web", worker.pid: "worker"}, stop)
        watch.start()

        done_at = None
        deadline = posted + args.timeout
        last_print = 0
        while time.monotonic() < deadline:
            status = latest.get("status") or {}
            if status.get("synced_at") and not status.get("is_syncing"):
                done_at = time.monotonic()
                break
            if status.get("error"):
                problems.append(f"the sync failed: {status['error']}")
                break
            if time.monotonic() - last_print > 10:
                last_print = time.monotonic()
                progress = status.get("sync_progress") or {}
                print(
                    f"  {time.monotonic() - posted:5.0f} s: {status.get('phase') or '-'} "
                    f"{progress.get('current', 0):,}/{progress.get('total', 0):,}, {len(results)} polls",
                    flush=True,
                )
            if web.poll() is not None or worker.poll() is not None:
                problems.append("gunicorn or the worker exited during the run")
                break
            time.sleep(0.2)
        else:
            problems.append(f"the sync did not finish within {args.timeout} s: gave up")
        if done_at:
            time.sleep(5)  # and a little after
        stop.set()
        for p in pollers:
            p.join(35)
        watch.sample()
        final = session.get(base + "/api/library/status", timeout=10).json()
        cleanup.stop(worker)
        cleanup.stop(web)
        cleanup.stop(fake)
        log_hits = scan_logs(logs)

    codes = collections.Counter(r[2] for r in results)
    latencies = [r[1] for r in results]
    locked = sum(r[4] for r in results)
    print(f"\nstatus polls: {len(results):,} by {args.clients} clients; codes: {dict(codes)}")
    if done_at:
        last = final.get("last_sync") or {}
        took = (last.get("duration_ms") or 0) / 1000
        print(
            f"sync: {final['track_count']:,} tracks, {done_at - posted:.1f} s from POST to 'done' seen by a "
            f"client; the sync itself {took:.1f} s, {last.get('requests')} requests"
        )
    rows = [["all", len(latencies), *_stats(latencies)]]
    by_phase = collections.defaultdict(list)
    for _, ms, _, phase, _ in sorted(results):
        by_phase[phase].append(ms)
    for phase, values in by_phase.items():
        rows.append([phase, len(values), *_stats(values)])
    print()
    print(table(["phase (as the answer said)", "polls", "p50 ms", "p95 ms", "max ms"], rows))
    print()
    peaks = sorted(watch.peak.items(), key=lambda item: (item[1][0], item[0]))
    print(
        table(
            ["process", "pid", "peak RSS MB"],
            [[f"{g}: {c[:70]}", pid, f"{mb:.0f}"] for pid, (g, c, mb) in peaks],
        )
    )
    print("\nserver logs:")
    for name, hits in log_hits.items():
        print(f"  {name}: " + ", ".join(f"{k.strip()} x{v}" for k, v in hits.items()))

    errors_5xx = sum(n for code, n in codes.items() if isinstance(code, int) and code >= 500)
    failed = sum(n for code, n in codes.items() if not isinstance(code, int))
    if errors_5xx:
        problems.append(f"{errors_5xx} answers were 5xx")
    if failed:
        problems.append(f"{failed} polls got no answer (connection error or 30 s timeout)")
    if locked:
        problems.append(f'{locked} answers contained "{LOCKED}"')
    for name, hits in log_hits.items():
        if hits["database is locked"]:
            problems.append(f'{name} logged "{LOCKED}" {hits["database is locked"]} times')
        if hits["Traceback"] or hits["WORKER TIMEOUT"]:
            problems.append(
                f"{name} logged {hits['Traceback']} tracebacks, {hits['WORKER TIMEOUT']} worker timeouts"
            )
    print(
        f"\nsummary: 5xx {errors_5xx}, no answer {failed}, '{LOCKED}' in answers {locked}, "
        f"p95 {percentile(latencies, 95):.1f} ms"
    )
    print("\n" + ("TARGETS MISSED:\n  " + "\n  ".join(problems) if problems else "all targets met"))
    return 1 if problems else 0


def _stats(values):
    return [f"{percentile(values, 50):.1f}", f"{percentile(values, 95):.1f}", f"{max(values):.1f}"]


if __name__ == "__main__":
    run(main)
