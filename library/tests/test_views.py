import pytest
from django_q.models import OrmQ

from library.models import SyncState, Track
from library.sync import claim, run_sync

pytestmark = pytest.mark.django_db(transaction=True)


def test_status_before_any_sync(client, fake_plex):
    data = client.get("/api/library/status").json()
    assert data["track_count"] == 0
    assert data["synced_at"] is None
    assert data["is_syncing"] is False
    assert data["sync_progress"] is None
    assert data["error"] is None


def test_status_after_a_sync_reports_count_and_utc_time(client, fake_plex):
    run_sync("plex", claim("plex"))
    data = client.get("/api/library/status").json()
    assert data["track_count"] == 150 == Track.objects.count()
    assert data["synced_at"].endswith("Z")
    assert data["last_sync"]["added"] == 150


def test_status_shows_progress_while_syncing(client, fake_plex):
    claim("plex")
    SyncState.objects.filter(source="plex").update(current=40, total=150, phase="tracks")
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
        run_sync("plex", claim("plex"))
    body = client.get("/api/library/status").content.decode()
    assert "rejected the token" in body
    assert "secret-token-value" not in body


def test_without_a_server_configured_the_api_says_what_to_set(client, settings):
    settings.PLEX_URL = ""
    response = client.post("/api/library/sync")
    assert response.status_code == 503
    assert "PLEX_URL" in response.json()["error"]
