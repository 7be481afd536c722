"""Signing in, the first-run page, the throttle and the API key, through the test client."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.models import ApiKey, LoginThrottle
from accounts.tests.conftest import PASSWORD, sign_in

PAGES = ["/", "/playlists/import", "/account", "/admin/", "/admin/library/track/"]
FRAGMENTS = ["/library/footer", "/library/modal", "/playlists/preview", "/playlists/targets"]


def _htmx(page="/playlists/import"):
    return {"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"}


def _shown_key(page):
    return page.split('data-testid="api-key">')[1].split("<")[0]


def test_with_no_account_every_page_leads_to_the_first_run_page(visitor):
    for url in PAGES:
        response = visitor.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/first-run?next="), url
    assert visitor.get("/login")["Location"] == "/first-run"
    fragment = visitor.get("/library/footer", headers=_htmx())
    assert fragment.status_code == 401
    assert fragment["HX-Redirect"] == "/first-run?next=/playlists/import"
    api = visitor.post("/api/library/sync")
    assert api.status_code == 401
    assert api.json() == {"error": "No account yet: create one at http://testserver/first-run."}


def test_the_first_run_page_creates_an_administrator_and_signs_in(visitor, settings):
    settings.AUTH_LOCAL_BYPASS = True  # the account comes first even so
    assert "Create your account" in visitor.get("/first-run").content.decode()

    def create(password1, password2):
        data = {"username": "alice", "password1": password1, "password2": password2}
        return visitor.post("/first-run", {**data, "next": "/playlists/import"})

    assert "didn’t match" in create(PASSWORD, PASSWORD + "!").content.decode()
    assert "This password is too common." in create("password", "password").content.decode()
    assert not get_user_model().objects.exists()

    response = create(PASSWORD, PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/playlists/import"
    (user,) = get_user_model().objects.all()
    assert user.username == "alice" and user.is_superuser and user.is_staff
    assert visitor.get("/admin/").status_code == 200  # the admin takes the same account
    assert "Sign out" in visitor.get("/").content.decode()

    # The page is gone once there is an account: nobody else can make one there.
    stranger = Client()
    assert stranger.get("/first-run")["Location"] == "/login"
    stranger.post("/first-run", {"username": "mallory", "password1": PASSWORD, "password2": PASSWORD})
    assert get_user_model().objects.count() == 1


def test_every_page_fragment_and_api_call_needs_a_login(visitor, account, fake_plex):
    for url in PAGES:
        response = visitor.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"/login?next={url}", url
    for url in FRAGMENTS:
        response = visitor.get(url, headers=_htmx())
        assert response.status_code == 401, url
        assert response["HX-Redirect"] == "/login?next=/playlists/import"
    for method, url in [("get", "/api/library/status"), ("post", "/api/library/sync")]:
        response = getattr(visitor, method)(url)
        assert response.status_code == 401
        assert response.json() == {"error": "Sign in, or send the API key in an X-Api-Key header."}
    saved = visitor.post("/playlists/save", {"name": "Mine", "keys": "1,2", "mode": "create"})
    assert saved.status_code == 302 and fake_plex.playlists == {}

    sign_in(visitor)
    for url in [*PAGES, *FRAGMENTS, "/api/library/status"]:
        assert visitor.get(url).status_code == 200, url


def test_signing_in_returns_to_the_page_asked_for_and_signing_out_ends_the_session(visitor, account):
    login = visitor.get("/playlists/import", follow=True)
    assert login.request["PATH_INFO"] == "/login"
    assert 'name="next" value="/playlists/import"' in login.content.decode()

    wrong = sign_in(visitor, password="not it", next="/playlists/import")
    assert "Please enter a correct username and password" in wrong.content.decode()
    assert sign_in(visitor, next="/playlists/import")["Location"] == "/playlists/import"
    assert "alice" in visitor.get("/playlists/import").content.decode()

    # A sign-in never sends anyone to another site.
    visitor.post("/logout")
    assert sign_in(visitor, next="https://evil.example/")["Location"] == "/"

    assert visitor.get("/logout").status_code == 405  # only a form's POST signs out
    assert visitor.post("/logout")["Location"] == "/login"
    assert visitor.get("/")["Location"] == "/login?next=/"


def test_the_admin_signs_in_through_the_throttled_form(visitor, account, settings):
    settings.AUTH_LOCAL_BYPASS = True  # even where the app itself needs no sign-in
    response = visitor.get("/admin/login/?next=/admin/library/track/")
    assert response["Location"] == "/login?next=/admin/library/track/"
    assert visitor.post("/admin/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    assert visitor.get("/admin/").status_code == 302  # that POST signed nobody in


def test_failed_logins_are_throttled_per_address_and_per_username(visitor, account, django_user_model):
    django_user_model.objects.create_user("bob", password=PASSWORD)
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    for _ in range(4):
        assert "Please enter a correct" in sign_in(visitor, password="guess", **outside).content.decode()
    fifth = sign_in(visitor, password="guess", **outside).content.decode()
    assert "Too many failed sign-ins. Try again in 30 seconds." in fifth

    # Locked: not even the right password gets in, from there or for that username.
    assert "Try again in" in sign_in(visitor, **outside).content.decode()
    assert "Try again in" in sign_in(visitor, "bob", **outside).content.decode()
    assert "Try again in" in sign_in(visitor, REMOTE_ADDR="198.51.100.7").content.decode()
    assert visitor.get("/", **outside).status_code == 302
    # Another user from another address is not held up.
    assert sign_in(Client(), "bob", REMOTE_ADDR="198.51.100.7").status_code == 302

    # Each failure after the wait doubles the next wait.
    LoginThrottle.objects.update(locked_until=timezone.now())
    sixth = sign_in(visitor, password="guess", **outside).content.decode()
    assert "Too many failed sign-ins. Try again in 1 minute." in sixth

    LoginThrottle.objects.update(locked_until=timezone.now())
    assert sign_in(visitor, **outside)["Location"] == "/"
    assert not LoginThrottle.objects.filter(value__in=["alice", "203.0.113.9"]).exists()


def test_the_api_key_works_in_a_header_and_never_in_the_url(client, visitor, fake_plex):
    assert "Generate API key" in client.get("/account").content.decode()
    page = client.post("/account").content.decode()
    key = _shown_key(page)
    assert "Copy it now" in page and len(key) >= 40
    # Shown once: only its hash is kept.
    again = client.get("/account").content.decode()
    assert key not in again and "Regenerate API key" in again
    assert key not in str(list(ApiKey.objects.values()))

    for headers in ({"X-Api-Key": key}, {"Authorization": f"Bearer {key}"}):
        assert visitor.get("/api/library/status", headers=headers).status_code == 200
        assert visitor.get("/playlists/import", headers=headers).status_code == 200
    for parameter in ("apikey", "api_key"):
        refused = visitor.get(f"/api/library/status?{parameter}={key}")
        assert refused.status_code == 401
        assert refused.json() == {"error": "Send the API key in an X-Api-Key header, never in the URL."}
    wrong_key = ("y" if key[0] == "x" else "x") + key[1:]  # never the key itself
    wrong = visitor.get("/api/library/status", headers={"X-Api-Key": wrong_key})
    assert wrong.status_code == 401 and wrong.json() == {"error": "The API key is not valid."}

    # Regenerating retires the old key.
    new = _shown_key(client.post("/account").content.decode())
    assert visitor.get("/api/library/status", headers={"X-Api-Key": key}).status_code == 401
    assert visitor.get("/api/library/status", headers={"X-Api-Key": new}).status_code == 200


def test_the_api_key_needs_no_csrf_token_but_a_session_still_does(csrf_client, fake_plex):
    key = ApiKey.generate(get_user_model().objects.get(username="tester"))
    assert csrf_client.post("/api/library/sync").status_code == 403
    scripts = Client(enforce_csrf_checks=True)
    response = scripts.post("/api/library/sync", headers={"X-Api-Key": key})
    assert response.status_code == 202 and response.json() == {"started": True}


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.20.0.5",
        "192.168.1.20",
        "169.254.3.4",
        "::1",
        "fd00::5",
        "fe80::1",
        "::ffff:192.168.1.2",
    ],
)
def test_the_local_bypass_lets_private_addresses_in_when_turned_on(visitor, account, settings, address):
    assert visitor.get("/", REMOTE_ADDR=address).status_code == 302
    settings.AUTH_LOCAL_BYPASS = True
    assert visitor.get("/", REMOTE_ADDR=address).status_code == 200
    assert visitor.get("/api/library/status", REMOTE_ADDR=address).status_code != 401


@pytest.mark.parametrize("address", ["203.0.113.9", "8.8.8.8", "172.32.0.1", "2001:db8::1", "100.64.0.1"])
def test_the_local_bypass_never_lets_public_addresses_in(visitor, account, settings, address):
    settings.AUTH_LOCAL_BYPASS = True
    assert visitor.get("/", REMOTE_ADDR=address).status_code == 302


def test_a_spoofed_forwarded_for_from_outside_does_not_bypass_the_login(visitor, account, settings):
    settings.AUTH_LOCAL_BYPASS = True
    spoofed = visitor.get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert spoofed.status_code == 302 and spoofed["Location"] == "/login?next=/"
    # Nor through a proxy that is not one of TRUSTED_PROXIES.
    settings.TRUSTED_PROXIES = ["172.18.0.2"]
    unknown_proxy = visitor.get("/", REMOTE_ADDR="203.0.113.10", HTTP_X_FORWARDED_FOR="192.168.1.20")
    assert unknown_proxy.status_code == 302


def test_behind_trusted_proxies_the_client_is_the_rightmost_address_they_did_not_write(
    visitor, account, settings
):
    settings.AUTH_LOCAL_BYPASS = True
    settings.TRUSTED_PROXIES = ["172.18.0.0/16", "10.0.0.1"]

    def via_proxy(forwarded_for):
        return visitor.get("/", REMOTE_ADDR="172.18.0.2", HTTP_X_FORWARDED_FOR=forwarded_for).status_code

    assert via_proxy("192.168.1.20") == 200  # a LAN client through the proxy
    assert via_proxy("192.168.1.20, 10.0.0.1") == 200  # through two proxies of ours
    assert via_proxy("203.0.113.9") == 302  # someone on the internet
    # The client wrote the left-most entries itself: they prove nothing.
    assert via_proxy("127.0.0.1, 203.0.113.9") == 302
    assert via_proxy("127.0.0.1, 203.0.113.9, 10.0.0.1") == 302
    assert via_proxy("not-an-address") == 302


def test_failures_behind_the_proxy_count_against_the_client_not_the_proxy(visitor, account, settings):
    get_user_model().objects.create_user("bob", password=PASSWORD)
    settings.TRUSTED_PROXIES = ["172.18.0.2"]
    proxy = {"REMOTE_ADDR": "172.18.0.2"}
    for _ in range(5):
        sign_in(visitor, password="guess", HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy)
    locked = sign_in(visitor, "bob", HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy)
    assert "Try again in" in locked.content.decode()
    assert sign_in(Client(), "bob", HTTP_X_FORWARDED_FOR="192.168.1.20", **proxy).status_code == 302
