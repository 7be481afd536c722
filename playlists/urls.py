from django.urls import path

from playlists import prompt_views, saved_views, views

urlpatterns = [
    path("", views.builder, name="builder"),
    path("playlists/preview", views.preview_fragment, name="preview"),
    path("playlists/generate", views.generate, name="generate"),
    path("playlists/artists", views.artist_options, name="artist-options"),
    path("playlists/targets", views.targets, name="targets"),
    path("playlists/save", views.save, name="save"),
    path("playlists/import", views.import_playlist, name="import"),
    path("playlists/saved", saved_views.saved_list, name="saved-list"),
    path("playlists/saved/new", saved_views.saved_edit, name="saved-new"),
    path("playlists/saved/count", saved_views.saved_count, name="saved-count"),
    path("playlists/saved/search", saved_views.saved_search, name="saved-search"),
    path("playlists/saved/<int:pk>", saved_views.saved_detail, name="saved-detail"),
    path("playlists/saved/<int:pk>/edit", saved_views.saved_edit, name="saved-edit"),
    path("playlists/saved/<int:pk>/row", saved_views.saved_row, name="saved-row"),
    path("playlists/saved/<int:pk>/run", saved_views.saved_run, name="saved-run"),
    path("playlists/saved/<int:pk>/delete", saved_views.saved_delete, name="saved-delete"),
    path("playlists/saved/<int:pk>/review", saved_views.saved_review, name="saved-review"),
    path("playlists/prompt", prompt_views.prompt_page, name="prompt"),
    path("playlists/prompt/preview", prompt_views.prompt_preview, name="prompt-preview"),
    path("playlists/prompt/models", prompt_views.prompt_models, name="prompt-models"),
    path("playlists/prompt/start", prompt_views.prompt_start, name="prompt-start"),
    path("playlists/prompt/run/<int:run_id>", prompt_views.prompt_run, name="prompt-run"),
    path("playlists/prompt/run/<int:run_id>/save", prompt_views.prompt_save, name="prompt-save"),
    path("playlists/prompt/run/<int:run_id>/keep", prompt_views.prompt_keep, name="prompt-keep"),
]
