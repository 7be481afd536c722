"""Nothing is served without a sign-in, the API key or (AUTH_LOCAL_BYPASS) a private address.

ReverseProxyMiddleware comes first in MIDDLEWARE; LoginRequiredMiddleware does its work in
__call__, which runs before any middleware's process_view, so an unauthenticated request
is answered before CSRF or the import size guard read its body.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, JsonResponse
from django.shortcuts import resolve_url
from django.urls import Resolver404, resolve

from accounts import addresses
from accounts.models import ApiKey

# The other places a key might be put, all refused with a word on where it goes.
_KEY_PARAMETERS = ("apikey", "api_key", "x-api-key")


class ReverseProxyMiddleware:
    """The client address, scheme and host a trusted proxy reports (and Secure cookies
    when the request came over HTTPS: the same app may be reached over plain http on the LAN)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.client_address = addresses.client_address(request.META)
        addresses.apply_forwarded(request.META)
        response = self.get_response(request)
        if request.is_secure():
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
                if name in response.cookies:
                    response.cookies[name]["secure"] = True
        return response


class LoginRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return _refusal(request) or self.get_response(request)


def _refusal(request):
    """The response that turns the request away, or None to serve it."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        match = None
    if match and match.view_name == "admin:login":
        # The admin's own sign-in form is not throttled: always sign in through ours.
        return redirect_to_login(request.GET.get("next") or resolve_url("admin:index"))
    if key := _api_key(request):
        user = ApiKey.user_for(key)
        if user is None:
            return _unauthorized("The API key is not valid.")
        request.user = user
        # No cookie authenticated this request, so no other site can have forged it.
        request._dont_enforce_csrf_checks = True
        return None
    if request.path_info == "/health" or (match and not getattr(match.func, "login_required", True)):
        return None
    if request.user.is_authenticated:
        return None
    # As in Sonarr v4, the account is made first even where the local bypass will skip it.
    if not get_user_model().objects.exists():
        return _send_to(request, "first-run", "No account yet: create one at {url}.")
    if settings.AUTH_LOCAL_BYPASS and addresses.is_private(request.client_address):
        return None
    if any(name.lower() in _KEY_PARAMETERS for name in request.GET):
        return _unauthorized("Send the API key in an X-Api-Key header, never in the URL.")
    return _send_to(request, "login", "Sign in, or send the API key in an X-Api-Key header.")


def _api_key(request):
    if key := request.headers.get("X-Api-Key", "").strip():
        return key
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def _send_to(request, view_name, message):
    """A page goes to the sign-in (or first-run) page, and comes back afterwards; htmx
    is told to take the whole page there; an API caller gets JSON."""
    url = resolve_url(view_name)
    if request.path_info.startswith("/api/"):
        return _unauthorized(message.format(url=request.build_absolute_uri(url)))
    if request.htmx:
        if back := request.htmx.current_url_abs_path:
            url = redirect_to_login(back, url)["Location"]
        return HttpResponse(status=401, headers={"HX-Redirect": url})
    return redirect_to_login(request.get_full_path(), url)


def _unauthorized(message):
    return JsonResponse(
        {"error": message}, status=401, headers={"WWW-Authenticate": 'Bearer realm="MediaSage"'}
    )
