from django.contrib import admin
from django_q.models import Failure, OrmQ, Schedule, Success

from library.models import SyncRun, SyncState, Track

# django-q2's pages let an admin schedule any function (a shell command run by
# the worker): the queue is the app's business, never the admin's.
for _model in (Schedule, Success, Failure, OrmQ):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class _ReadOnlyAdmin(admin.ModelAdmin):
    """The cache mirrors the media server; edits here would be overwritten by the next sync."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _RatingFilter(admin.SimpleListFilter):
    title = "rating"
    parameter_name = "stars"

    def lookups(self, request, model_admin):
        return [("unrated", "Unrated")] + [(str(n), "★" * n) for n in range(1, 6)]

    def queryset(self, request, queryset):
        if self.value() == "unrated":
            return queryset.filter(user_rating__isnull=True)
        if self.value():
            stars = int(self.value())
            return queryset.filter(user_rating__gte=stars * 2 - 1, user_rating__lte=stars * 2)
        return queryset


@admin.register(Track)
class TrackAdmin(_ReadOnlyAdmin):
    list_display = ["title", "artist", "album", "year", "duration_display", "stars", "is_live", "source"]
    list_filter = ["source", "is_live", _RatingFilter, "year"]
    search_fields = ["title", "artist", "album", "album_artist", "=recording_mbid"]
    show_full_result_count = False
    list_per_page = 100
    readonly_fields = [f.name for f in Track._meta.fields]

    @admin.display(description="rating", ordering="user_rating")
    def stars(self, track):
        return track.stars

    @admin.display(description="length", ordering="duration_ms")
    def duration_display(self, track):
        return track.duration_display


@admin.register(SyncState)
class SyncStateAdmin(_ReadOnlyAdmin):
    list_display = ["source", "server_name", "track_count", "last_sync_at", "is_syncing", "phase", "error"]
    readonly_fields = [f.name for f in SyncState._meta.fields]


@admin.register(SyncRun)
class SyncRunAdmin(_ReadOnlyAdmin):
    """The sync history, read-only: SyncState.finish and .fail write it."""

    list_display = [
        "finished_at",
        "source",
        "mode",
        "why",
        "added",
        "updated",
        "removed",
        "track_count",
        "requests",
        "duration_ms",
        "phase",
        "error_kind",
    ]
    list_filter = ["source", "mode", "error_kind"]
    search_fields = ["error"]
    readonly_fields = [f.name for f in SyncRun._meta.fields]
