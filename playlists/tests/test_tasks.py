"""Saved playlists in the worker: a schedule firing end to end through the real django-q2
worker, and the task's guarantees."""

import re

import pytest
from django_q.models import OrmQ

from mediasage import processes
from playlists.models import RUNS_KEPT, PlaylistRun, PromptRun, SavedPlaylist
from playlists.tasks import generate_prompt, run_now, run_saved_playlist
from playlists.tests.conftest import LLM_KEY
from playlists.vocab import PromptPhase


@pytest.mark.worker
@pytest.mark.postgres
def test_a_schedule_fires_in_the_worker_and_writes_the_playlist(plex_factory, stack_factory):
    plex = plex_factory(300, seed=3, token="e2e-token")
    stack = stack_factory(plex)
    added = processes.run(
        processes.manage(
            "playlists",
            "add",
            "Morning",
            "--source",
            "smart",
            "--filters",
            "count=10",
            "--to",
            "plex",
            "--every",
            "1h",
        ),
        stack.env,
    )
    assert added.returncode == 0, added.stderr
    made = _scheduled_run(stack, plex, "Morning")
    assert len(made.items) == 10
    listed = processes.run(processes.manage("playlists", "list"), stack.env).stdout
    assert "Morning: smart playlist to Plex" in listed and listed.rstrip().endswith(": Done")
    assert plex.token not in listed


def _scheduled_run(stack, plex, title):
    """Make the saved playlists' schedules due now rather than in an hour or a week (the
    worker's scheduler picks them up on its next round); the playlist the run wrote."""
    due = "from django.utils import timezone; from django_q.models import Schedule; " + (
        "Schedule.objects.filter(name__startswith='saved playlist').update(next_run=timezone.now())"
    )
    assert processes.run(processes.manage("shell", "-c", due), stack.env).returncode == 0
    return stack.wait_for(
        lambda: next((p for p in list(plex.playlists.values()) if p.title == title), None),
        timeout=90,
        what=f"the scheduled run of {title}",
    )


@pytest.fixture
def llm_stack(plex_factory, stack_factory, fake_llm):
    """(the stack, its fake Plex): web and worker asking the fake model, the cache synced."""
    plex = plex_factory(300, seed=3, token="e2e-token")
    stack = stack_factory(plex, LLM_BASE_URL=fake_llm.base_url, LLM_API_KEY=LLM_KEY, LLM_MODEL="fake-small")
    assert stack.sync()["track_count"] == 300
    return stack, plex


@pytest.mark.worker
def test_a_prompt_playlist_runs_in_the_worker_and_no_secret_reaches_its_tables(llm_stack, fake_llm):
    stack, plex = llm_stack
    add = ["playlists", "add", "Weekly rock", "--source", "prompt:rock, nothing live", "--to", "plex"]
    added = processes.run(processes.manage(*add, "--filters", "tracks=8", "--every", "1w"), stack.env)
    assert added.returncode == 0, added.stderr
    made = _scheduled_run(stack, plex, "Weekly rock")
    assert 0 < len(made.items) <= 8 and made.summary
    assert fake_llm.chat_bodies  # the worker asked the model over HTTP
    tables = "from django_q.models import OrmQ, Schedule, Task; " + (
        "print([list(m.objects.values()) for m in (OrmQ, Schedule, Task)])"
    )
    dumped = processes.run(processes.manage("shell", "-c", tables), stack.env).stdout
    assert "Weekly rock" in dumped or "saved playlist" in dumped
    assert LLM_KEY not in dumped and plex.token not in dumped
    assert LLM_KEY not in (stack.logs / "worker.log").read_text()


@pytest.mark.worker
def test_a_generation_from_the_page_runs_in_the_worker_while_the_page_polls(llm_stack):
    stack, _ = llm_stack
    started = stack.post("/playlists/prompt/start", {"prompt": "rock, nothing live, 8 tracks"})
    assert started.status_code == 200 and 'hx-trigger="every 1s"' in started.text
    poll = re.search(r'hx-get="(/playlists/prompt/run/\d+)"', started.text)[1]
    done = stack.wait_for(lambda: (page := stack.get(poll)).status_code == 286 and page, what="its end")
    assert 'data-phase="done"' in done.text and "Save to Plex" in done.text
    assert done.text.count("More like this") == 8 and LLM_KEY not in done.text


def test_a_task_for_a_playlist_already_running_does_nothing(db, settings):
    settings.PLEX_URL, settings.PLEX_TOKEN = "http://plex.invalid:32400", "secret-plex-token"
    saved = SavedPlaylist.add("Morning", "smart", ["plex"])
    PlaylistRun.objects.create(saved=saved)
    assert run_saved_playlist(saved.pk) == "skipped: already running"
    assert saved.runs.count() == 1
    saved.delete()
    assert run_saved_playlist(saved.pk) == "deleted"


def test_run_now_queues_the_id_and_no_secret(db, settings):
    settings.PLEX_URL, settings.PLEX_TOKEN = "http://plex.invalid:32400", "secret-plex-token"
    saved = SavedPlaylist.add("Morning", "smart", ["plex"])
    run_now(saved.pk, dry_run=True)
    [queued] = OrmQ.objects.all()
    assert queued.task["args"] == (saved.pk,) and queued.task["kwargs"] == {"dry_run": True}
    assert "secret" not in str(queued.task)


def test_a_prompt_task_runs_once_and_only_the_newest_runs_are_kept(synced, fake_llm):
    old = [PromptRun(prompt=f"old {n}", phase=PromptPhase.DONE) for n in range(RUNS_KEPT)]
    PromptRun.objects.bulk_create(old)
    run = PromptRun.objects.create(prompt="jazz, 5 tracks")
    assert generate_prompt(run.pk) == "Done"
    assert generate_prompt(run.pk) == "skipped: not waiting"  # a second delivery does nothing
    assert PromptRun.objects.count() == RUNS_KEPT and PromptRun.objects.filter(pk=run.pk).exists()
