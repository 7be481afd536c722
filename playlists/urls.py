from django.urls import path

from playlists import views

urlpatterns = [
    path("", views.builder, name="builder"),
    path("playlists/preview", views.preview_fragment, name="preview"),
    path("playlists/artists", views.artist_options, name="artist-options"),
]
