"""Imports at the sizes users bring, at 100k cached tracks, over HTTP against gunicorn.

    .venv/bin/python bench/import_limits.py [--tracks 100000] [--entries 10000]

Fills a fresh cache with a real sync from the fake Plex, starts gunicorn as docker-compose
runs it (2 workers x 4 threads), then POSTs to /playlists/import, one at a time:
  - a two-line CSV (what every import costs, whatever its size);
  - an M3U of --entries entries (nine in ten of them cached tracks): the report's time and size;
  - a 400,000-entry M3U (about 30 MB): refused by its Content-Length, unread;
  - a 400,000-line M3U small enough to upload (2.4 MB): refused for its entry count.
Targets: the long report is under 5 MB; both refusals answer within a second.
"""

import argparse
import os
import sys
import time

import requests
from _common import PYTHON, ROOT, Cleanup, env_for, free_port, header, run, table, wait_until
from reads import fill_cache

REPORT_LIMIT_MB = 5
REFUSAL_LIMIT_S = 1.0


def playlist_of(data, url, entries):
    """An M3U of `entries` cached tracks, every tenth one not in the library."""
    os.environ.update(env_for(data, url))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from library.models import Track

    tracks = Track.objects.order_by("?").values_list("artist", "title")[:entries]
    lines = ["#EXTM3U"]
    for i, (artist, title) in enumerate(tracks):
        if i % 10 == 9:
            artist, title = f"Nobody {i}", f"Nothing {i}"
        lines += [f"#EXTINF:200,{artist} - {title}", f"/music/{i}.flac"]
    return "\n".join(lines).encode()


def post(session, base, name, body):
    started = time.perf_counter()
    try:
        response = session.post(base + "/playlists/import", files={"file": (name, body)}, timeout=300)
    except requests.ConnectionError as exc:  # the server may close before the body is sent
        return None, time.perf_counter() - started, f"connection closed ({type(exc).__name__})"
    elapsed = time.perf_counter() - started
    return response, elapsed, ""


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, default=100000)
    parser.add_argument("--entries", type=int, default=10000)
    args = parser.parse_args()

    header(f"bench/import_limits.py: imports at {args.tracks:,} cached tracks")
    problems, rows = [], []
    with Cleanup() as cleanup:
        data, url = fill_cache(cleanup, args.tracks)
        long_m3u = playlist_of(data, url, args.entries)
        port = free_port()
        logs = cleanup.tempdir("imports-gunicorn")
        web = cleanup.spawn(
            [PYTHON, "-m", "gunicorn", "mediasage.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--threads", "4"],
            env_for(data, url),
            log=logs / "web.log",
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        wait_until(lambda: session.get(base + "/api/library/status", timeout=5).ok, 60, "gunicorn")
        session.headers["X-CSRFToken"] = session.cookies.get("csrftoken", "")
        if not session.headers["X-CSRFToken"]:
            session.get(base + "/playlists/import", timeout=30)
            session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
        session.headers["Referer"] = base + "/playlists/import"
        huge = "".join(f"#EXTINF:200,Artist {i} - Song {i}\n/m/{i}.mp3\n" for i in range(400_000)).encode()
        cases = [
            ("two-line CSV", "two.csv", b"artist,title\nNobody,Nothing\nGhost,Phantom\n", None),
            (f"{args.entries:,}-entry M3U", "long.m3u8", long_m3u, REPORT_LIMIT_MB),
            ("400,000-entry M3U", "huge.m3u", huge, None),
            ("400,000-line M3U under the upload limit", "lines.m3u", b"a - b\n" * 400_000, None),
        ]
        for what, name, body, _ in cases:
            # The first call warms the worker's imports; the figure is the second.
            post(session, base, name, body)
            response, elapsed, note = post(session, base, name, body)
            status = response.status_code if response is not None else "-"
            size = len(response.content) if response is not None else 0
            if response is not None and response.status_code >= 400:
                text = response.content.decode(errors="replace")
                start = text.find('role="alert"')
                note = text[text.find(">", start) + 1 : text.find("</p>", start)] if start > 0 else ""
            rows.append([what, f"{len(body) / 1e6:.1f}", str(status), f"{elapsed:.2f}", f"{size / 1e3:,.0f}",
                         note[:90] or "-"])  # fmt: skip
            print(f"  {what}: HTTP {status} in {elapsed:.2f} s, {size / 1e6:.2f} MB", flush=True)
            if what.startswith("400,000") and elapsed > REFUSAL_LIMIT_S:
                problems.append(f"{what}: refused in {elapsed:.1f} s (target <= {REFUSAL_LIMIT_S} s)")
            if name == "long.m3u8" and size > REPORT_LIMIT_MB * 1e6:
                problems.append(f"{what}: a {size / 1e6:.1f} MB page (target < {REPORT_LIMIT_MB} MB)")
        cleanup.stop(web)

    print()
    print(table(["upload", "MB sent", "HTTP", "seconds", "page KB", "message"], rows))
    print("\n" + ("TARGETS MISSED:\n  " + "\n  ".join(problems) if problems else "all targets met"))
    return 1 if problems else 0


if __name__ == "__main__":
    run(main)
