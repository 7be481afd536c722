"""The wire to one media server: a requests.Session both adapters use, hardened
against broken and hostile servers, and the one place for timeouts, the one
retry, turning a failed request into a SourceError, and counting requests.

- Secrets stay home: a redirect that leaves the server's origin (scheme, host,
  port) loses the token headers and token query parameters.
- The timeout is a deadline for the whole request (connect, redirects, headers,
  body): a watchdog shuts the socket in use down when it passes, so a server
  dripping a byte every few seconds cannot hold a sync for hours.
- Answers are capped at MEDIA_SERVER_MAX_RESPONSE_MB, by Content-Length up front
  and while reading.
- XML that declares a DTD is refused before anyone parses it: plexapi parses
  with the stdlib, whose defence against entity expansion depends on the expat
  it was built with. Plex never sends a DTD.
- Every status but 200, 201 and 204 is raised here (plexapi trips over codes it
  has no name for, such as 599), and call() maps every failure to a SourceError
  whose kind is an ErrorKind, retrying once what may pass.
- `request_count` counts every request sent (each retry and redirect too); nothing
  about a request is kept but the count and the server's clock (`server_time`).
"""

import codecs
import contextlib
import logging
import re
import socket
import threading
import time
from http.client import BadStatusLine, LineTooLong, RemoteDisconnected
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from xml.etree.ElementTree import ParseError

import requests
from django.conf import settings
from plexapi.utils import cleanXMLString
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from library.sources.base import SourceError, server_time
from library.vocab import ErrorKind

log = logging.getLogger(__name__)

# Headers and query parameters that carry a Plex token or a Jellyfin key.
_SECRET_HEADERS = (
    "X-Plex-Token",
    "Authorization",
    "X-Emby-Token",
    "X-Emby-Authorization",
    "X-MediaBrowser-Token",
)
_SECRET_PARAMS = {"x-plex-token", "api_key", "apikey"}
_OK = (200, 201, 204)  # what plexapi accepts, and all the Jellyfin endpoints used answer
_MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
# The start of an answer decoded to look for a DTD; a longer prolog is refused.
_HEAD = 64 * 1024
_SPACE = re.compile(r"[\s\ufeff]*")
_ENCODING = re.compile(r"""\bencoding\s*=\s*["']([^"']*)""")

_local = threading.local()


class DeadlineExceeded(requests.exceptions.Timeout):
    """The request outlived its deadline."""


class TooLarge(requests.exceptions.RequestException):
    """The answer is larger than the cap."""


class UnsafeXML(requests.exceptions.RequestException):
    """The answer is XML with a DTD (or a prolog that could hide one)."""


