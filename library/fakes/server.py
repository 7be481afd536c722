"""What the fake media servers share: a real port served from daemon threads,
request counters that never record a secret, fault switches, and the 414 that
real servers give an over-long request line."""

import contextlib
import socket
import socketserver
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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


class _HttpError(Exception):
    def __init__(self, status):
        self.status = status


class FakeServer:
    """Lifecycle and counters; subclasses answer requests in `_serve(handler)`.

    start()/stop(), or `with`. `requests` counts (method, route pattern) and
    `track_pages` the track pages served without a fault."""

    max_url_length = 8192  # longer request lines get 414, as on real servers
    thread_name = "fake-server"

    def __init__(self, library, host, port):
        self.library = library
        self.host = host
        self.port = port
        self.faults = Faults()
        self.requests = Counter()
        self.track_pages = 0
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

    def _too_long(self, handler):
        return len(handler.raw_requestline.rstrip(b"\r\n")) > self.max_url_length

    def _page_fault(self):
        """The fault due on the next track page, if any."""
        for name in ("fail", "drop", "malformed", "hang"):
            after = getattr(self.faults, f"{name}_after_pages")
            if after is not None and self.track_pages >= after:
                return name
        return None

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
        try:
            self.server.fake._serve(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout, say)

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, *args):
        pass  # quiet: server.requests counts what was asked
