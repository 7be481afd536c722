"""Serving under a sub-path (URL_BASE=/mediasage) behind a reverse proxy."""

import re
from io import BytesIO
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.wsgi import get_wsgi_application
from django.test import Client
from django.urls import set_script_prefix

from library.models import SyncState
from mediasage.wsgi import _strip_url_base

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/mediasage"


@pytest.fixture
def under_base(settings, fake_plex, django_user_model):
    settings.URL_BASE = BASE
    settings.FORCE_SCRIPT_NAME = BASE
    settings.STATIC_URL = f"{BASE}/static/"
    SyncState.objects.create(source="plex", server_name="Living Room", track_count=0)
    # What gunicorn's WSGI handler does on each request; the test client does not.
    set_script_prefix(BASE + "/")
    # A new client builds its middleware (whitenoise reads STATIC_URL) with these settings.
    client = Client(SCRIPT_NAME=BASE)
    client.force_login(django_user_model.objects.create_user("tester"))
    yield client
    set_script_prefix("/")


def _links(html):
    return re.findall(r'(?:href|src|action|hx-get|hx-post)="([^"]*)"', html)


@pytest.mark.parametrize("path", ["/", "/playlists/import"])
def test_every_link_on_a_page_stays_under_the_base(under_base, path):
    response = under_base.get(path)
    assert response.status_code == 200
    links = [link for link in _links(response.content.decode()) if link.startswith("/")]
    assert links, "the page has no links"
    assert all(link.startswith(BASE + "/") for link in links), links


def test_static_files_and_fragments_are_served_under_the_base(under_base):
    page = under_base.get("/").content.decode()
    script = next(link for link in _links(page) if link.endswith("app.js"))
    assert under_base.get(script[len(BASE) :]).status_code == 200
    footer = under_base.get("/library/footer", HTTP_HX_REQUEST="true").content.decode()
    assert all(link.startswith(BASE + "/") for link in _links(footer) if link.startswith("/"))


def test_the_admin_redirects_to_its_login_under_the_base(under_base):
    response = under_base.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{BASE}/admin/login/")


def test_the_app_answers_whether_or_not_the_proxy_strips_the_base(under_base):
    app = _strip_url_base(get_wsgi_application(), BASE)
    for path in (f"{BASE}/login", "/login"):  # a page that needs no session
        environ = {"PATH_INFO": path, "SERVER_NAME": "localhost", "wsgi.input": BytesIO()}
        setup_testing_defaults(environ)
        statuses = []
        body = b"".join(app(environ, lambda status, headers, s=statuses: s.append(status)))
        assert statuses == ["200 OK"], (path, body[:200])
