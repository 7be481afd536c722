from django.urls import path

from playlists import prompt_views, views

urlpatterns = [
    path("", views.builder, name="builder"),
    path("playlists/preview", views.preview_fragment, name="preview"),
    path("playlists/generate", views.generate, name="generate"),
    path("playlists/artists", views.artist_options, name="artist-options"),
    path("playlists/targets", views.targets, name="targets"),
    path("playlists/save", views.save, name="save"),
    path("playlists/import", views.import_playlist, name="import"),
    path("playlists/prompt", prompt_views.prompt_page, name="prompt"),
    path("playlists/prompt/preview", prompt_views.prompt_preview, name="prompt-preview"),
    path("playlists/prompt/models", prompt_views.prompt_models, name="prompt-models"),
    path("playlists/prompt/start", prompt_views.prompt_start, name="prompt-start"),
    path("playlists/prompt/run/<int:run_id>", prompt_views.prompt_run, name="prompt-run"),
    path("playlists/prompt/run/<int:run_id>/save", prompt_views.prompt_save, name="prompt-save"),
    path("playlists/prompt/run/<int:run_id>/keep", prompt_views.prompt_keep, name="prompt-keep"),
]
