from django.urls import path

from playlists import views

urlpatterns = [
    path("", views.builder, name="builder"),
    path("playlists/preview", views.preview_fragment, name="preview"),
    path("playlists/generate", views.generate, name="generate"),
    path("playlists/artists", views.artist_options, name="artist-options"),
    path("playlists/targets", views.targets, name="targets"),
    path("playlists/save", views.save, name="save"),
    path("playlists/import", views.import_playlist, name="import"),
]
