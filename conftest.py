import os
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from mediasage import processes


def pytest_report_header(config):
    from django.conf import settings

    db = settings.DATABASES["default"]
    where = f"PostgreSQL at {db['HOST']}:{db['PORT']}" if db["ENGINE"].endswith("postgresql") else "SQLite"
    broker = "Redis" if "redis" in settings.Q_CLUSTER else "the database (ORM)"
    return f"database: {where}; django-q2 broker: {broker}"


def pytest_collection_modifyitems(config, items):
    """bin/test runs the postgres-marked tests a second time on PostgreSQL and Redis;
    where bin/services could not start them, it says why here, and each is skipped so."""
    if reason := os.environ.get("MEDIASAGE_SERVICES_MISSING"):
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


def _stack_services(name, drop=False):
    """DATABASE_URL and REDIS_URL for a stack's processes when the tests run on
    PostgreSQL and Redis: a fresh database of its own on the same server, and an emptied
    Redis (stacks run one after another). Nothing on SQLite: the stack's data dir holds
    its own file. With drop, the database goes."""
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    env = {}
    if database_url:
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if not drop:
                conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = urlparse(database_url)._replace(path=f"/{name}").geturl()
    if redis_url:
        import redis

        redis.from_url(redis_url).flushdb()
        env["REDIS_URL"] = redis_url
    return env


@pytest.fixture(autouse=True)
def _no_retry_pause(settings):
    # The adapters wait a second before their one retry; tests need not.
    settings.MEDIA_SERVER_RETRY_PAUSE = 0


@pytest.fixture
def client(client, django_user_model, db):
    """The test client, signed in: every page needs an account (accounts/). Tests of
    signing in itself use `visitor`."""
    client.force_login(django_user_model.objects.get_or_create(username="tester")[0])
    return client


@pytest.fixture
def csrf_client(client):
    """The signed-in test client, checking CSRF tokens as a browser's requests are."""
    client.handler.enforce_csrf_checks = True
    return client


@pytest.fixture
def visitor(db):
    """A test client nobody has signed in."""
    from django.test import Client

    return Client()


@pytest.fixture
def fake_jellyfin(settings):
    """A fake Jellyfin with a small generated library, and settings pointing at it."""
    from library.fakes.jellyfin import FakeJellyfinServer, FakeLibrary

    server = FakeJellyfinServer(
        library=FakeLibrary(tracks=150, seed=7), api_key="0123456789abcdef0123456789abcdef"
    )
    server.faults.hang_seconds = 4
    with server:
        settings.JELLYFIN_URL = server.url
        settings.JELLYFIN_API_KEY = server.api_key
        settings.JELLYFIN_USER_ID = ""
        settings.JELLYFIN_LIBRARY = ""
        settings.JELLYFIN_TIMEOUT = 1
        settings.SYNC_PAGE_SIZE = 40
        settings.SYNC_KEY_PAGE_SIZE = 100
        yield server


@pytest.fixture
def plex_factory():
    """make(tracks, seed, token): a started fake Plex with a generated library."""
    from library.fakes.plex import FakeLibrary, FakePlexServer

    servers = []

    def make(tracks, seed=1, token="fake-plex-token"):
        servers.append(FakePlexServer(library=FakeLibrary(tracks=tracks, seed=seed), token=token).start())
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def fake_plex(settings):
    """A fake Plex with a small generated library, and settings pointing at it."""
    from library.fakes.plex import FakeLibrary, FakePlexServer

    server = FakePlexServer(library=FakeLibrary(tracks=150, seed=7), token="test-token")
    server.faults.hang_seconds = 4
    with server:
        settings.PLEX_URL = server.url
        settings.PLEX_TOKEN = server.token
        settings.PLEX_LIBRARY = ""
        settings.PLEX_TIMEOUT = 1
        settings.SYNC_PAGE_SIZE = 40
        yield server


