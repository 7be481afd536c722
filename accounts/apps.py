import logging

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate

logger = logging.getLogger(__name__)


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Every start runs migrate (bin/setup, the Docker entrypoint), so this is where an
        # account set in the environment is created or gets its new password.
        post_migrate.connect(_account_from_environment, sender=self)


def _account_from_environment(sender, using, **kwargs):
    from django.contrib.auth import get_user_model

    username, password = settings.MEDIASAGE_USERNAME, settings.MEDIASAGE_PASSWORD
    if not username:
        return
    user, created = get_user_model().objects.using(using).get_or_create(username=username)
    if created or not user.check_password(password) or not user.is_superuser:
        user.set_password(password)
        user.is_active = user.is_staff = user.is_superuser = True
        user.save(using=using)
        change = "created" if created else "updated"
        logger.info("Account %r %s from MEDIASAGE_USERNAME and MEDIASAGE_PASSWORD", username, change)
