from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import ValidationError

from accounts.models import LoginThrottle


def _wait_message(seconds):
    count, unit = (seconds, "second") if seconds < 60 else (-(-seconds // 60), "minute")
    return f"Too many failed sign-ins. Try again in {count} {unit}{'s' if count != 1 else ''}."


class SignInForm(AuthenticationForm):
    """Django's sign-in form, throttled per client address and per username."""

    def clean(self):
        address = self.request.client_address
        username = self.cleaned_data.get("username") or ""
        if seconds := LoginThrottle.wait(address, username):
            # The password is not even checked while locked, so guessing gains nothing.
            raise ValidationError(_wait_message(seconds), code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            LoginThrottle.record_failure(address, username)
            if seconds := LoginThrottle.wait(address, username):
                raise ValidationError(_wait_message(seconds), code="throttled") from None
            raise
        LoginThrottle.clear(address, username)
        return cleaned


class FirstRunForm(UserCreationForm):
    """The first account: an administrator, so the Django admin takes the same sign-in."""

    def save(self, commit=True):
        user = super().save(commit=False)
        user.is_staff = user.is_superuser = True
        if commit:
            user.save()
        return user
