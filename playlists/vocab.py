"""The words of saved playlists, defined once: the models' choices, the command's
output and the pages all use these values and labels."""

from django.db import models


class Recipe(models.TextChoices):
    """Where a saved playlist's tracks come from; the recipe JSON's shape follows it:
    smart {"filters": the builder's query string}, subscription {"source": a spec
    for playlists.outside.read_source}, mirror {"server": "plex", "title": the playlist's
    title there}, prompt {"prompt": the sentence, "server": the cache it picks from, and
    "tracks" or "minutes" when the length was given apart from the sentence}."""

    SMART = "smart", "Smart playlist"
    SUBSCRIPTION = "subscription", "Subscription"
    MIRROR = "mirror", "Mirror"
    PROMPT = "prompt", "Prompt playlist"


class WriteMode(models.TextChoices):
    REPLACE = "replace", "Replace: the playlist becomes the result"
    APPEND = "append", "Append: only ever add"
    MERGE = "merge", "Merge: replace, but keep tracks added by hand"


class Outcome(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    # The recipe gave no tracks and the saved playlist does not allow emptying its targets.
    EMPTY = "empty", "Nothing found: playlist left as it was"
    FAILED = "failed", "Failed"


class PromptPhase(models.TextChoices):
    """Where a prompt playlist's generation is, and how it ended."""

    QUEUED = "queued", "Waiting for the worker"
    POOL = "pool", "Choosing candidates from the library"
    ASKING = "asking", "Asking the model"
    CHECKING = "checking", "Checking the answer"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
