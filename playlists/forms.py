"""The saved playlist form, one for every kind: the fields its kind needs, validated by
the model's own checks (SavedPlaylist.add / change), whose messages it shows."""

from datetime import timedelta

from django import forms
from django.conf import settings

from library.sources import SourceError, configured_sources, get_source, label, server_choices
from playlists import outside
from playlists.models import RecipeError, SavedPlaylist, parse_every
from playlists.vocab import Recipe, WriteMode

_UNITS = [("", "only when I ask"), ("h", "hours"), ("d", "days"), ("w", "weeks"), ("m", "minutes")]
_MINUTES = [("w", 7 * 1440), ("d", 1440), ("h", 60), ("m", 1)]
# One line each, beside the mode's radio button.
MODE_HELP = {
    WriteMode.REPLACE: "The playlist on the server becomes exactly the result; tracks you added there go.",
    WriteMode.APPEND: "New tracks are added at the end; nothing is ever removed.",
    WriteMode.MERGE: "Like replace, but tracks you added on the server by hand stay.",
}


class SavedPlaylistForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=Recipe.choices, widget=forms.HiddenInput)
    filters = forms.CharField(
        required=False,
        label="Filters",
        help_text="The builder's filters, as its address has them (genre=Rock&decade=1990&count=50).",
    )
    source = forms.CharField(
        required=False,
        max_length=2000,
        label="Source",
        help_text="A playlist URL (JSPF, XSPF, M3U, CSV), a ListenBrainz or Deezer playlist URL, "
        "or listenbrainz:USER/weekly-exploration (or weekly-jams, daily-jams).",
    )
    upload = forms.FileField(required=False, label="…or a playlist file")
    prompt = forms.CharField(
        required=False,
        max_length=1000,
        label="What the playlist should be",
        help_text="A sentence, as on the prompt page: “rainy Sunday jazz, nothing live, about an hour”.",
    )
    mirror = forms.ChoiceField(required=False, label="Playlist to mirror")
    targets = forms.MultipleChoiceField(label="Write to", widget=forms.CheckboxSelectMultiple)
    mode = forms.ChoiceField(choices=WriteMode.choices, initial=WriteMode.REPLACE, widget=forms.RadioSelect)
    every_count = forms.IntegerField(required=False, min_value=1, max_value=999, label="Every")
    every_unit = forms.ChoiceField(required=False, choices=_UNITS, label="Unit")
    allow_empty = forms.BooleanField(
        required=False,
        label="An empty result may empty the target",
        help_text="Off: a source that gives nothing (often a broken one) leaves the playlist as it was.",
    )

    def __init__(self, *args, mirrors=(), instance=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.fields["targets"].choices = server_choices()
        self.fields["mirror"].choices = [("", "Choose a playlist"), *mirrors]

    @classmethod
    def initial_for(cls, saved):
        """The form's values for editing `saved`."""
        minutes = round(saved.every / timedelta(minutes=1)) if saved.every else 0
        unit, size = next((u, n) for u, n in _MINUTES if minutes % n == 0) if minutes else ("", 1)
        return {
            "name": saved.name,
            "kind": saved.kind,
            # A prompt playlist's length given apart from its sentence rides in `filters`.
            "filters": saved.recipe.get("filters", "") or _prompt_length(saved.recipe),
            "source": saved.recipe.get("source", ""),
            "prompt": saved.recipe.get("prompt", ""),
            "mirror": saved.source_spec if saved.kind == Recipe.MIRROR else "",
            "targets": list(saved.targets.values_list("server", flat=True)),
            "mode": saved.mode,
            "every_count": minutes // size or None,
            "every_unit": unit,
            "allow_empty": saved.allow_empty,
        }

    def clean_filters(self):
        return self.cleaned_data["filters"].strip().lstrip("?")

    def clean(self):
        data = super().clean()
        count, unit = data.get("every_count"), data.get("every_unit")
        if unit and not count:
            self.add_error("every_count", "Say how many hours, days or weeks between runs.")
        try:
            data["every"] = parse_every(f"{count}{unit}" if unit and count else "")
        except RecipeError as exc:
            self.add_error("every_count", str(exc))
        kind = data.get("kind")
        if kind == Recipe.SUBSCRIPTION:
            data["spec"] = self._subscription(data)
        elif kind == Recipe.MIRROR:
            data["spec"] = data.get("mirror") or ""
            if not data["spec"]:
                self.add_error("mirror", "Choose the playlist to mirror.")
        elif kind == Recipe.PROMPT:
            data["spec"] = f"prompt:{data.get('prompt') or ''}"
            if not (data.get("prompt") or "").strip():
                self.add_error("prompt", "Say what the playlist should be.")
        else:
            data["spec"] = "smart"
        return data

    def _subscription(self, data):
        upload = data.get("upload")
        if upload:
            if upload.size > settings.OUTSIDE_MAX_MB * 2**20:
                self.add_error(
                    "upload", f"That file is over {settings.OUTSIDE_MAX_MB} MB: too large to be a playlist."
                )
                return ""
            return outside.store_upload(upload.read(), upload.name)
        spec = (data.get("source") or "").strip()
        if not spec:
            self.add_error(
                "source", "Give a playlist URL or a listenbrainz:USER/KIND source, or choose a file."
            )
        elif not _reachable_from_the_web(spec):
            # The command line may name any file; a page may only name the uploads it stored.
            self.add_error("source", "That is not a URL or a ListenBrainz source: upload the file instead.")
        return spec

    def save(self):
        """The saved playlist made or changed, or None with the model's reason on the form."""
        data = self.cleaned_data
        args = (data["name"], data["spec"], data["targets"])
        options = {
            "mode": data["mode"],
            "every": data["every"],
            "filters": data["filters"],
            "allow_empty": data["allow_empty"],
        }
        try:
            if self.instance:
                return self.instance.change(*args, **options)
            return SavedPlaylist.add(*args, **options)
        except RecipeError as exc:
            self.add_error(
                "filters" if data["kind"] == Recipe.SMART and "filter" in str(exc) else None, str(exc)
            )
            return None


def _reachable_from_the_web(spec):
    return spec.lower().startswith(("http://", "https://", "listenbrainz:")) or outside.is_upload(spec)


def mirror_choices(only=""):
    """("plex:TITLE", "Plex: TITLE") for every playlist on the configured servers (or on
    `only`), when there are two (a mirror copies one server's playlist to the other); and
    the one-line reasons of servers that could not list theirs. Asks each server once."""
    servers = configured_sources()
    if len(servers) < 2:
        return [], []
    servers = [s for s in servers if s == only] or servers
    choices, problems = [], []
    for server in servers:
        try:
            playlists = get_source(server).list_playlists()
        except SourceError as exc:
            problems.append(f"Could not list {label(server)}'s playlists: {exc.message}")
            continue
        choices += [(f"{server}:{p.title}", f"{label(server)}: {p.title}") for p in playlists]
    return choices, problems


def _prompt_length(recipe):
    """ "tracks=30" or "minutes=60" of a prompt recipe, or ""."""
    return "&".join(f"{name}={recipe[name]}" for name in ("tracks", "minutes") if name in recipe)
