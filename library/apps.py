from django.apps import AppConfig


class LibraryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "library"

    def ready(self):
        from django_q.signals import post_spawn

        from library.tasks import note_worker_started

        post_spawn.connect(note_worker_started, dispatch_uid="library-heartbeat")
