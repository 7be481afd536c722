from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule

from library.tasks import HEARTBEAT, note_worker_started
from mediasage.tests.test_storage_errors import locked_database  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)


def test_health_is_503_before_any_worker_has_run():
    response = Client().get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "error": "the worker has not been seen yet"}


def test_health_is_503_naming_how_long_the_worker_has_been_silent():
    note_worker_started()
    Schedule.objects.filter(name=HEARTBEAT).update(next_run=timezone.now() - timedelta(minutes=9))
    response = Client().get("/health")
    assert response.status_code == 503
    assert response.json()["error"] == "the worker has not been seen for 600 s"


def test_health_is_503_when_the_database_does_not_answer(locked_database):  # noqa: F811
    response = Client().get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "error": "the database did not answer"}


@pytest.mark.worker
def test_health_is_ok_with_the_real_worker_running_and_needs_no_login(plex_factory, stack_factory):
    stack = stack_factory(plex_factory(50, token="health-token"))
    response = stack.wait_for(lambda: (r := stack.get("/health")).status_code == 200 and r, what="health")
    body = response.json()
    assert body["status"] == "ok" and body["worker_seen_seconds_ago"] < 150
    # Nothing private: no token, path, host or address.
    assert set(body) == {"status", "worker_seen_seconds_ago"}
    assert "health-token" not in response.text and str(stack.data_dir) not in response.text
