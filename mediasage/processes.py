"""Starting MediaSage's own processes (the web server, the worker, manage.py commands)
from another Python process: the tests' stack, the tests of start-up and the benchmarks
all start them here, the way `make run` does, so they measure and test the app as
users run it."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The caller's own settings must not leak into a child given settings of its own.
_APP_PREFIXES = (
    "PLEX_",
    "JELLYFIN_",
    "DJANGO_",
    "MEDIASAGE_",
    "SYNC_",
    "LLM_",
    "LISTENBRAINZ_",
    "DEEZER_",
    "OUTSIDE_",
)
_APP_NAMES = (
    "SECRET_KEY",
    "DEBUG",
    "LOG_LEVEL",
    "AUTH_LOCAL_BYPASS",
    "TRUSTED_PROXIES",
    "URL_BASE",
    "DATABASE_URL",
    "REDIS_URL",
)


def app_env(data_dir, **settings):
    """This process's environment without MediaSage's settings, then a data dir of the
    child's own and the given settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_APP_PREFIXES) and k not in _APP_NAMES}
    env.update(MEDIASAGE_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    env.update({name: str(value) for name, value in settings.items()})
    return env


def manage(*args):
    return [sys.executable, "manage.py", *args]


def web(port):
    """gunicorn as production runs it (the rest is in gunicorn.conf.py), on 127.0.0.1."""
    return [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]


WORKER = manage("qcluster")


def run(args, env, timeout=120):
    """Run a command to its end; its output as text."""
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def spawn(args, env, log=None):
    """Start a process in a session of its own (so it and its children stop together),
    its output appended to `log`."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed in stop()
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    proc.log_file = out if log else None
    return proc


def stop(proc, grace=5):
    """SIGTERM the process's session, SIGKILL it after `grace` seconds."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            kill(proc)
    else:
        # The leader is gone; stragglers in its group (gunicorn workers) may not be.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    if getattr(proc, "log_file", None):
        proc.log_file.close()


def kill(proc):
    """SIGKILL the process's session, as a crash or an out-of-memory kill would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
