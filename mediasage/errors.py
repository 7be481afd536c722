"""A database that cannot be read or written in time is answered with 503 and
the reason, on every surface: JSON for the API, a small fragment for htmx, the
app's layout for a page."""

import logging
import sys

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.defaults import server_error

log = logging.getLogger(__name__)


# How psycopg says PostgreSQL cannot be reached, or went away.
_UNREACHABLE = (
    "connection failed",
    "could not connect",
    "connection refused",
    "server closed the connection",
)


def describe_database_error(exc):
    """What went wrong with the cache database's storage, in words for the user;
    None for any other database error (a missing table is a bug: a plain 500)."""
    if not isinstance(exc, DatabaseError):
        return None
    text = str(exc).lower()
    # PostgreSQL's words too: lock_timeout is DB_BUSY_TIMEOUT there (settings._database).
    if "locked" in text or "busy" in text or "lock timeout" in text:
        return (
            f"The library database is busy: another process held it for over "
            f"{settings.DB_BUSY_TIMEOUT} s. Try again in a moment."
        )
    if any(words in text for words in _UNREACHABLE):
        return "The library database server (PostgreSQL) did not answer: is it running and reachable?"
    if "full" in text or "no space left" in text:
        return "The disk holding the library database is full."
    if "readonly" in text or "read-only" in text:
        return "The library database is read-only: MediaSage cannot write to it."
    if "unable to open" in text:
        return "The library database cannot be opened."
    if "disk i/o error" in text:
        return "The library database could not be read or written (disk I/O error)."
    return None


def _database_error_response(request, exc, reason):
    log.error("%s %s: %s", request.method, request.path, exc)
    if request.path_info.startswith("/api/") or request.path_info == "/health":
        return JsonResponse({"error": reason}, status=503)
    # Rendered without the request: the context processors would ask the database again.
    template = "error_fragment.html" if getattr(request, "htmx", False) else "error.html"
    return HttpResponse(render_to_string(template, {"reason": reason}), status=503)


class DatabaseErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if reason := describe_database_error(exception):
            return _database_error_response(request, exception, reason)
        return None


def handler500(request):
    """For a storage failure raised outside a view (in a middleware), else Django's own 500 page."""
    exc = sys.exc_info()[1]
    if reason := describe_database_error(exc):
        return _database_error_response(request, exc, reason)
    return server_error(request)
