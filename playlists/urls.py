from django.urls import path

from playlists import saved_views, views

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
]
