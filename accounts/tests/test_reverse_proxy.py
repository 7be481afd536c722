"""Behind a reverse proxy: HTTPS, the host and Secure cookies, believed only from TRUSTED_PROXIES."""

import pytest
from django.test import Client

from accounts.tests.conftest import PASSWORD

HTTPS_PROXY = {
    "REMOTE_ADDR": "172.18.0.2",
    "HTTP_X_FORWARDED_FOR": "203.0.113.9",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_X_FORWARDED_HOST": "music.example.com",
}


@pytest.fixture(autouse=True)
def _proxy(settings):
    settings.TRUSTED_PROXIES = ["172.18.0.0/16"]
    settings.ALLOWED_HOSTS = ["testserver", "music.example.com", "192.168.1.10"]


def _sign_in(headers):
    """Sign in as a browser does (CSRF checked, Origin sent); returns the sign-in response."""
    browser = Client(enforce_csrf_checks=True)
    token = browser.get("/login", **headers).cookies["csrftoken"].value
    origin = ("https://" if headers.get("HTTP_X_FORWARDED_PROTO") else "http://") + (
        headers.get("HTTP_X_FORWARDED_HOST") or headers["HTTP_HOST"]
    )
    data = {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token}
    return browser, browser.post("/login", data, HTTP_ORIGIN=origin, **headers)


def test_https_through_a_trusted_proxy_marks_the_cookies_secure(account):
    browser, response = _sign_in(HTTPS_PROXY)
    # The CSRF origin check passed: the proxy's scheme and host were taken, with no
    # CSRF_TRUSTED_ORIGINS needed.
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] is True
    assert response.cookies["csrftoken"]["secure"] is True
    token = response.cookies["csrftoken"].value
    origin = "https://music.example.com"
    page = browser.post("/account", {"csrfmiddlewaretoken": token}, HTTP_ORIGIN=origin, **HTTPS_PROXY)
    page = page.content.decode()
    assert "https://music.example.com/api/library/status" in page


def test_the_same_app_on_plain_http_from_the_lan_keeps_its_cookies_usable(account):
    _, response = _sign_in({"REMOTE_ADDR": "192.168.1.20", "HTTP_HOST": "192.168.1.10"})
    assert response.status_code == 302
    assert not response.cookies["sessionid"]["secure"]
    assert not response.cookies["csrftoken"]["secure"]


def test_forwarded_proto_and_host_from_anyone_else_are_ignored(client, settings):
    settings.TRUSTED_PROXIES = []
    spoofed = {**HTTPS_PROXY, "REMOTE_ADDR": "203.0.113.50"}
    page = client.post("/account", **spoofed)
    assert "http://testserver/api/library/status" in page.content.decode()
    assert not page.cookies.get("sessionid") or not page.cookies["sessionid"]["secure"]
    client.logout()
    response = client.get("/login", **spoofed)
    assert not response.cookies["csrftoken"]["secure"]
