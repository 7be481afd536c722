import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.models import OrmQ

from library.models import SyncState, Track
from library.sync import SyncFailed, sync
from library.vocab import Display, ErrorKind, Phase

pytestmark = pytest.mark.django_db(transaction=True)


def test_status_before_any_sync(client, fake_plex):
    data = client.get("/api/library/status").json()
    assert data["track_count"] == 0
    assert data["synced_at"] is None
    assert data["is_syncing"] is False
    assert data["sync_progress"] is None
    assert data["error"] is None


def test_status_after_a_sync_reports_count_and_utc_time(client, fake_plex):
    sync("plex")
    data = client.get("/api/library/status").json()
    assert data["track_count"] == 150 == Track.objects.count()
    assert data["synced_at"].endswith("Z")
    assert data["last_sync"]["added"] == 150


def test_status_shows_progress_while_syncing(client, fake_plex):
    SyncState.claim("plex").progress(current=40, total=150, phase=Phase.TRACKS)
    data = client.get("/api/library/status").json()
    assert data["is_syncing"] is True
    assert data["sync_progress"] == {"current": 40, "total": 150}


def test_sync_request_queues_one_task_and_a_second_gets_409(client, fake_plex):
    first = client.post("/api/library/sync")
    assert first.status_code == 202 and first.json() == {"started": True}
    second = client.post("/api/library/sync")
    assert second.status_code == 409
    assert second.json()["started"] is False
    assert OrmQ.objects.count() == 1
    assert client.get("/api/library/status").json()["is_syncing"] is True


def test_sync_request_needs_the_csrf_token(fake_plex, csrf_client):
    client = csrf_client
    assert client.post("/api/library/sync").status_code == 403
    token = client.get("/api/library/status").cookies["csrftoken"].value
    assert client.post("/api/library/sync", HTTP_X_CSRFTOKEN=token).status_code == 202


def test_status_never_shows_the_token(client, fake_plex, settings):
    settings.PLEX_TOKEN = "secret-token-value"
    with pytest.raises(Exception):  # noqa: B017 - any failure will do; its message is what matters
        sync("plex")
    body = client.get("/api/library/status").content.decode()
    assert "rejected the token" in body
    assert "secret-token-value" not in body


def test_without_a_server_configured_the_api_says_what_to_set(client, settings):
    settings.PLEX_URL = ""
    response = client.post("/api/library/sync")
    assert response.status_code == 503
    assert "PLEX_URL" in response.json()["error"]


# The footer and first-run modal protocol, as htmx sees it: status codes, headers,
# the polling trigger and the words of each state.


def _trigger(html, element_id):
    """The hx-trigger of the element with `element_id`."""
    match = re.search(rf'id="{element_id}"[^>]*?hx-trigger="([^"]*)"', html, re.S)
    assert match, f"no #{element_id} with an hx-trigger"
    return match.group(1)


def _footer(client):
    return client.get("/library/footer").content.decode()


def test_without_a_server_the_footer_and_modal_say_what_to_set_and_stop_polling(client, settings):
    settings.PLEX_URL = settings.JELLYFIN_URL = ""
    for url in ("/library/footer", "/library/modal"):
        response = client.get(url)
        assert response.status_code == 286  # htmx stops polling
        assert "PLEX_URL" in response.content.decode()


def test_the_modal_reloads_the_page_when_the_first_sync_lands(client, fake_plex):
    before = client.get("/library/modal")
    assert before.status_code == 200 and "Syncing your Plex library..." in before.content.decode()
    assert "HX-Refresh" not in before
    sync("plex")
    after = client.get("/library/modal")
    assert after["HX-Refresh"] == "true"
    # And the page it reloads has no modal.
    assert 'id="sync-modal"' not in client.get("/").content.decode()


def test_every_sync_request_tells_the_footer_and_modal_to_look_again(client, fake_plex, settings):
    started = client.post("/api/library/sync")
    busy = client.post("/api/library/sync")
    assert (started.status_code, busy.status_code) == (202, 409)
    assert started["HX-Trigger"] == busy["HX-Trigger"] == "library-sync"
    for fragment in (_footer(client), client.get("/library/modal").content.decode()):
        assert "library-sync from:body" in fragment


