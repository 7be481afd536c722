import socket

import pytest
from django.test import Client

from mediasage.hosts import local_hosts
from mediasage.tests.test_settings import _manage

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_foreign_host_cannot_start_a_sync_by_dns_rebinding(fake_plex, django_user_model):
    # The attacker's page, served from evil.example and rebound to this
    # machine, has its own CSRF cookie and sends it back with the token.
    attacker = Client(enforce_csrf_checks=True, HTTP_HOST="evil.example")
    attacker.cookies["csrftoken"] = "a" * 32
    response = attacker.post("/api/library/sync", HTTP_X_CSRFTOKEN="a" * 32)
    assert response.status_code == 400

    user = Client(enforce_csrf_checks=True, HTTP_HOST="localhost:8000")
    user.force_login(django_user_model.objects.create_user("tester"))
    token = user.get("/api/library/status").cookies["csrftoken"].value
    assert user.post("/api/library/sync", HTTP_X_CSRFTOKEN=token).status_code == 202


def test_the_machine_answers_to_its_own_names_and_loopback_addresses():
    hosts = local_hosts()
    assert {"localhost", "127.0.0.1", "[::1]", socket.gethostname().lower()} <= set(hosts)
    assert "*" not in hosts


def test_names_the_user_sets_are_added_and_a_star_is_warned_about(tmp_path):
    code = "from django.conf import settings; print(settings.ALLOWED_HOSTS)"
    listed = _manage(tmp_path, "shell", "-c", code, ALLOWED_HOSTS="music.home, nas.lan")
    assert "'music.home'" in listed.stdout and "'nas.lan'" in listed.stdout
    assert "'localhost'" in listed.stdout and "'*'" not in listed.stdout

    star = _manage(tmp_path, "shell", "-c", code, ALLOWED_HOSTS="*")
    assert star.stdout.strip().endswith("['*']")
    assert "ALLOWED_HOSTS=* lets any web page you visit drive MediaSage" in star.stderr
