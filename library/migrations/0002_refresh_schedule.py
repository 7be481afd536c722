from django.db import migrations
from django.utils import timezone


def add_schedule(apps, schema_editor):
    # Due at once, so a freshly started worker checks the servers (and syncs a
    # stale or empty cache) right away, then every ten minutes.
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="refresh media servers",
        defaults={
            "func": "library.tasks.refresh_servers",
            "schedule_type": "I",
            "minutes": 10,
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="refresh media servers").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("library", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