class Stack:
    """MediaSage as a user runs it: migrated data dir, web server and django-q2
    worker as real processes, talking to a fake Plex in this process. Its account comes
    from MEDIASAGE_USERNAME/MEDIASAGE_PASSWORD and `session` signs in with it; with
    account=False there is none (the first-run page)."""

    USERNAME, PASSWORD = "tester", "correct horse battery staple"

    def __init__(self, tmp_path, plex, account=True, **env):
        self.plex = plex
        self.data_dir = tmp_path / "data"
        self.port = processes.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if account:
            env.update(MEDIASAGE_USERNAME=self.USERNAME, MEDIASAGE_PASSWORD=self.PASSWORD)
        self.database = f"stack_{self.port}"
        self.env = processes.app_env(
            self.data_dir,
            **_stack_services(self.database),
            PLEX_URL=plex.url,
            PLEX_TOKEN=plex.token,
            PLEX_TIMEOUT=2,
            SYNC_HEARTBEAT_TIMEOUT=6,
            **env,
        )
        self.account = account
        self.logs = tmp_path
        self.web = self.worker = None

    def start(self):
        processes.run(processes.manage("migrate", "--noinput"), self.env).check_returncode()
        self.web = processes.spawn(processes.web(self.port), self.env, self.logs / "web.log")
        self.start_worker()
        self.wait_for(lambda: self.get("/login").status_code == 200, what="the web server")
        if self.account:
            signed_in = self.sign_in()
            assert "/login" not in signed_in.url, "the stack's account could not sign in"
        return self

    def sign_in(self, password=None):
        """Sign `session` in through the sign-in form; returns the response."""
        token = self.get("/login").cookies.get("csrftoken") or self.session.cookies.get("csrftoken")
        return self.session.post(
            self.url + "/login",
            data={
                "username": self.USERNAME,
                "password": password or self.PASSWORD,
                "csrfmiddlewaretoken": token,
            },
            headers={"Referer": self.url + "/login"},
            timeout=10,
        )

    def share_sign_in(self, page):
        """Give a browser page this stack's signed-in session."""
        page.context.add_cookies(
            [{"name": c.name, "value": c.value, "url": self.url} for c in self.session.cookies]
        )

    def start_worker(self):
        self.worker = processes.spawn(processes.WORKER, self.env, self.logs / "worker.log")

    def kill_worker(self):
        processes.kill(self.worker)

    def stop(self):
        for proc in (self.worker, self.web):
            if proc:
                processes.stop(proc, grace=3)
        _stack_services(self.database, drop=True)

    def get(self, path):

        try:
            return self.session.get(self.url + path, timeout=5)
        # Not up yet, or a first answer slow on a loaded machine: wait_for asks again.
        except (requests.ConnectionError, requests.Timeout):
            return requests.Response()

    def post(self, path, data=None):
        token = self.session.cookies.get("csrftoken") or self.get("/api/library/status").cookies.get(
            "csrftoken"
        )
        return self.session.post(self.url + path, data=data, headers={"X-CSRFToken": token or ""}, timeout=5)

    @property
    def session(self):

        if not hasattr(self, "_session"):
            self._session = requests.Session()
        return self._session

    def sync(self, timeout=60):
        """Ask for a sync and wait for it to finish; returns the final status."""
        assert self.post("/api/library/sync").status_code == 202
        return self.wait_for(
            lambda: (s := self.status())["last_sync"] and not s["is_syncing"] and s, timeout, "the sync"
        )

    def status(self):
        return self.get("/api/library/status").json()

    def wait_for(self, check, timeout=60, what="the condition"):

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if result := check():
                return result
            time.sleep(0.2)
        logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.logs.glob("*.log")))
        raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs}")


@pytest.fixture
def stack_factory(tmp_path, request):
    """make(plex, account=True, **env): a started Stack. A test's browser `page` shares the
    stack's signed-in session."""
    stacks = []

    def make(plex, account=True, **env):
        stack = Stack(tmp_path, plex, account, **env)
        stacks.append(stack)
        stack.start()
        if account and "page" in request.fixturenames:
            stack.share_sign_in(request.getfixturevalue("page"))
        return stack

    yield make
    for stack in stacks:
        stack.stop()


SCREENSHOTS = Path(__file__).resolve().parent / "test-output" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Debian's chromium, never a downloaded build. The flags keep it off the
    # network it cannot reach here, and working as root in a container.
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{request.node.name}-end.png", full_page=True)
    context.close()


@pytest.fixture
def shoot(page, request):
    """shoot("modal") saves a screenshot under test-output/screenshots for a reviewer."""

    def take(name):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{request.node.name}-{name}.png", full_page=True)

    return take
