"""The wire against broken and hostile servers: the fakes' wire faults, and what
the adapters, `manage.py sync` and the status page make of each. Shared behaviour
is one contract over both servers."""

import json
import socket
import sys
from xml.etree import ElementTree

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from library.fakes.server import MOVED, FakeServer
from library.models import SyncState, Track
from library.sources import SourceError, get_source
from library.sync import SyncFailed, sync
from mediasage import processes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["plex", "jellyfin"])
def wire(request):
    """(source name, its fake server, the secret it must keep)."""
    fake = request.getfixturevalue(f"fake_{request.param}")
    return request.param, fake, getattr(fake, "token", None) or fake.api_key


class OtherHost(FakeServer):
    """Another host (127.0.0.2) that answers 404 and records every request it gets,
    secrets included, so a test can look for them."""

    def __init__(self):
        super().__init__(library=None, host="127.0.0.2", port=0)
        self.seen = []

    def _serve(self, handler):
        self.seen.append(f"{handler.requestline}\n{handler.headers}")
        handler.send_response(404)
        handler.send_header("Content-Length", "0")
        handler.end_headers()


@pytest.fixture
def other_host():
    with OtherHost() as host:
        yield host


def _sync(name):
    return sync(name)


# -- the fakes' switches --------------------------------------------------------------------------


def test_drip_sends_the_status_line_a_few_bytes_at_a_time(wire):
    _, fake, _ = wire
    fake.faults.drip = (5, 0.2)
    with socket.create_connection((fake.host, fake.port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100) == b"HTTP/"  # the rest follows, 5 bytes every 0.2 s


@pytest.mark.parametrize("length", [True, False])
def test_oversize_sends_a_valid_listing_of_that_many_megabytes(wire, length):
    _, fake, _ = wire
    fake.faults.oversize_mb, fake.faults.oversize_length = 3, length
    response = requests.get(fake.url + "/anything", timeout=10)
    assert len(response.content) == 3 * 2**20
    assert ("Content-Length" in response.headers) is length
    if response.headers["Content-Type"].startswith("application/json"):
        assert json.loads(response.content)["Items"] == []
    else:
        assert ElementTree.fromstring(response.content).attrib["size"] == "0"


def test_redirect_to_answers_302_with_the_requested_path(wire):
    _, fake, _ = wire
    fake.faults.redirect_to = "http://elsewhere.invalid/x{path}"
    response = requests.get(fake.url + "/library?a=1", allow_redirects=False, timeout=5)
    assert response.status_code == 302
    assert response.headers["Location"] == "http://elsewhere.invalid/x/library?a=1"


def test_a_redirect_into_moved_is_served_as_the_original_path(wire):
    _, fake, _ = wire
    fake.faults.redirect_to = fake.url + MOVED + "{path}"
    path = "/identity" if wire[0] == "plex" else "/System/Info/Public"
    response = requests.get(fake.url + path, timeout=5)
    assert response.status_code == 200 and len(response.history) == 1


@pytest.mark.parametrize("status", [599, 418, 302])
def test_status_answers_any_code_even_unregistered_ones(wire, status):
    _, fake, secret = wire
    fake.faults.status = status
    path = "/library/sections" if wire[0] == "plex" else "/Users"
    headers = {"X-Plex-Token": secret, "X-Emby-Token": secret}
    response = requests.get(fake.url + path, headers=headers, allow_redirects=False, timeout=5)
    assert response.status_code == status
    assert "Location" not in response.headers


def test_entity_bomb_is_a_small_document_declaring_nested_entities(wire):
    _, fake, _ = wire
    fake.faults.entity_bomb = True
    body = requests.get(fake.url + "/", timeout=5).text
    assert len(body) < 2000
    assert "<!DOCTYPE" in body and body.count("<!ENTITY") == 10


def test_garbage_cut_body_and_bad_gzip_break_a_plain_client(wire):
    _, fake, _ = wire
    fake.faults.garbage = True
    with pytest.raises(requests.ConnectionError):
        requests.get(fake.url + "/", timeout=5)
    fake.faults.reset()
    fake.faults.cut_body = True
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(fake.url + "/", timeout=5)
    fake.faults.reset()
    fake.faults.bad_gzip = True
    with pytest.raises(requests.exceptions.ContentDecodingError):
        requests.get(fake.url + "/", timeout=5)


def test_reset_turns_every_wire_fault_off(wire):
    _, fake, _ = wire
    faults = fake.faults
    faults.drip, faults.oversize_mb, faults.redirect_to = (1, 1), 1, "http://x/"
    faults.entity_bomb = faults.garbage = faults.cut_body = faults.bad_gzip = True
    faults.reset()
    assert (faults.drip, faults.oversize_mb, faults.redirect_to) == (None, None, None)
    assert not (faults.entity_bomb or faults.garbage or faults.cut_body or faults.bad_gzip)
    assert faults.oversize_length


# -- the adapters: one contract over both servers ----------------------------------------------------


@pytest.mark.parametrize(
    "fault, value, kind, says, made",
    [
        ("status", 599, "bad_response", "answered HTTP 599", 2),  # a 5xx: retried once
        ("status", 418, "bad_response", "answered HTTP 418", 1),
        ("status", 302, "bad_response", "answered HTTP 302", 1),  # a redirect without Location
        ("garbage", True, "bad_response", "did not answer in HTTP", 1),
        ("cut_body", True, "unreachable", "broke the connection off", 2),
        ("bad_gzip", True, "bad_response", "does not decompress", 1),
        ("entity_bomb", True, "bad_response", "declaring a DTD", 1),
        ("oversize_mb", 3, "bad_response", "sent more than 2 MB", 1),
        ("drip", (1, 0.3), "timeout", "did not answer within 1 s", 2),
        ("redirect_to", "SELF{path}", "bad_response", "redirected more than 5 times", 6),
        ("redirect_to", "ftp://127.0.0.1/x", "bad_response", "cannot use", 1),
    ],
)
def test_each_wire_fault_becomes_a_clear_source_error(wire, settings, fault, value, kind, says, made):
    name, fake, secret = wire
    settings.MEDIA_SERVER_MAX_RESPONSE_MB = 2
    source = get_source(name)
    if fault == "status":
        source.connect()  # the identity call ignores `status`: fail on the next one
    fake.reset_counts()
    setattr(fake.faults, fault, value.replace("SELF", fake.url) if fault == "redirect_to" else value)
    with pytest.raises(SourceError) as exc:
        source.list_playlists() if fault == "status" else source.connect()
    assert exc.value.kind == kind
    assert says in exc.value.message and fake.url.split("//")[1] in exc.value.message
    assert secret not in exc.value.message
    assert fake.total_requests == made


def test_oversize_without_a_length_is_cut_off_at_the_cap(wire, settings):
    name, fake, _ = wire
    settings.MEDIA_SERVER_MAX_RESPONSE_MB = 1
    fake.faults.oversize_mb, fake.faults.oversize_length = 20, False
    with pytest.raises(SourceError, match="sent more than 1 MB"):
        get_source(name).connect()


@pytest.mark.parametrize(
    "location",
    ["{path}", "/x?X-Plex-Token=SECRET&api_key=SECRET&APIKEY=SECRET&keep=1"],
)
def test_a_redirect_to_another_host_never_carries_the_secret(wire, other_host, location):
    name, fake, secret = wire
    fake.faults.redirect_to = other_host.url + location.replace("SECRET", secret)
    source = get_source(name)
    with pytest.raises(SourceError) as exc:
        source.connect()
    assert exc.value.kind == "not_found"  # what the other host answered
    assert other_host.seen and not any(secret in seen for seen in other_host.seen)
    if "keep" in location:
        assert "keep=1" in other_host.seen[0]
    # Request counting went on, and never recorded the secret either.
    assert source.request_count >= 1
    assert secret not in repr(fake.requests)


def test_a_redirect_within_the_server_keeps_the_secret_and_syncs(wire):
    name, fake, _ = wire
    fake.faults.redirect_to = fake.url + MOVED + "{path}"
    result = _sync(name)
    assert result.track_count == 150 == Track.objects.filter(source=name).count()


def test_a_server_that_drips_cannot_hold_the_sync_past_twice_the_deadline(wire):
    name, fake, _ = wire
    _sync(name)
    fake.faults.drip = (20, 0.2)  # each read gets bytes: only a deadline stops it
    with pytest.raises(SyncFailed) as exc:
        _sync(name)
    assert exc.value.kind == "timeout"
    state = SyncState.objects.get(source=name)
    assert not state.is_syncing and "did not answer within 1 s" in state.error
    assert Track.objects.filter(source=name).count() == 150


# -- what the user sees --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault, value, says",
    [
        ("status", 599, "answered HTTP 599"),
        ("garbage", True, "did not answer in HTTP"),
        ("entity_bomb", True, "declaring a DTD"),
        ("oversize_mb", 70, "sent more than 64 MB"),
    ],
)
def test_sync_command_prints_one_line_for_a_broken_server(fake_plex, fault, value, says):
    setattr(fake_plex.faults, fault, value)
    with pytest.raises(CommandError) as exc:
        call_command("sync")
    message = str(exc.value)
    assert says in message and "\n" not in message and fake_plex.token not in message


