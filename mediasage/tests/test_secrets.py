"""The media-server secrets never leave the settings: after a sync through the
real worker, failed syncs and a save, no page, fragment, admin page, log line
or task-queue row holds either of them."""

import logging
import re

import pytest

from library.fakes.jellyfin import FakeJellyfinServer
from library.fakes.jellyfin import FakeLibrary as JellyfinLibrary
from mediasage import processes
from mediasage.redaction import RedactSecrets, redact

pytestmark = pytest.mark.worker

PLEX_TOKEN = "PlexSecretQz7vW4nT9xK2"
JELLYFIN_KEY = "jfsecret8c1d4e7a90b2f3c5d6e7f8a9"
SECRETS = (PLEX_TOKEN, JELLYFIN_KEY)

# Every Task, Schedule and OrmQ row, decoded (django-q2 pickles and signs them).
_DUMP_QUEUE = """
from django_q.models import OrmQ, Schedule, Task
for t in Task.objects.all():
    print('task', t.name, repr(t.func), repr(t.args), repr(t.kwargs), repr(t.result))
for s in Schedule.objects.all():
    print('schedule', s.name, s.func, s.args, s.kwargs, s.hook)
for q in OrmQ.objects.all():
    print('ormq', repr(q.task()))
"""


@pytest.fixture
def stack(plex_factory, stack_factory):
    plex = plex_factory(300, seed=5, token=PLEX_TOKEN)
    jellyfin = FakeJellyfinServer(library=JellyfinLibrary(tracks=120, seed=5), api_key=JELLYFIN_KEY)
    with jellyfin:
        yield stack_factory(plex, JELLYFIN_URL=jellyfin.url, JELLYFIN_API_KEY=JELLYFIN_KEY, LOG_LEVEL="DEBUG")


def _manage(stack, *args, **env):
    done = processes.run(processes.manage(*args), {**stack.env, **env}, timeout=60)
    done.check_returncode()
    return done.stdout


def _sync_and_wait(stack, source, what):
    assert stack.post("/api/library/sync", {"source": source}).status_code == 202
    return stack.wait_for(
        lambda: (s := _server(stack, source)) and not s["is_syncing"] and s["last_sync"] and s,
        what=what,
    )


def _server(stack, source):
    return next(s for s in stack.status()["servers"] if s["source"] == source)


def _log_in_to_the_admin(stack):
    _manage(
        stack,
        "createsuperuser",
        "--noinput",
        DJANGO_SUPERUSER_USERNAME="scan",
        DJANGO_SUPERUSER_EMAIL="scan@example.com",
        DJANGO_SUPERUSER_PASSWORD="scan-password-1",
    )
    stack.get("/admin/login/")
    response = stack.session.post(
        stack.url + "/admin/login/",
        data={"username": "scan", "password": "scan-password-1", "next": "/admin/"},
        headers={"X-CSRFToken": stack.session.cookies["csrftoken"], "Referer": stack.url + "/admin/login/"},
        timeout=5,
    )
    assert response.url.endswith("/admin/"), "the admin login failed"


def _admin_pages(stack):
    """The admin index, every registered model's list, and the first object of each."""
    index = stack.get("/admin/").text
    pages = {"/admin/": index}
    for changelist in sorted(set(re.findall(r'href="(/admin/\w+/\w+/)"', index))):
        listing = stack.get(changelist).text
        pages[changelist] = listing
        if first := re.search(rf'href="({changelist}\d+/change/[^"]*)"', listing):
            pages[first[1]] = stack.get(first[1]).text
    return pages


def _found(texts):
    return [
        f"{where} holds the {'Plex token' if secret == PLEX_TOKEN else 'Jellyfin key'}"
        for where, text in texts.items()
        for secret in SECRETS
        if secret in text
    ]


def test_no_secret_reaches_a_page_the_admin_a_log_or_the_task_queue(stack, plex_factory):
    plex = stack.plex
    assert _sync_and_wait(stack, "plex", "the Plex sync")["error"] is None
    assert _sync_and_wait(stack, "jellyfin", "the Jellyfin sync")["error"] is None
    for status in (401, 500):
        plex.faults.status = status
        assert _sync_and_wait(stack, "plex", f"the sync failing with {status}")["error"]
    plex.faults.reset()

    generated = stack.get("/playlists/generate?count=10&seed=1").text
    (keys,) = re.findall(r'name="keys" value="([^"]*)"', generated)
    saved = stack.post("/playlists/save", {"source": "plex", "title": "Scan", "keys": keys, "mode": "create"})
    assert saved.status_code == 200

    _log_in_to_the_admin(stack)
    texts = {"the save's answer": saved.text, "the generated playlist": generated}
    for path in (
        "/",
        "/playlists/import",
        "/playlists/preview",
        "/playlists/targets?source=plex",
        "/playlists/targets?source=jellyfin",
        "/library/footer",
        "/library/modal",
        "/api/library/status",
        "/health",
    ):
        texts[path] = stack.get(path).text
    admin = _admin_pages(stack)
    assert "/admin/library/track/" in admin and "/admin/library/syncstate/" in admin
    texts.update(admin)
    texts.update({log.name: log.read_text(errors="replace") for log in stack.logs.glob("*.log")})
    texts["the task queue"] = _manage(stack, "shell", "-c", _DUMP_QUEUE)
    texts["the database file"] = (stack.data_dir / "library_cache.db").read_bytes().decode(errors="replace")

    assert not _found(texts), _found(texts)
    # The scan saw what it should: a DEBUG log, and the failures in the queue and on the page.
    assert " DEBUG " in texts["web.log"] + texts["worker.log"]
    assert "task" in texts["the task queue"]


def test_a_logged_url_loses_its_token_whatever_the_parameter(settings):
    settings.PLEX_TOKEN = PLEX_TOKEN
    line = (
        "GET http://nas:32400/library?X-Plex-Token=abc123&x=1 "
        "http://jf:8096/Items?api_key=def456 http://jf:8096/Items?ApiKey=ghi789 "
        f"header {PLEX_TOKEN}"
    )
    assert redact(line) == (
        "GET http://nas:32400/library?X-Plex-Token=[redacted]&x=1 "
        "http://jf:8096/Items?api_key=[redacted] http://jf:8096/Items?ApiKey=[redacted] "
        "header [redacted]"
    )


def test_every_log_handler_redacts_the_secrets():
    loggers = [logging.getLogger(), *map(logging.getLogger, list(logging.root.manager.loggerDict))]
    # pytest's capture handlers are not the app's; a NullHandler writes nothing.
    handlers = {
        h
        for lg in loggers
        for h in lg.handlers
        if not type(h).__module__.startswith("_pytest") and not isinstance(h, logging.NullHandler)
    }
    assert handlers
    for handler in handlers:
        assert any(isinstance(f, RedactSecrets) for f in handler.filters), handler


def test_the_database_and_redis_passwords_are_redacted_like_the_tokens(settings):
    settings.DATABASE_PASSWORD, settings.REDIS_PASSWORD = "pg-pass-Wq8z", "redis/pass Tk3"
    line = "could not connect with pg-pass-Wq8z; broker redis://:redis%2Fpass%20Tk3@redis:6379/0"
    assert redact(line) == "could not connect with [redacted]; broker redis://:[redacted]@redis:6379/0"