class ServerSession(requests.Session):
    """A session for one media server. `label` ("Plex") and `credential` (the
    secret and its setting, "the token … PLEX_TOKEN") go into error messages;
    `timeout` is each request's deadline in seconds, and a failed request is
    retried once after MEDIA_SERVER_RETRY_PAUSE seconds, so a request's worst case
    is about twice the timeout."""

    def __init__(self, url, label, credential, setting, timeout):
        super().__init__()
        parts = urlsplit(url)
        self._origin = _origin(url)
        # Host and port only: a user:password@ in the URL must not reach a message.
        self.where = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.label, self.credential, self.setting = label, credential, setting
        self.timeout = timeout
        self.retry_pause = settings.MEDIA_SERVER_RETRY_PAUSE
        self.request_count = 0
        self.server_time = None  # the Date of the latest good answer
        self.max_mb = settings.MEDIA_SERVER_MAX_RESPONSE_MB
        self.max_setting = "MEDIA_SERVER_MAX_RESPONSE_MB"  # named when an answer is over max_mb
        # False only for a caller whose own XML parser refuses a DTD (playlists.outside).
        self.refuse_dtd = True
        self.max_redirects = _MAX_REDIRECTS
        self.mount("http://", _WatchedAdapter())
        self.mount("https://", _WatchedAdapter())

    # -- requests -------------------------------------------------------------

    def request(self, method, url, **kwargs):
        """Send a request and read its answer within the session's deadline (a
        per-call timeout is ignored). Raises requests.HTTPError for a status other
        than 200, 201 or 204, TooLarge, UnsafeXML, DeadlineExceeded, or what
        requests raises."""
        kwargs.update(timeout=self.timeout, stream=True)
        with _Deadline(self.timeout) as deadline:
            try:
                response = super().request(method, url, **kwargs)
                try:
                    self._accept(response)
                except BaseException:
                    response.close()
                    raise
            except Exception as exc:
                if deadline.expired:
                    raise self._deadline_exceeded() from exc
                raise
        # A body read until the close that the watchdog forced looks complete.
        if deadline.expired:
            raise self._deadline_exceeded()
        self.server_time = server_time(response) or self.server_time
        return response

    def send(self, request, **kwargs):
        self.request_count += 1  # every request that goes out: a retry or a redirect too
        return super().send(request, **kwargs)

    def _deadline_exceeded(self):
        return DeadlineExceeded(f"no complete answer within {self.timeout} s")

    def _accept(self, response):
        # Error pages are read too (under the cap), so the connection can serve the retry.
        cap = self.max_mb * 2**20
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > cap:
            raise TooLarge(f"Content-Length {length}")
        chunks, size = [], 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > cap:
                raise TooLarge(f"over {cap} bytes")
            chunks.append(chunk)
        response._content = b"".join(chunks)  # what response.content would have read
        if response.status_code not in _OK:
            raise requests.exceptions.HTTPError(f"HTTP {response.status_code}", response=response)
        # requests would guess an undeclared charset from the bytes; fix it, so
        # that what plexapi decodes and parses is exactly what was checked.
        response.encoding = response.encoding or "utf-8"
        if self.refuse_dtd and _unsafe_xml(_head(response.content, response.encoding)):
            raise UnsafeXML("a DTD")

    def get_redirect_target(self, resp):
        target = super().get_redirect_target(resp)
        if target:
            # requests would read a redirect's body, however large, to reuse the
            # connection; drop the connection instead.
            resp._content = b""
        return target

    def rebuild_auth(self, prepared_request, response):
        super().rebuild_auth(prepared_request, response)
        if _origin(prepared_request.url) != self._origin:
            for name in _SECRET_HEADERS:
                prepared_request.headers.pop(name, None)
            prepared_request.url = _without_secret_params(prepared_request.url)

    # -- errors ---------------------------------------------------------------

    @property
    def server(self):
        """How messages name the server: "Plex at 192.168.1.10:32400", or the host
        alone for a session without a label (any web server)."""
        return f"{self.label} at {self.where}" if self.label else self.where

    def error(self, kind, said):
        """A SourceError of `kind` saying what the server did: error(BAD_RESPONSE,
        "sent an empty answer for tracks") -> "Plex at host:port sent an empty answer…"."""
        return SourceError(kind, f"{self.server} {said}")

    def call(self, fn, what, refused=""):
        """Run fn() (one request), retrying once on a timeout, a dropped connection
        or a 5xx, and turn every failure into a SourceError the user can act on.
        `refused` adds an explanation to a 400 or 403."""
        for attempt in (1, 2):
            try:
                return fn()
            except SourceError:
                raise
            except Exception as exc:  # every failure of requests or plexapi: none may escape as a traceback
                error, retry = self._error(exc, what, refused)
            if not retry:
                raise error
            if attempt == 1:
                time.sleep(self.retry_pause)
        raise error

    def _error(self, exc, what, refused):
        """(SourceError, worth a retry) for a failed request."""
        server = self.server
        if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
            status = exc.response.status_code
            if status == 401:
                message = (
                    f"{server} rejected {self.credential} (HTTP 401). Check {self.setting}."
                    if self.credential
                    else f"{server} asks for a sign-in for {what} (HTTP 401): it is not public."
                )
                return SourceError(ErrorKind.UNAUTHORIZED, message), False
            if status == 404:
                return SourceError(ErrorKind.NOT_FOUND, f"{server} has no {what} (HTTP 404)."), False
            message = f"{server} answered HTTP {status} for {what}."
            if status in (400, 403):
                message += refused
            return SourceError(
                ErrorKind.UNAUTHORIZED if status == 403 else ErrorKind.BAD_RESPONSE, message
            ), status >= 500
        if isinstance(exc, TooLarge):
            message = f"{server} sent more than {self.max_mb} MB for {what} ({self.max_setting})."
            return SourceError(ErrorKind.BAD_RESPONSE, message), False
        if isinstance(exc, UnsafeXML):
            message = f"{server} sent XML declaring a DTD for {what}, which MediaSage refuses."
            return SourceError(ErrorKind.BAD_RESPONSE, message), False
        if isinstance(exc, ParseError):
            return SourceError(ErrorKind.BAD_RESPONSE, f"{server} sent malformed XML for {what}."), False
        if isinstance(exc, requests.exceptions.SSLError):
            message = (
                f"{server} failed the HTTPS certificate check. Use the address its certificate is for "
                "(for Plex, its plex.direct address), or http:// on your own network."
            )
            return SourceError(ErrorKind.UNREACHABLE, message), False
        if isinstance(exc, requests.exceptions.Timeout):
            message = f"{server} did not answer within {self.timeout} s for {what}."
            return SourceError(ErrorKind.TIMEOUT, message), True
        if isinstance(exc, requests.exceptions.ContentDecodingError):
            message = f"{server} sent a compressed answer that does not decompress for {what}."
            return SourceError(ErrorKind.BAD_RESPONSE, message), False
        if isinstance(exc, requests.exceptions.TooManyRedirects):
            message = f"{server} redirected more than {_MAX_REDIRECTS} times for {what}."
            return SourceError(ErrorKind.BAD_RESPONSE, message), False
        if isinstance(exc, requests.exceptions.ConnectionError) and _not_http(exc):
            return SourceError(ErrorKind.BAD_RESPONSE, f"{server} did not answer in HTTP for {what}."), False
        if isinstance(exc, requests.exceptions.ChunkedEncodingError):
            message = f"{server} broke the connection off while sending {what}."
            return SourceError(ErrorKind.UNREACHABLE, message), True
        if isinstance(exc, requests.exceptions.ConnectionError):
            return SourceError(ErrorKind.UNREACHABLE, f"Cannot reach {server}."), True
        # A redirect to a non-HTTP address, a header requests refuses, plexapi failing
        # on an odd answer: the server's doing, and it would do the same again.
        if not isinstance(exc, requests.exceptions.RequestException):
            log.warning("%s: unexpected failure reading %s", server, what, exc_info=True)
        message = f"{server} sent an answer MediaSage cannot use for {what} ({exc.__class__.__name__})."
        return SourceError(ErrorKind.BAD_RESPONSE, message), False


