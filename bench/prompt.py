"""Prompt playlists end to end against the fake model: tokens sent per generation and
MediaSage's own time per generation, at 18,432 and 100,000 cached tracks.

    .venv/bin/python bench/prompt.py [--tracks 18432 100000] [-n 5]

For each size, fills a fresh cache with a real sync from the fake Plex (its own
process), then, in a child process on that cache, with the fake model
(playlists/fakes/llm.py) served in the child over real HTTP through the openai client,
runs playlists.prompting.generate() n times for each of several sentences and reports:
  - tokens sent: the estimate shown before generating, and the prompt tokens the
    endpoint counted; the candidates sent of the tracks the rules leave;
  - MediaSage's own time per generation (reading the rules, sampling the pool, building
    the request, parsing and checking the answer): wall time minus the time spent
    waiting on the endpoint; median and max over the n runs;
  - the page's preview (rules + pool + token estimate), which runs as the user types.
Targets: tokens sent stay within the budget (LLM_CANDIDATE_TOKENS + 1,000 for the
instructions) at any size; own time p95 <= 1 s and preview <= 1 s at 100k.
"""

import argparse
import json
import os
import sys
import time

from _common import PYTHON, ROOT, Cleanup, env_for, header, percentile, run, run_measured, table
from reads import fill_cache

OWN_LIMIT_S = 1.0
SENTENCES = (
    "rainy Sunday jazz, nothing live, about an hour",
    "90s hip hop, 50 tracks",
    "only {artist}, a 100-track playlist",
    "anything from 1985 to 1995, no artist twice in a row, 30 tracks",
    "100 tracks for a long drive",
)


def child(n):
    """In a process of its own on the filled cache: measure, print one JSON line."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import logging

    from django.conf import settings

    from playlists import prompting
    from playlists.fakes.llm import FakeLLMServer
    from playlists.generate import artist_names

    logging.getLogger("playlists.llm").setLevel(logging.WARNING)  # a line per ask otherwise
    artist = next(a for a in artist_names(limit=5) if a != "Various Artists")
    rows = []
    with FakeLLMServer() as server:
        settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_API_KEY = server.base_url, "fake-small", ""
        for sentence in SENTENCES:
            sentence = sentence.format(artist=artist)
            own, preview = [], []
            for _ in range(n):
                started = time.perf_counter()
                rules = prompting.read_rules(sentence, "plex")
                pool = prompting.candidate_pool(rules)
                prompting.tokens_to_send(rules, pool)
                preview.append(time.perf_counter() - started)
                started = time.perf_counter()
                result = prompting.generate(prompting.read_rules(sentence, "plex"))
                own.append(time.perf_counter() - started - result.model_seconds)
            rows.append(
                {
                    "sentence": sentence,
                    "matching": result.pool.matching,
                    "candidates": len(result.pool.tracks),
                    "estimate": result.tokens_sent,
                    "prompt_tokens": result.prompt_tokens,
                    "completion_tokens": result.completion_tokens,
                    "picked": len(result.checked.picks),
                    "own": own,
                    "preview": preview,
                }
            )
    print(json.dumps({"rows": rows, "budget": settings.LLM_CANDIDATE_TOKENS}))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, nargs="+", default=[18432, 100000])
    parser.add_argument("-n", type=int, default=5, help="generations of each sentence")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.n)

    header(f"bench/prompt.py: prompt playlists at {', '.join(f'{t:,}' for t in args.tracks)} tracks")
    problems, out = [], []
    with Cleanup() as cleanup:
        for tracks in args.tracks:
            data, url = fill_cache(cleanup, tracks)
            env = env_for(data, url, LOG_LEVEL="WARNING")
            m = run_measured(cleanup, [PYTHON, __file__, "--child", "-n", str(args.n)], env, timeout=1800)
            result = m.json()
            limit = result["budget"] + 1000
            for row in result["rows"]:
                own_p95 = percentile(row["own"], 95)
                preview_p95 = percentile(row["preview"], 95)
                out.append(
                    [
                        f"{tracks:,}",
                        row["sentence"],
                        f"{row['matching']:,}",
                        row["candidates"],
                        f"{row['estimate']:,}",
                        f"{row['prompt_tokens']:,}",
                        row["picked"],
                        f"{percentile(row['own'], 50) * 1000:.0f} / {max(row['own']) * 1000:.0f}",
                        f"{percentile(row['preview'], 50) * 1000:.0f}",
                    ]
                )
                where = f"{tracks:,} '{row['sentence']}'"
                if row["prompt_tokens"] > limit:
                    problems.append(f"{where}: {row['prompt_tokens']:,} tokens > {limit:,}")
                if tracks >= 100_000 and (own_p95 > OWN_LIMIT_S or preview_p95 > OWN_LIMIT_S):
                    problems.append(f"{where}: own {own_p95:.2f} s, preview {preview_p95:.2f} s")
    print()
    print(
        table(
            [
                "tracks",
                "sentence",
                "rules leave",
                "candidates",
                "tokens est.",
                "prompt tokens",
                "picked",
                "own ms (median / max)",
                "preview ms",
            ],
            out,
        )
    )
    if problems:
        print("\nmissed: " + "; ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    run(main)
