"""Saved playlists: a recipe kept in step with playlists on the media servers.

A SavedPlaylist says what to put in (its recipe) and how (mode); each PlaylistTarget
is one server's playlist it writes; each PlaylistRun records one run (playlists.runs);
RememberedMatch holds the user's choices for entries matching could not settle.
"""

import re
from datetime import timedelta

from django.db import models, transaction
from django.http import QueryDict
from django.utils import timezone
from django_q.models import Schedule

from library.models import SOURCES, Track
from library.sources import configured_sources
from playlists.generate import BadFilter, Filters
from playlists.vocab import Outcome, PromptPhase, Recipe, WriteMode

# Runs kept per saved playlist: enough history for the page, bounded for a playlist
# that runs every hour for years.
RUNS_KEPT = 100
_EVERY = re.compile(r"\s*(\d+)\s*([mhdw])\s*", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class RecipeError(ValueError):
    """A saved playlist that cannot be made as asked; the message says why."""


def parse_every(text):
    """timedelta from "30m", "6h", "1d", "2w"; None for "" (run only when asked)."""
    if not (text or "").strip():
        return None
    match = _EVERY.fullmatch(text)
    if not match or int(match[1]) == 0:
        raise RecipeError(f"Say how often as a number and m, h, d or w (6h, 1d, 1w), not {text!r}.")
    return timedelta(**{_UNITS[match[2].lower()]: int(match[1])})


def recipe_for(source, filters=""):
    """(kind, recipe JSON) for a source as the command and the pages name it: "smart"
    (with the builder's query string), "plex:TITLE" or "jellyfin:TITLE" (a mirror), or
    anything playlists.outside.read_source takes (a subscription), or "prompt:SENTENCE"
    (with "tracks=N" or "minutes=M" as `filters` to give the length apart from it)."""
    server, colon, title = source.partition(":")
    if server == "prompt" and colon:
        return Recipe.PROMPT, _prompt_recipe(title, filters)
    if source.strip() == "smart":
        filters = filters.lstrip("?")
        try:
            Filters.from_query(QueryDict(filters))
        except BadFilter as exc:
            raise RecipeError(str(exc)) from None
        return Recipe.SMART, {"filters": filters}
    if colon and server in dict(SOURCES):
        if not title.strip():
            raise RecipeError(f"Name the {server} playlist to mirror: {server}:TITLE.")
        return Recipe.MIRROR, {"server": server, "title": title.strip()}
    if not source.strip():
        raise RecipeError("Say where the tracks come from.")
    return Recipe.SUBSCRIPTION, {"source": source.strip()}


def _prompt_recipe(sentence, length):
    sentence = " ".join(sentence.split())
    if not sentence:
        raise RecipeError("Say what the prompt playlist is: prompt:SENTENCE.")
    recipe = {"prompt": sentence}
    for name, value in QueryDict(length.lstrip("?")).items():
        if name not in ("tracks", "minutes") or not value.isdigit() or int(value) < 1:
            raise RecipeError(f"A prompt playlist's length is tracks=N or minutes=M, not {name}={value}.")
        recipe[name] = int(value)
    return recipe


class SavedPlaylist(models.Model):
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=Recipe.choices)
    recipe = models.JSONField(default=dict)
    mode = models.CharField(max_length=16, choices=WriteMode.choices, default=WriteMode.REPLACE)
    every = models.DurationField(null=True, blank=True, help_text="empty: run only when asked")
    # An empty result may empty the targets only when the user asked for that.
    allow_empty = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    next_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        with transaction.atomic():
            super().save(*args, **kwargs)
            self._follow_schedule()

    def delete(self, *args, **kwargs):
        with transaction.atomic():
            Schedule.objects.filter(name=self.schedule_name).delete()
            return super().delete(*args, **kwargs)

    @classmethod
    def add(cls, name, source, servers, *, mode=WriteMode.REPLACE, every=None, filters="", allow_empty=False):
        """A new saved playlist writing to `servers`, its schedule made. Raises RecipeError."""
        name, kind, recipe, servers = cls._checked(name, source, servers, filters)
        with transaction.atomic():
            saved = cls.objects.create(
                name=name, kind=kind, recipe=recipe, mode=mode, every=every, allow_empty=allow_empty
            )
            PlaylistTarget.objects.bulk_create(PlaylistTarget(saved=saved, server=s) for s in servers)
        return saved

    def change(self, name, source, servers, *, mode, every, filters="", allow_empty=False):
        """Edit it as `add` makes one; targets dropped forget their playlist (which stays
        on the server), the schedule follows. Raises RecipeError."""
        name, kind, recipe, servers = self._checked(name, source, servers, filters, editing=self.pk)
        with transaction.atomic():
            self.name, self.kind, self.recipe, self.mode = name, kind, recipe, mode
            self.every, self.allow_empty = every, allow_empty
            self.save()
            self.targets.exclude(server__in=servers).delete()
            kept = set(self.targets.values_list("server", flat=True))
            PlaylistTarget.objects.bulk_create(
                PlaylistTarget(saved=self, server=s) for s in servers if s not in kept
            )
        return self

    @classmethod
    def _checked(cls, name, source, servers, filters, editing=None):
        """(name, kind, recipe, servers) as they are stored, or RecipeError saying what is wrong."""
        name = " ".join((name or "").split())
        if not name:
            raise RecipeError("Give the saved playlist a name.")
        if cls.objects.filter(name=name).exclude(pk=editing).exists():
            raise RecipeError(f"There is already a saved playlist called {name!r}.")
        kind, recipe = recipe_for(source, filters)
        servers = list(dict.fromkeys(servers))
        if not servers:
            raise RecipeError("Say which server to write to (plex or jellyfin).")
        if missing := [s for s in servers if s not in configured_sources()]:
            raise RecipeError(f"{', '.join(missing)} is not configured (see README: settings).")
        if kind == Recipe.MIRROR and recipe["server"] in servers:
            raise RecipeError("A mirror copies a playlist to the other server, not onto itself.")
        if kind == Recipe.PROMPT:
            recipe["server"] = servers[0]  # picked from the first target's cache
        if kind == Recipe.SMART and not QueryDict(recipe["filters"]).get("source"):
            # Picked from the first target's cache unless the filters name another.
            recipe["filters"] = "&".join(filter(None, [recipe["filters"], f"source={servers[0]}"]))
        return name, kind, recipe, servers

    @property
    def source_spec(self):
        """The recipe as `add` takes it back: "smart", "plex:TITLE", "prompt:SENTENCE", or the
        subscription's source."""
        if self.kind == Recipe.SMART:
            return "smart"
        if self.kind == Recipe.MIRROR:
            return f"{self.recipe.get('server', '')}:{self.recipe.get('title', '')}"
        if self.kind == Recipe.PROMPT:
            return f"prompt:{self.recipe.get('prompt', '')}"
        return self.recipe.get("source", "")

    @property
    def schedule_label(self):
        """ "every 6 hours", "every day", "only when asked"."""
        if not self.every:
            return "only when asked"
        minutes = round(self.every / timedelta(minutes=1))
        for unit, size in (("week", 7 * 1440), ("day", 1440), ("hour", 60), ("minute", 1)):
            if minutes % size == 0:
                count = minutes // size
                return f"every {unit}" if count == 1 else f"every {count} {unit}s"
        return f"every {minutes} minutes"

    @property
    def schedule_name(self):
        return f"saved playlist {self.pk}"

    def _follow_schedule(self):
        """Keep the worker's schedule in step with `every`: made, changed or removed."""
        schedule = Schedule.objects.filter(name=self.schedule_name).first()
        if not self.every:
            if schedule:
                schedule.delete()
            self._set_next_run(None)
            return
        minutes = max(1, round(self.every / timedelta(minutes=1)))
        if schedule and schedule.minutes == minutes:
            return
        next_run = timezone.now() + timedelta(minutes=minutes)
        Schedule.objects.update_or_create(
            name=self.schedule_name,
            defaults={
                "func": "playlists.tasks.run_saved_playlist",
                # The id only: the task reads everything else, secrets from the settings.
                "args": repr(self.pk),
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
                "next_run": next_run,
            },
        )
        self._set_next_run(next_run)

    def _set_next_run(self, when):
        if self.next_run_at != when:
            self.next_run_at = when
            SavedPlaylist.objects.filter(pk=self.pk).update(next_run_at=when)

    def note_next_run(self):
        """Copy the schedule's next run (the scheduler moves it on as it fires)."""
        when = Schedule.objects.filter(name=self.schedule_name).values_list("next_run", flat=True).first()
        self._set_next_run(when)

    @property
    def last_run(self):
        return self.runs.filter(dry_run=False).exclude(outcome=Outcome.RUNNING).first()