def test_the_footer_polls_every_second_while_syncing_and_every_30_seconds_otherwise(client, fake_plex):
    assert _trigger(_footer(client), "library-footer").startswith("every 30s ")
    state = SyncState.claim("plex")
    assert _trigger(_footer(client), "library-footer").startswith("every 1s ")
    assert _trigger(client.get("/library/modal").content.decode(), "sync-modal").startswith("every 1s ")
    sync("plex", run_id=state.run_id)
    assert _trigger(_footer(client), "library-footer").startswith("every 30s ")


def test_polling_pauses_while_the_tab_is_hidden_and_catches_up_when_it_is_shown(client, fake_plex):
    visible = "document.visibilityState === 'visible'"
    page = client.get("/").content.decode()  # the footer, and the modal before the first sync
    for element, every in (("library-footer", "30s"), ("sync-modal", "5s")):
        trigger = _trigger(page, element)
        assert trigger.startswith(f"every {every} [{visible}]")
        assert f"visibilitychange[{visible}] from:document" in trigger


def test_the_footer_says_each_state_in_the_vocabulary_words(client, fake_plex):
    assert Display.NEVER.label in _footer(client)
    assert "Sync now" in _footer(client)

    state = SyncState.claim("plex")
    state.progress(phase=Phase.ALBUMS)
    assert f"{Display.SYNCING.label} {Phase.ALBUMS.label.lower()}" in _footer(client)
    state.progress(phase=Phase.TRACKS, current=40, total=150)
    assert f"{Display.SYNCING.label} 40 / 150" in _footer(client)
    state.progress(phase=Phase.DELETIONS, current=90, total=150)
    assert f"{Display.SYNCING.label} {Phase.DELETIONS.label.lower()} 90 / 150" in _footer(client)
    sync("plex", run_id=state.run_id)
    footer = _footer(client)
    assert f"{Display.NORMAL.label} " in footer and "150 tracks" in footer and "Refresh" in footer

    fake_plex.faults.status = 401
    with pytest.raises(SyncFailed):
        sync("plex")
    footer = _footer(client)
    assert Display.ERROR.label in footer and "rejected the token" in footer and "Retry" in footer
    assert ErrorKind.UNAUTHORIZED.label in footer

    fake_plex.faults.status = None
    fake_plex.stop()
    with pytest.raises(SyncFailed):
        sync("plex")
    assert f"Plex {Display.OFFLINE.label}" in _footer(client)


def test_the_status_api_gives_the_labels_of_phase_and_error(client, fake_plex):
    SyncState.claim("plex").progress(phase=Phase.CHANGES)
    data = client.get("/api/library/status").json()
    assert (data["phase"], data["phase_label"]) == ("changes", Phase.CHANGES.label)
    SyncState.objects.filter(source="plex").update(is_syncing=False)
    fake_plex.faults.status = 401
    with pytest.raises(SyncFailed):
        sync("plex")
    data = client.get("/api/library/status").json()
    assert (data["error_kind"], data["error_label"]) == ("unauthorized", ErrorKind.UNAUTHORIZED.label)


def test_the_modal_says_why_the_first_sync_failed(client, fake_plex):
    fake_plex.faults.status = 401
    with pytest.raises(SyncFailed):
        sync("plex")
    modal = client.get("/library/modal").content.decode()
    assert "Couldn't read your Plex library" in modal and "rejected the token" in modal and "Retry" in modal
    fake_plex.stop()
    with pytest.raises(SyncFailed):
        sync("plex")
    assert "Can't reach Plex" in client.get("/library/modal").content.decode()


def test_the_modal_shows_the_phase_of_the_first_sync(client, fake_plex):
    # Before any sync: the modal asks for one as soon as it loads.
    assert 'hx-trigger="load"' in client.get("/library/modal").content.decode()
    state = SyncState.claim("plex", phase=Phase.QUEUED)
    assert f"{Phase.QUEUED.label}..." in client.get("/library/modal").content.decode()
    state.progress(phase=Phase.ALBUMS, total=150)
    assert f"{Phase.ALBUMS.label}... (150 tracks to read)" in client.get("/library/modal").content.decode()


def _reads_status(queries):
    # The footer's state needs the heartbeat; the cache version other reads use does not.
    return any("heartbeat_at" in q["sql"] for q in queries.captured_queries)


def test_fragments_that_show_no_status_never_read_it(client, fake_plex):
    sync("plex")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/playlists/artists", {"q": "a"}).status_code == 200
    assert not _reads_status(queries)
    with CaptureQueriesContext(connection) as queries:
        client.get("/")
    assert _reads_status(queries)
