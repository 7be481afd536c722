from django.contrib import admin
from django.urls import include, path

from mediasage import views

urlpatterns = [
    path("health", views.health, name="health"),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("library.urls")),
    path("", include("playlists.urls")),
]

handler500 = "mediasage.errors.handler500"