def test_sync_command_on_a_599_exits_1_with_one_line_and_no_traceback(fake_plex, tmp_path):
    fake_plex.faults.status = 599
    env = processes.app_env(tmp_path, PLEX_URL=fake_plex.url, PLEX_TOKEN=fake_plex.token)
    processes.run(processes.manage("migrate", "-v0"), env).check_returncode()
    done = processes.run(processes.manage("sync"), env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr  # the other stderr line is the log's record of the failure
    assert done.stderr.strip().splitlines()[-1] == (
        f"CommandError: plex sync failed: Plex at {fake_plex.url[7:]} answered HTTP 599 for its identity."
    )


def test_status_api_and_footer_show_the_failure_not_a_500(client, wire, settings):
    name, fake, secret = wire
    settings.MEDIA_SERVER_MAX_RESPONSE_MB = 1
    fake.faults.oversize_mb = 2
    with pytest.raises(SyncFailed):
        _sync(name)
    status = client.get("/api/library/status")
    assert status.status_code == 200
    server = next(s for s in status.json()["servers"] if s["source"] == name)
    assert "sent more than 1 MB" in server["error"]
    footer = client.get("/library/footer")
    assert footer.status_code == 200 and "sent more than 1 MB" in footer.content.decode()
    assert secret not in status.content.decode() + footer.content.decode()


def test_the_debug_page_never_shows_the_token_of_a_request_in_flight(fake_plex, settings):
    settings.DEBUG = True
    source = get_source("plex")
    server = source._connect_server()

    def fail_mid_request(response, **kwargs):
        raise RuntimeError("the server's answer broke something")

    source._session.hooks["response"].append(fail_mid_request)
    try:
        server.query("/library/sections")  # plexapi's frame holds the token in `headers`
    except RuntimeError:
        reporter = ExceptionReporter(RequestFactory().get("/"), *sys.exc_info())
    page = reporter.get_traceback_html()
    assert "X-Plex-Token" in page and "headers" in page  # the frame is on the page
    assert fake_plex.token not in page and fake_plex.token not in reporter.get_traceback_text()
    reporter.filter = SafeExceptionReporterFilter()  # Django's own, for contrast
    assert fake_plex.token in reporter.get_traceback_html()
