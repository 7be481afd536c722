"""What the fake media servers share: a real port served from daemon threads,
request counters that never record a secret, fault switches, and the 414 that
real servers give an over-long request line.

Wire faults (drip, oversize, redirect_to, entity_bomb, garbage, cut_body, bad_gzip)
act on the HTTP exchange itself, whatever was asked, so both fakes have them alike."""

import contextlib
import socket
import socketserver
import struct
import threading
from collections import Counter
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A redirect_to URL that points back at the same fake uses this prefix: requests
# under it are served as if it were not there, so a same-host redirect ends.
MOVED = "/moved"
_CHUNK = 64 * 1024


class Faults:
    """Fault switches, all off by default; tests may flip them at any time."""

    def __init__(self):
        self.hang_seconds = 120  # a setting, not a switch: reset() keeps it
        self.reset()

    def reset(self):
        self.fail_after_pages = None  # then 500 on every further track page
        self.hang_after_pages = None  # then further track pages wait hang_seconds first
        self.drop_after_pages = None  # then close the connection without a response
        self.malformed_after_pages = None  # then 200 with truncated XML
        self.status = None  # answer every request but /identity with this status
        # After that many adds to (removals from, moves in) playlists, the next one and its
        # retry answer 500; later ones succeed.
        self.fail_playlist_adds_after = None
        self.fail_playlist_removes_after = None
        self.fail_playlist_moves_after = None
        # Wire faults, on every request:
        self.drip = None  # (n, seconds): send answers n bytes at a time, `seconds` apart
        self.oversize_mb = None  # answer 200 with a valid, empty listing padded to this many MB
        self.oversize_length = True  # ... announced by Content-Length (False: until the close)
        self.redirect_to = None  # answer 302 to this URL; "{path}" in it becomes the request's path
        self.entity_bomb = False  # answer 200 with a billion-laughs XML document
        self.garbage = False  # answer with bytes that are not HTTP
        self.cut_body = False  # send half of a 200 answer, then reset the connection
        self.bad_gzip = False  # answer 200 "Content-Encoding: gzip" with a body that is not


class _HttpError(Exception):
    def __init__(self, status):
        self.status = status


