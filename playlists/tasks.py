"""django-q2 entry points for saved playlists. They take the saved playlist's id, never
a secret: the worker reads the servers' settings itself."""

from django_q.tasks import async_task

from playlists import prompting, runs
from playlists.models import SavedPlaylist


def run_saved_playlist(saved_id, dry_run=False):
    """Run it once (scheduled, or "Run now"). A run of it already under way makes this
    a no-op; a saved playlist deleted meanwhile too. Returns a line for the task list."""
    if not SavedPlaylist.objects.filter(pk=saved_id).exists():
        return "deleted"
    record = runs.run(saved_id, dry_run=dry_run)
    if record is None:
        return "skipped: already running"
    return record.get_outcome_display() + (f": {record.error}" if record.error else "")


def run_now(saved_id, dry_run=False):
    """Hand a run to the worker; returns the task id."""
    return async_task(
        "playlists.tasks.run_saved_playlist",
        saved_id,
        dry_run=dry_run,
        task_name=f"saved playlist {saved_id}{' (dry run)' if dry_run else ''}",
    )


def generate_prompt(run_id):
    """Generate a prompt playlist (playlists.prompting.run). A run already taken is a
    no-op. Returns a line for the task list."""
    record = prompting.run(run_id)
    if record is None:
        return "skipped: not waiting"
    return record.get_phase_display() + (f": {record.error}" if record.error else "")


def start_prompt(run_id):
    """Hand a prompt run to the worker (its id only: the sentence and the key stay out
    of the task table); returns the task id."""
    return async_task("playlists.tasks.generate_prompt", run_id, task_name=f"prompt playlist {run_id}")