# -- the deadline -------------------------------------------------------------


class _Deadline:
    """Shuts down the socket in use when a request outlives `seconds`; the
    connection classes below report their socket through `_local.deadline`."""

    def __init__(self, seconds):
        self.expired = False
        self._done = False
        self._sock = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self):
        _local.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()
        with self._lock:
            self._done = True
        _local.deadline = None

    def watch(self, sock):
        with self._lock:
            self._sock = sock
            if self.expired and not self._done:
                _shut(sock)  # connected just after the deadline passed

    def _expire(self):
        with self._lock:
            if self._done:
                return
            self.expired = True
            if self._sock is not None:
                _shut(self._sock)


def _shut(sock):
    # socket.socket's own shutdown, also on an SSLSocket, whose shutdown() would
    # first drop its TLS state under the reading thread.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watch(sock):
    if (deadline := getattr(_local, "deadline", None)) is not None:
        deadline.watch(sock)


class _Watched:
    """Reports each socket it opens (before any TLS handshake) or reuses."""

    def _new_conn(self):
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def request(self, *args, **kwargs):
        if self.sock is not None:  # a kept-alive connection, used again
            _watch(self.sock)
        return super().request(*args, **kwargs)


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    # Through a proxy (HTTP_PROXY), requests makes its own pools: those requests
    # keep the per-read timeout and the size cap, not the watchdog.
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


# -- helpers ------------------------------------------------------------------


def _origin(url):
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port or {"http": 80, "https": 443}.get(parts.scheme)


def _without_secret_params(url):
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in params if k.lower() not in _SECRET_PARAMS]
    return url if len(kept) == len(params) else urlunsplit(parts._replace(query=urlencode(kept)))


def _head(content, encoding):
    """The start of the body, decoded as response.text decodes it."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    except LookupError:  # response.text falls back to UTF-8 as well
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return decoder.decode(content[:_HEAD], final=len(content) <= _HEAD)


def _unsafe_xml(head):
    """Whether the document starting with `head` is XML whose prolog declares a
    DTD (the door to entity expansion) or could hide one from this look: any
    `<!` but a comment before the root element, a prolog longer than `head`, or
    a declared encoding other than UTF-8 (plexapi parses the text as UTF-8 bytes).
    Looked at as plexapi's retry after a parse error sees it, without the
    characters XML forbids."""
    head = cleanXMLString(head)
    pos = _SPACE.match(head).end()
    if not head.startswith("<", pos):
        return False  # JSON or text: no XML parser reads it
    while True:
        pos = _SPACE.match(head, pos).end()
        if head.startswith("<?", pos):
            end = head.find("?>", pos)
            encoding = _ENCODING.search(head, pos, end if end >= 0 else len(head))
            if end < 0 or (encoding and encoding[1].lower().replace("-", "") != "utf8"):
                return True
            pos = end + 2
        elif head.startswith("<!--", pos):
            end = head.find("-->", pos + 4)
            if end < 0:
                return True
            pos = end + 3
        else:
            return not (head.startswith("<", pos) and head[pos + 1 : pos + 2] not in ("", "!", "?"))


def _not_http(exc):
    """Whether a connection error is the server answering something other than
    HTTP (it did answer, so it is reachable)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (BadStatusLine, LineTooLong)) and not isinstance(exc, RemoteDisconnected):
            return True
        nested = [a for a in exc.args if isinstance(a, BaseException)]
        exc = exc.__cause__ or exc.__context__ or (nested[-1] if nested else None)
    return False
