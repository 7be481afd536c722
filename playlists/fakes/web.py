"""A fake web server for outside playlists, on the fake media servers' base
(library.fakes.server): a real port, request counting, and the same fault switches
(status, drip, oversize, redirect_to, garbage, cut_body...).

FakeWebServer serves files put in `files`; the fake ListenBrainz and Deezer APIs
answer their routes through the same `_serve`.

    with FakeWebServer({"/mix.m3u": ("audio/x-mpegurl", b"#EXTM3U...")}) as web:
        requests.get(web.url + "/mix.m3u")

Standard library only; no Django.
"""

import json
from urllib.parse import parse_qs, urlsplit

from library.fakes.server import FakeServer, status_phrase


class FakeWebServer(FakeServer):
    """Serves `files` ({path: (content type, body)}); any other path is 404."""

    thread_name = "fake-web"
    empty_listing = ("text/plain; charset=utf-8", b"", b"")

    def __init__(self, files=None, host="127.0.0.1", port=0):
        super().__init__(library=None, host=host, port=port)
        self.files = dict(files or {})

    def answer(self, method, path, query):
        """(route pattern for the counters, status, content type, body)."""
        if method == "GET" and path in self.files:
            return (path, 200, *self.files[path])
        return path, 404, "text/html; charset=utf-8", b"<html><body><h1>404 Not Found</h1></body></html>"

    def _serve(self, handler):
        parts = urlsplit(handler.path)
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        route, status, content_type, body = self.answer(handler.command, parts.path, query)
        self._count(handler.command, route)
        if self._too_long(handler):
            status, content_type, body = 414, "text/plain", b""
        elif self.faults.status:
            status, content_type, body = self.faults.status, "text/plain", b""
        handler.send_response_only(status)
        handler.send_header("Content-Type", content_type)
        body = body or (status_phrase(status).encode() if status >= 400 else b"")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def json_answer(route, data, status=200):
    """An `answer` for a JSON API."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return route, status, "application/json; charset=utf-8", body
