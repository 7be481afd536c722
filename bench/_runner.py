"""The measured child process of the benchmarks: one sync, or the no-database floor.

    python bench/_runner.py sync [--full]   library.sync.sync(), as `manage.py sync` does
    python bench/_runner.py floor           the adapter's requests and parsing, no database

Settings come from the environment (MEDIASAGE_DATA_DIR, PLEX_URL, PLEX_TOKEN, SYNC_PAGE_SIZE).
Prints one JSON line with the result; its peak RSS is measured by the parent (wait4).
"""

import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediasage.settings")


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sync(full):
    from library.sync import sync

    rss_before = _rss_mb()
    start = time.monotonic()
    result = sync("plex", full=full)  # None only if another run took the claim over: none runs here
    wall = time.monotonic() - start
    return {
        "wall_s": wall,
        "track_count": result.track_count,
        "added": result.added,
        "updated": result.updated,
        "removed": result.removed,
        "duration_ms": result.duration_ms,
        "requests": result.requests,
        "mode": result.mode,
        "why": result.why,
        "rss_before_mb": rss_before,
    }


def floor():
    """What a sync cannot avoid: the same requests, the same XML parsing into track dicts."""
    from django.conf import settings

    from library.sources.plex import PlexSource

    page_size = settings.SYNC_PAGE_SIZE
    rss_before = _rss_mb()
    start = time.monotonic()
    adapter = PlexSource(settings.PLEX_URL, settings.PLEX_TOKEN, timeout=settings.PLEX_TIMEOUT)
    adapter.connect()
    adapter.count_tracks()
    adapter.prepare(page_size)
    tracks = 0
    for page in adapter.track_pages(page_size):
        tracks += len(page)
    adapter.count_tracks()  # a sync counts again at the end, to see whether pages shifted
    return {
        "wall_s": time.monotonic() - start,
        "track_count": tracks,
        "requests": adapter.request_count,
        "page_size": page_size,
        "rss_before_mb": rss_before,
    }


def main():
    import django

    django.setup()
    mode = sys.argv[1]
    if mode == "sync":
        out = sync(full="--full" in sys.argv[2:])
    elif mode == "floor":
        out = floor()
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    out["peak_rss_mb"] = _rss_mb()
    print(json.dumps(out), flush=True)
    return 3 if "error" in out else 0


if __name__ == "__main__":
    sys.exit(main())
