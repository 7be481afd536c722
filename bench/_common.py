"""Helpers shared by the benchmark scripts: child processes, data dirs, timing, percentiles.

Every process a benchmark starts is registered with a `Cleanup`, which ends it (its whole
process group) on exit, exception, Ctrl-C or SIGTERM, and removes the temporary data dirs.
"""

import atexit
import contextlib
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from mediasage import processes  # noqa: E402 - the benchmarks run from bench/

BENCH = ROOT / "bench"
PYTHON = sys.executable  # the children's interpreter, as mediasage.processes starts them
RUNNER = str(BENCH / "_runner.py")
TOKEN = "bench-token"
_TICKS = os.sysconf("SC_CLK_TCK")


# -- cleanup ---------------------------------------------------------------------------------------


class Cleanup:
    """Ends registered processes and removes temporary dirs on exit, however it happens.

    SIGTERM and SIGHUP are turned into KeyboardInterrupt, so `with Cleanup()` also runs its
    exit when the benchmark is killed politely. Children get sessions of their own, so a
    Ctrl-C in the terminal reaches only this process, which then stops them in order."""

    def __init__(self, keep=False):
        self.procs = []
        self.dirs = []
        self.callbacks = []
        self.keep = keep or os.environ.get("BENCH_KEEP") == "1"

    def __enter__(self):
        # SIGINT too: a shell that starts this in the background has it ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _interrupt)
        return self

    def __exit__(self, *exc):
        self.stop_all()
        for callback in reversed(self.callbacks):
            callback()
        for d in self.dirs:
            if self.keep:
                print(f"(kept {d})", file=sys.stderr)
            else:
                shutil.rmtree(d, ignore_errors=True)
        return False

    def spawn(self, args, env, log=None):
        proc = processes.spawn(args, env, log)
        self.procs.append(proc)
        _SESSIONS.add(proc.pid)
        return proc

    def stop(self, proc, grace=5):
        processes.stop(proc, grace)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self):
        for proc in reversed(list(self.procs)):
            self.stop(proc)

    def tempdir(self, prefix):
        d = Path(tempfile.mkdtemp(prefix=f"mediasage-bench-{prefix}-"))
        self.dirs.append(d)
        return d


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run(main):
    """sys.exit(main()), with a one-line message instead of a traceback on Ctrl-C."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(
            "\ninterrupted: the benchmark's processes are stopped and its temporary dirs removed",
            file=sys.stderr,
        )
        sys.exit(130)


# -- environment and data dirs ---------------------------------------------------------------------


def env_for(data_dir, plex_url="", **extra):
    """The environment MediaSage reads, pointing at data_dir (never the repo's data/)."""
    env = processes.app_env(
        data_dir,
        DJANGO_SETTINGS_MODULE="mediasage.settings",
        PYTHONPATH=ROOT,  # for bench/_runner.py, which is not manage.py
        LOG_LEVEL="WARNING",
        # As a home install on its own network: an account exists, and clients on
        # 127.0.0.1 need no sign-in.
        MEDIASAGE_USERNAME="bench",
        MEDIASAGE_PASSWORD=BENCH_PASSWORD,
        AUTH_LOCAL_BYPASS="true",
    )
    if plex_url:
        env.update(PLEX_URL=plex_url, PLEX_TOKEN=TOKEN)
    env.update({k: str(v) for k, v in extra.items()})
    return env


BENCH_PASSWORD = secrets.token_urlsafe(16)
_template = {}


def new_data_dir(cleanup, name):
    """A fresh, migrated data dir. Migrates once per benchmark run and copies the result."""
    data = cleanup.tempdir(name)
    if "db" not in _template:
        tdir = cleanup.tempdir("template")
        m = run_measured(cleanup, processes.manage("migrate", "--noinput"), env_for(tdir))
        if m.returncode:
            raise RuntimeError(f"manage.py migrate failed:\n{m.stdout}")
        _template["db"] = tdir / "library_cache.db"
        _template["key"] = tdir / "secret_key"
    shutil.copy(_template["db"], data / "library_cache.db")
    shutil.copy(_template["key"], data / "secret_key")
    return data


def start_postgres(cleanup):
    """PostgreSQL (and Redis) started by bin/services, stopped on exit, with a template
    database migrated once. Returns (new_database, the server's pid): new_database(name)
    makes a fresh migrated database from the template and returns its DATABASE_URL."""
    services = [str(ROOT / "bin" / "services")]
    # Beside, not in place of, the servers of a test run in this checkout.
    where = ROOT / "test-output" / "bench-services"
    env = {**os.environ, "MEDIASAGE_SERVICES_DIR": str(where)}
    started = subprocess.run([*services, "start"], capture_output=True, text=True, env=env)
    if started.returncode:
        raise RuntimeError(f"bin/services could not start PostgreSQL: {started.stderr.strip()}")
    cleanup.callbacks.append(lambda: subprocess.run([*services, "stop"], check=False, env=env))
    server = dict(line.split("=", 1) for line in started.stdout.split())["DATABASE_URL"]

    def url(name):
        return server.rsplit("/", 1)[0] + f"/{name}"

    m = run_measured(
        cleanup,
        processes.manage("migrate", "--noinput"),
        env_for(cleanup.tempdir("pg-template"), DATABASE_URL=server),
    )
    if m.returncode:
        raise RuntimeError(f"manage.py migrate on PostgreSQL failed:\n{m.stdout}")

    def new_database(name):
        import psycopg

        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{server.rsplit("/", 1)[1]}"')
        return url(name)

    return new_database, int((where / "pg" / "postmaster.pid").read_text().split()[0])


free_port = processes.free_port
web_command = processes.web


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if result := check():
                return result
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def start_fakeplex(cleanup, tracks, log, seed=1):
    """`manage.py fakeplex` in its own process; returns (process, url)."""
    return start_fake(cleanup, "plex", tracks, log, seed)


# Each fake's command and an address that answers once it is up.
_FAKES = {"plex": ("fakeplex", "/identity"), "jellyfin": ("fakejellyfin", "/System/Info/Public")}


def start_fake(cleanup, server, tracks, log, seed=1):
    """`manage.py fakeplex` or `fakejellyfin` (token TOKEN) in its own process; returns (process, url)."""
    command, ping = _FAKES[server]
    port = free_port()
    proc = cleanup.spawn(
        processes.manage(command, "--port", str(port), "--tracks", str(tracks), "--token", TOKEN,
                         "--seed", str(seed)),
        env=env_for(cleanup.tempdir(command)),
        log=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up():
        if proc.poll() is not None:
            raise RuntimeError(f"{command} exited with {proc.returncode}; see {log}")
        return requests.get(url + ping, timeout=2).status_code == 200

    wait_until(up, 120, f"the fake {server} server")
    return proc, url


# -- measuring child processes ---------------------------------------------------------------------


class Measured:
    """A finished child: its exit status, output, wall time, peak RSS and CPU time."""

    def __init__(self, returncode, stdout, wall_s, rusage):
        self.returncode = returncode
        self.stdout = stdout
        self.wall_s = wall_s
        self.peak_rss_mb = rusage.ru_maxrss / 1024  # Linux: KiB
        self.cpu_s = rusage.ru_utime + rusage.ru_stime

    def json(self):
        """The last line of output that is a JSON object (what _runner.py prints)."""
        for line in reversed(self.stdout.splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"no result from the child (exit {self.returncode}):\n{self.stdout[-3000:]}")


def run_measured(cleanup, args, env, timeout=600):
    """Run a child to completion; its own peak RSS comes from wait4's rusage (ru_maxrss of
    that one process, not of this one or of its siblings)."""
    with tempfile.TemporaryFile() as out:
        start = time.monotonic()
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        cleanup.procs.append(proc)
        _SESSIONS.add(proc.pid)
        timer = threading.Timer(timeout, lambda: _killpg(proc.pid))
        timer.start()
        try:
            _, status, rusage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        _session_cpu[proc.pid] = rusage.ru_utime + rusage.ru_stime  # exact, its descendants included
        cleanup.procs.remove(proc)
        out.seek(0)
        text = out.read().decode(errors="replace")
    return Measured(proc.returncode, text, wall, rusage)


def _killpg(pid):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _stat(pid):
    """The fields of /proc/PID/stat after the command name (state is [0], ppid [1])."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid):
    """User + system CPU seconds a running process has used so far (from /proc)."""
    try:
        fields = _stat(pid)
    except FileNotFoundError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / _TICKS


def server_cpu_seconds(pid):
    """CPU seconds of a server that forks a child per connection (PostgreSQL): its own,
    its children's now (an ended one keeps its figures until reaped) and those reaped."""
    fields = _stat(pid)
    total = sum(int(f) for f in fields[11:15])
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            child = stat.read_text().rsplit(")", 1)[1].split()
            if child[1] == str(pid):
                total += int(child[11]) + int(child[12])
    return total / _TICKS


def runner(mode, *args):
    return [PYTHON, RUNNER, mode, *args]


# -- statistics and output -------------------------------------------------------------------------


def percentile(values, p):
    """The p-th percentile (0-100) by linear interpolation between closest ranks."""
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def time_calls(fn, n, warmup=0):
    """Milliseconds each of n calls of fn() took, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(values):
    return {
        "n": len(values),
        "median": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": max(values) if values else float("nan"),
    }


def table(headers, rows):
    """A Markdown table, so the output can be pasted into bench/README.md as is."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    return "\n".join(out)


def machine():
    """One line naming the machine the figures came from."""
    mem = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    py = subprocess.run(
        [PYTHON, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True
    )
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem}, Python {py.stdout.strip()}, "
        f"Linux {platform.release()}, SQLite {_sqlite_version()}"
    )


def _sqlite_version():
    import sqlite3

    return sqlite3.sqlite_version


def loadavg():
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def _busy_seconds():
    """CPU seconds the whole machine has been busy (all CPUs), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICKS


_SESSIONS = set()  # session ids of the processes the benchmark started (each leads its own)
_session_cpu = {}  # pid -> the most CPU seconds seen for it, for every process in those sessions


def _sample_sessions():
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) in _SESSIONS:
            cpu = (int(fields[11]) + int(fields[12])) / _TICKS
            _session_cpu[int(proc.name)] = max(cpu, _session_cpu.get(int(proc.name), 0.0))


def _own_seconds():
    """CPU seconds of this process and of every process it started, and theirs in turn (sampled
    twice a second: a grandchild killed with its group is never waited for, so rusage misses it)."""
    _sample_sessions()
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime + sum(_session_cpu.values())


def header(title):
    """Names the machine, and at exit says how much CPU other work took meanwhile: figures
    taken while something else ran on the machine are slower than on a quiet one."""
    print(f"# {title}")
    print(f"machine: {machine()}")
    print(f"started: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, load average (1 min) {loadavg():.2f}")
    print(flush=True)
    start, busy, own = time.monotonic(), _busy_seconds(), _own_seconds()
    stop = threading.Event()

    def sample():
        while not stop.wait(0.5):
            _sample_sessions()

    threading.Thread(target=sample, daemon=True, name="bench-cpu").start()

    def footer():
        stop.set()
        wall = time.monotonic() - start
        other = max(0.0, (_busy_seconds() - busy) - (_own_seconds() - own))
        share = other / (wall * (os.cpu_count() or 1))
        print(
            f"\nother processes on the machine used {other:.0f} CPU-s during these {wall:.0f} s "
            f"({share:.0%} of its CPU time){'; figures are disturbed' if share > 0.1 else ''}",
            flush=True,
        )

    atexit.register(footer)
