from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.urls import reverse


class Command(BaseCommand):
    help = "Print where to create the first account, when there is none yet (creates nothing)."

    def add_arguments(self, parser):
        parser.add_argument("base_url", help="where the app is reached, e.g. http://localhost:8000")

    def handle(self, base_url, **options):
        if not get_user_model().objects.exists():
            url = base_url.rstrip("/") + reverse("first-run")
            self.stdout.write(f"No account yet: create the admin account at {url}")
