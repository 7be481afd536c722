from django.contrib import admin

from library.admin import _ReadOnlyAdmin
from playlists.models import PlaylistRun, PlaylistTarget, PromptRun, RememberedMatch, SavedPlaylist


class _TargetInline(admin.TabularInline):
    model = PlaylistTarget
    fields = readonly_fields = ["server", "playlist_id"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SavedPlaylist)
class SavedPlaylistAdmin(_ReadOnlyAdmin):
    """Read-only: saved playlists are made and changed on the Playlists page, which
    keeps their schedules in step."""

    list_display = ["name", "kind", "mode", "every", "allow_empty", "next_run_at", "updated_at"]
    list_filter = ["kind", "mode"]
    search_fields = ["name"]
    readonly_fields = [f.name for f in SavedPlaylist._meta.fields]
    inlines = [_TargetInline]


@admin.register(PlaylistRun)
class PlaylistRunAdmin(_ReadOnlyAdmin):
    list_display = [
        "started_at",
        "saved",
        "outcome",
        "dry_run",
        "added",
        "removed",
        "kept",
        "unmatched",
        "duration_ms",
        "error",
    ]
    list_filter = ["outcome", "dry_run"]
    search_fields = ["saved__name", "error"]
    readonly_fields = [f.name for f in PlaylistRun._meta.fields]


@admin.register(RememberedMatch)
class RememberedMatchAdmin(_ReadOnlyAdmin):
    list_display = ["entry_key", "server", "rating_key", "not_in_library", "chosen_at"]
    list_filter = ["server", "not_in_library"]
    search_fields = ["entry_key"]
    readonly_fields = [f.name for f in RememberedMatch._meta.fields]


@admin.register(PromptRun)
class PromptRunAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "prompt", "source", "model", "phase", "candidates", "prompt_tokens"]
    list_filter = ["phase", "source"]
    search_fields = ["prompt", "title", "error"]
    readonly_fields = [f.name for f in PromptRun._meta.fields]