class FakeServer:
    """Lifecycle and counters; subclasses answer requests in `_serve(handler)`.

    start()/stop(), or `with`. `requests` counts (method, route pattern) and
    `track_pages` the track pages served without a fault. `on_track_page`, when set,
    is called with the library keys of each such page once it is served, so a test
    can edit the library in the middle of a sync."""

    max_url_length = 8192  # longer request lines get 414, as on real servers
    thread_name = "fake-server"
    # An empty listing in the server's format, as (content type, head, tail):
    # oversize pads it with whitespace, which both formats allow.
    empty_listing = ("text/xml;charset=utf-8", b'<MediaContainer size="0">', b"</MediaContainer>")

    def __init__(self, library, host, port):
        self.library = library
        self.host = host
        self.port = port
        self.faults = Faults()
        self.requests = Counter()
        self.track_pages = 0
        self.on_track_page = None
        self.total_requests = 0
        self._count_lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = None
        self._thread = None

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def start(self):
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]  # a restart keeps the same URL
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self):
        if self._httpd is None:
            return
        self._stopping.set()  # wakes hanging handlers
        self._httpd.shutdown()
        self._httpd.close_connections()  # or keep-alive clients would still be served
        self._httpd.server_close()
        self._thread.join()
        self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def reset_counts(self):
        with self._count_lock:
            self.requests.clear()
            self.track_pages = 0
            self.total_requests = 0

    def _count(self, method, route):
        with self._count_lock:
            self.requests[(method, route)] += 1
            self.total_requests += 1

    def _playlist_fault(self, change):
        """Raise the 500 that faults.fail_playlist_{change}_after asks for, when it is due."""
        name = f"fail_playlist_{change}_after"
        with self._count_lock:
            left = getattr(self.faults, name)
            if left is None:
                return
            setattr(self.faults, name, left - 1)
        if left in (0, -1):  # the add and its retry
            raise _HttpError(500)

    def _too_long(self, handler):
        return len(handler.raw_requestline.rstrip(b"\r\n")) > self.max_url_length

    def _page_fault(self):
        """The fault due on the next track page, if any."""
        for name in ("fail", "drop", "malformed", "hang"):
            after = getattr(self.faults, f"{name}_after_pages")
            if after is not None and self.track_pages >= after:
                return name
        return None

    def _wire_fault(self, handler):
        """Act out the wire fault that is on, if any: True when it answered."""
        faults = self.faults
        if faults.redirect_to:
            if handler.path.startswith(MOVED + "/"):
                handler.path = handler.path[len(MOVED) :]
                return False
            location = faults.redirect_to.replace("{path}", handler.path)
            return self._fault_answer(handler, "redirect", 302, [("Location", location)])
        content_type, head, tail = self.empty_listing
        if faults.garbage:
            self._count(handler.command, "<garbage>")
            handler.wfile.write(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
            handler.close_connection = True
            return True
        if faults.entity_bomb:
            return self._fault_answer(handler, "entity bomb", 200, [("Content-Type", "text/xml")], _BOMB)
        if faults.bad_gzip:
            headers = [("Content-Type", content_type), ("Content-Encoding", "gzip")]
            return self._fault_answer(handler, "bad gzip", 200, headers, head + tail)
        if faults.cut_body:
            body = head + b" " * _CHUNK + tail
            headers = [("Content-Type", content_type)]
            self._fault_answer(handler, "cut body", 200, headers, body[: len(body) // 2], len(body))
            # A reset, not a polite close: linger 0 makes close() send RST.
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return True
        if faults.oversize_mb:
            self._oversize(handler, content_type, head, tail)
            return True
        return False

    def _fault_answer(self, handler, name, status, headers, body=b"", length=None):
        """Answer with `body` (announced as `length` bytes when given) and close."""
        self._count(handler.command, f"<{name}>")
        handler.send_response(status)
        for header in headers:
            handler.send_header(*header)
        if length is not False:
            handler.send_header("Content-Length", str(len(body) if length is None else length))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)
        return True

    def _oversize(self, handler, content_type, head, tail):
        """A valid empty listing padded with whitespace to oversize_mb, streamed so
        the fake itself never holds it."""
        size = int(self.faults.oversize_mb * 2**20)
        padding = size - len(head) - len(tail)
        length = size if self.faults.oversize_length else False
        self._fault_answer(handler, "oversize", 200, [("Content-Type", content_type)], head, length)
        block = b" " * _CHUNK
        for _ in range(padding // _CHUNK):
            handler.wfile.write(block)
        handler.wfile.write(b" " * (padding % _CHUNK) + tail)

    def _dropped_or_hung(self, handler, fault):
        """Act out a drop or a hang; True when the connection was given up."""
        if fault == "drop" or (fault == "hang" and self._stopping.wait(self.faults.hang_seconds)):
            handler.close_connection = True
            return True
        return False


class _HTTPServer(ThreadingHTTPServer):
    def __init__(self, address, fake):
        self.fake = fake
        self.connections = set()
        super().__init__(address, _Handler)

    def server_bind(self):
        # HTTPServer.server_bind looks up the host's FQDN, which can stall on a slow resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address):
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self):
        for sock in list(self.connections):
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    # Headers and body go out in two writes; with Nagle on, the body waits for
    # the client's delayed ACK and every response costs an extra 40 ms.
    disable_nagle_algorithm = True

    def do_GET(self):
        fake = self.server.fake
        wfile = self.wfile
        if fake.faults.drip:
            self.wfile = _Drip(wfile, *fake.faults.drip, fake._stopping)
        try:
            if not fake._wire_fault(self):
                fake._serve(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout, say)
        finally:
            self.wfile = wfile

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, *args):
        pass  # quiet: server.requests counts what was asked


class _Drip:
    """A writer that sends n bytes at a time, `seconds` apart: status line,
    headers and body alike (a server stalling in the middle of its headers)."""

    def __init__(self, wfile, n, seconds, stopping):
        self._wfile, self._n, self._seconds, self._stopping = wfile, n, seconds, stopping

    def write(self, data):
        for i in range(0, len(data), self._n):
            if i and self._stopping.wait(self._seconds):
                raise BrokenPipeError  # the fake is stopping: give the answer up
            self._wfile.write(data[i : i + self._n])
            self._wfile.flush()
        return len(data)

    def flush(self):
        self._wfile.flush()


def status_phrase(status):
    """The reason phrase of a status; codes outside the registry (599) get a generic one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown Status"


def _billion_laughs():
    """A small document whose entities would expand to 10**9 "lol"s (3 GB)."""
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE MediaContainer [\n  '
        + "\n  ".join(entities)
        + '\n]>\n<MediaContainer size="1" title="&lol9;"/>\n'
    ).encode()


_BOMB = _billion_laughs()