class PlaylistTarget(models.Model):
    saved = models.ForeignKey(SavedPlaylist, on_delete=models.CASCADE, related_name="targets")
    server = models.CharField(max_length=16, choices=SOURCES)
    # The playlist's id on that server, once the first run has created it.
    playlist_id = models.CharField(max_length=200, blank=True)
    # The keys the last run left there: in merge mode, anything else on the playlist
    # was added by hand and stays.
    written_keys = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["saved", "server"], name="one_target_per_server")]
        ordering = ["saved", "server"]

    def __str__(self):
        return f"{self.saved} on {self.get_server_display()}"


class PlaylistRun(models.Model):
    saved = models.ForeignKey(SavedPlaylist, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    dry_run = models.BooleanField(default=False)
    added = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    kept = models.PositiveIntegerField(default=0)
    unmatched = models.PositiveIntegerField(default=0)
    requests = models.JSONField(default=dict, blank=True)  # server -> requests this run sent it
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    # Per target server: the diff (to add, to remove) and the entries to review
    # (unmatched, ambiguous with their candidates' keys). See playlists.runs.
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        # One run at a time per saved playlist: a second claim fails in the database.
        constraints = [
            models.UniqueConstraint(
                fields=["saved"], condition=models.Q(finished_at__isnull=True), name="one_run_at_a_time"
            )
        ]

    def __str__(self):
        return f"{self.saved} at {self.started_at:%Y-%m-%d %H:%M}"


class RememberedMatch(models.Model):
    """The user's answer for one source entry on one server, used by every later run of
    every saved playlist: a track (rating_key), or "not in my library"."""

    entry_key = models.CharField(max_length=500)  # playlists.matching.entry_key
    server = models.CharField(max_length=16, choices=SOURCES)
    rating_key = models.CharField(max_length=64, blank=True)  # "": not in my library
    not_in_library = models.BooleanField(default=False)
    chosen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entry_key", "server"], name="one_choice_per_entry")]

    def __str__(self):
        return f"{self.entry_key} on {self.server}"

    @classmethod
    def remember(cls, entry_key, server, rating_key=""):
        """Store the user's choice: a track's key, or "" for "not in my library"."""
        match, _ = cls.objects.update_or_create(
            entry_key=entry_key,
            server=server,
            defaults={"rating_key": rating_key, "not_in_library": not rating_key},
        )
        return match


class PromptRun(models.Model):
    """One playlist made from a sentence (or from a track: "More like this"), generated
    in the worker (playlists.tasks.generate_prompt) while the page polls it."""

    prompt = models.TextField()
    source = models.CharField(max_length=16, choices=SOURCES, default="plex")
    # "More like this": the cached track it started from.
    seed_track = models.ForeignKey("library.Track", null=True, blank=True, on_delete=models.SET_NULL)
    tracks_asked = models.PositiveIntegerField(null=True, blank=True)
    minutes_asked = models.PositiveIntegerField(null=True, blank=True)
    model = models.CharField(max_length=200, blank=True)  # "": LLM_MODEL
    phase = models.CharField(max_length=16, choices=PromptPhase.choices, default=PromptPhase.QUEUED)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # What the sentence was read as: the rules in words and the builder's query string.
    rules = models.JSONField(default=list, blank=True)
    filters = models.TextField(blank=True)
    matching = models.PositiveIntegerField(default=0)  # tracks the rules leave
    candidates = models.PositiveIntegerField(default=0)  # of them, sent to the model
    tokens_sent = models.PositiveIntegerField(default=0)  # estimated before asking
    prompt_tokens = models.PositiveIntegerField(default=0)  # as the endpoint counted them
    completion_tokens = models.PositiveIntegerField(default=0)
    model_seconds = models.FloatField(default=0)
    app_seconds = models.FloatField(default=0)
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    # [{"track": cached Track id, "reason": the model's line, "filled": not the model's pick}]
    picks = models.JSONField(default=list, blank=True)
    invented = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    broke_rules = models.PositiveIntegerField(default=0)
    over_cap = models.PositiveIntegerField(default=0)
    filled = models.PositiveIntegerField(default=0)
    cut = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.prompt[:60]} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def finished(self):
        return self.phase in (PromptPhase.DONE, PromptPhase.FAILED)

    def set_phase(self, phase):
        """Move on to `phase`, seen by the page's next poll (a one-row write, committed at once)."""
        self.phase = phase
        PromptRun.objects.filter(pk=self.pk).update(phase=phase)

    def record(self, result):
        """Keep a playlists.prompting.Result."""
        checked = result.checked
        self.rules = list(result.rules.found)
        self.filters = result.rules.filters.to_query()
        self.matching, self.candidates = result.pool.matching, len(result.pool.tracks)
        self.tokens_sent = result.tokens_sent
        self.prompt_tokens, self.completion_tokens = result.prompt_tokens, result.completion_tokens
        self.model_seconds, self.app_seconds = result.model_seconds, result.app_seconds
        self.model = result.model
        self.title, self.description = result.title, result.description
        self.picks = [{"track": p.track.pk, "reason": p.reason, "filled": p.filled} for p in checked.picks]
        for name in ("invented", "duplicates", "broke_rules", "over_cap", "filled", "cut"):
            setattr(self, name, getattr(checked, name))
        self.phase = PromptPhase.DONE

    @classmethod
    def prune(cls):
        """Keep the newest RUNS_KEPT runs: a page opened a year later need not find its run."""
        old = cls.objects.values_list("pk", flat=True)[RUNS_KEPT:]
        cls.objects.filter(pk__in=list(old)).delete()

    def fail(self, message):
        self.phase = PromptPhase.FAILED
        self.error = " ".join(message.split())[:500]

    def tracks(self):
        """(Track, reason, filled) in order; tracks a sync removed since are left out."""
        rows = Track.objects.in_bulk([p["track"] for p in self.picks])
        return [(rows[p["track"]], p["reason"], p["filled"]) for p in self.picks if p["track"] in rows]
