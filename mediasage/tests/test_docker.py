"""The Docker image and docker-compose.yml, built and run on a real engine as a NAS user
runs them: `docker compose --profile demo up` (web, worker and the demo Plex, one data
volume), a sync, `down` and `up` again, and PUID/PGID.

bin/test starts what this needs (bin/docker-engine: Debian's docker.io, the Compose v2
plugin, a stand-in base image where python:3.11-slim cannot be pulled) and exports
DOCKER_HOST, DOCKER_CONFIG and MEDIASAGE_DOCKER_BASE; where it could not, or no engine
answers, these tests skip and say why."""

import json
import os
import subprocess
import time
import uuid

import pytest
import requests

from mediasage import processes

pytestmark = pytest.mark.docker

IMAGE = "mediasage:test"
USERNAME, PASSWORD = "tester", "correct horse battery staple"
DEMO_TRACKS = 300
# The override only points the services at the image built here and makes the health
# check frequent; the compose file, Dockerfile and entrypoint are the ones users run.
OVERRIDE = f"""
x-test: &test
  image: {IMAGE}
  pull_policy: never
  environment:
    DEMO_TRACKS: "{DEMO_TRACKS}"
    MEDIASAGE_USERNAME: {USERNAME}
    MEDIASAGE_PASSWORD: {PASSWORD}
services:
  web:
    <<: *test
    healthcheck:
      interval: 2s
  worker: *test
  demo-plex: *test
"""


def _docker(*args, timeout=600, env=None):
    result = subprocess.run(
        ["docker", *args], cwd=processes.ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )
    output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"docker {args[0]} failed:\n{output}"
    return result.stdout


@pytest.fixture(scope="module")
def engine():
    """The engine bin/test started (or one already running), with the Compose v2 plugin."""
    if reason := os.environ.get("MEDIASAGE_DOCKER_SKIP"):
        pytest.skip(f"no Docker engine: {reason}")
    try:
        answer = subprocess.run(["docker", "compose", "ls"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        answer = None
    if not answer or answer.returncode != 0:
        pytest.skip("no Docker engine with Compose v2 answers (bin/test starts one with bin/docker-engine)")


@pytest.fixture(scope="module")
def image(engine):
    """The project's image, built from this checkout."""
    base = os.environ.get("MEDIASAGE_DOCKER_BASE")
    _docker("build", "-q", "-t", IMAGE, *(["--build-arg", f"BASE={base}"] if base else []), ".")
    return IMAGE


class Compose:
    """One `docker compose` project from the repository's docker-compose.yml, demo profile."""

    def __init__(self, tmp_path):
        self.name = f"mediasage-test-{uuid.uuid4().hex[:8]}"
        self.override = tmp_path / "docker-compose.test.yml"
        self.override.write_text(OVERRIDE)
        self.port = processes.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.session = requests.Session()

    def __call__(self, *args):
        env = {**os.environ, "PORT": str(self.port)}
        files = ["-f", "docker-compose.yml", "-f", str(self.override)]
        return _docker("compose", "-p", self.name, *files, "--profile", "demo", *args, env=env)

    def wait_for(self, check, what, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if result := check():
                return result
            time.sleep(1)
        logs = self("logs", "--tail", "40")
        raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs}")

    def web_health(self):
        return _docker("inspect", "-f", "{{.State.Health.Status}}", f"{self.name}-web-1").strip()

    def up(self):
        self("up", "-d")
        self.wait_for(lambda: self.web_health() == "healthy", "web's health check to pass")

    def status(self):
        return self.session.get(self.url + "/api/library/status", timeout=10).json()

    def sign_in(self):
        token = self.session.get(self.url + "/login", timeout=10).cookies["csrftoken"]
        self.session.post(
            self.url + "/login",
            data={"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": self.url + "/login"},
            timeout=10,
        )

    def manage(self, *args):
        """A manage.py command in a one-off worker container on the stack's volume."""
        return self("run", "--rm", "-T", "worker", "python", "manage.py", *args)

    def sync(self):
        token = self.session.cookies.get("csrftoken")
        answer = self.session.post(self.url + "/api/library/sync", headers={"X-CSRFToken": token}, timeout=10)
        assert answer.status_code == 202, answer.text
        return self.wait_for(
            lambda: (s := self.status())["last_sync"] and not s["is_syncing"] and s, "a sync"
        )


@pytest.fixture
def compose(image, tmp_path):
    project = Compose(tmp_path)
    yield project
    project("down", "--volumes", "--timeout", "5")


def test_compose_file_is_valid_for_compose_v2(engine):
    _docker("compose", "--profile", "demo", "config", "--quiet", env={**os.environ, "PORT": "8000"})


def test_image_holds_no_local_state_and_runs_as_a_non_root_user(image):
    listing = _docker("run", "--rm", "--entrypoint", "ls", image, "-a", "/app").split()
    for local in (".env", ".git", ".venv", "data", "test-output"):
        assert local not in listing
    assert "manage.py" in listing
    assert _docker("run", "--rm", image, "id", "-u").strip() == "1000"


def test_demo_stack_syncs_runs_a_saved_playlist_and_keeps_both_across_down_and_up(compose):
    compose.up()
    compose.sign_in()
    synced = compose.sync()
    assert synced["track_count"] == DEMO_TRACKS
    assert not synced["error"]
    assert json.loads(requests.get(compose.url + "/health", timeout=10).text)["status"] == "ok"
    # Migrations ran once, in web; the worker only waited for them.
    assert "Applying library.0001_initial" in compose("logs", "web")
    assert "Applying" not in compose("logs", "worker")
    # A saved playlist, added and run as the README says (a one-off container on the volume).
    recipe = ["--source", "smart", "--filters", "count=20", "--to", "plex"]
    compose.manage("playlists", "add", "Docker mix", *recipe)
    first = compose.manage("playlists", "run", "Docker mix")
    assert "added 20, removed 0, kept 0" in first, first

    compose("down", "--timeout", "10")
    compose.up()
    after = compose.status()
    assert after["track_count"] == DEMO_TRACKS
    assert after["synced_at"] == synced["synced_at"]
    # The saved playlist and its history survived, and it runs again.
    listed = compose.manage("playlists", "list")
    assert "Docker mix" in listed and "never run" not in listed, listed
    again = compose.manage("playlists", "run", "Docker mix")
    assert "Docker mix: Done" in again, again


def test_puid_and_pgid_own_the_files_the_app_writes_in_the_volume(image, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    ids = ["-e", "PUID=99", "-e", "PGID=100", "-v", f"{data}:/data"]
    assert _docker("run", "--rm", *ids, image, "id", "-u").strip() == "99"
    # As a user who copied .env.example (MEDIASAGE_DATA_DIR= among its empty values); its
    # example server address is replaced by one on loopback, never contacted anyway.
    user_env = ["--env-file", ".env.example", "-e", "PLEX_URL=http://127.0.0.1:32400", "-e", "PLEX_TOKEN=x"]
    _docker("run", "--rm", *ids, *user_env, image, "python", "manage.py", "migrate", "--noinput")
    for name in ("library_cache.db", "secret_key"):
        owner = (data / name).stat()
        assert (owner.st_uid, owner.st_gid) == (99, 100), name
