"""The model side of prompt playlists (playlists/llm.py), against the fake model.

    .venv/bin/python bench/llm_client.py [--asks 20]

1. Tokens: what candidate lines cost (estimate_tokens, the rule the fake's usage also
   follows) for pools of 100, 300 and 1,000 tracks of the generated library.
2. ask_json, 300 candidates and 50 tracks asked, --asks times through the real openai
   client over HTTP: wall time, the part spent waiting on the endpoint, and the rest
   (MediaSage's own: building the request, parsing and checking the answer).
3. Parsing a 500-track answer whole, and cut off at 90% (repaired, complete tracks kept).
"""

import argparse
import json
import logging
import os
import sys

from _common import ROOT, header, run, summary, table, time_calls

POOLS = (100, 300, 1000)


def _setup():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediasage.settings")
    import django

    django.setup()
    logging.getLogger("playlists.llm").setLevel(logging.WARNING)  # a line per ask otherwise


def _candidates(count):
    from library.fakes.plex import FakeLibrary

    lib = FakeLibrary(tracks=count, seed=1)
    return [
        {
            "id": t.rating_key,
            "artist": t.track_artist or lib.artists[t.artist_key].title,
            "title": t.title,
            "genres": list(lib.albums[t.album_key].genres)[:3],
            "year": lib.albums[t.album_key].year,
        }
        for t in list(lib.tracks.values())[:count]
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--asks", type=int, default=20)
    args = parser.parse_args()
    header("Prompt playlists, the model side: tokens, ask_json's own time, parsing")
    _setup()
    from django.conf import settings

    from playlists import llm
    from playlists.fakes.llm import FakeLLMServer

    rows = []
    for pool in POOLS:
        tokens = llm.estimate_tokens(llm.candidates_block(_candidates(pool)))
        rows.append((pool, f"{tokens:,}", f"{tokens / pool:.1f}"))
    print(table(["candidates", "tokens (estimated)", "per candidate"], rows), end="\n\n")

    user = "Request: rainy sunday jazz, 50 tracks\n" + llm.candidates_block(_candidates(300))
    answers = []
    with FakeLLMServer() as server:
        settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_API_KEY = server.base_url, "fake-small", ""

        def ask():
            answers.append(llm.ask_json("Pick tracks.", user, expect=llm.playlist_answer))

        walls = time_calls(ask, args.asks, warmup=1)
    waits = [a.seconds * 1000 for a in answers[1:]]
    own = [w - x for w, x in zip(walls, waits, strict=True)]
    rows = [
        (name, *(f"{v:.1f}" for v in list(summary(values).values())[1:]))
        for name, values in [("wall", walls), ("waiting on the endpoint", waits), ("MediaSage's own", own)]
    ]
    last = answers[-1]
    print(
        f"ask_json, 300 candidates, 50 tracks: {last.prompt_tokens:,} prompt + "
        f"{last.completion_tokens:,} completion tokens"
    )
    print(table(["ms per ask", "median", "p95", "max"], rows), end="\n\n")

    whole = json.dumps(
        {
            "title": "t",
            "description": "d",
            "tracks": [
                {"id": str(c["id"]), "reason": "Matches jazz, rainy and the nineties."}
                for c in _candidates(500)
            ],
        },
        indent=2,
    )
    cut = whole[: len(whole) * 9 // 10]
    rows = []
    for name, text in (("whole", whole), ("cut at 90%, repaired", cut)):
        kept = len(llm.parse_json(text)["tracks"])
        rows.append(
            (name, f"{summary(time_calls(lambda t=text: llm.parse_json(t), 20))['median']:.1f}", kept)
        )
    print(table(["500-track answer", "ms to parse (median)", "tracks kept"], rows))


if __name__ == "__main__":
    run(main)
