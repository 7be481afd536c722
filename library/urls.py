from django.urls import path

from library import views

urlpatterns = [
    path("api/library/status", views.status, name="library-status"),
    path("api/library/sync", views.sync, name="library-sync"),
    path("library/footer", views.footer, name="library-footer"),
    path("library/modal", views.modal, name="library-modal"),
    path("library/history", views.history, name="library-history"),
]
