from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_not_required, login_required
from django.contrib.auth.views import LoginView
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.forms import FirstRunForm, SignInForm
from accounts.models import ApiKey


def _no_account_yet():
    return not get_user_model().objects.exists()


def _next_url(request):
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(url, {request.get_host()}, request.is_secure()):
        return url
    return ""


@method_decorator(login_not_required, name="dispatch")
class SignInView(LoginView):
    template_name = "accounts/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def dispatch(self, request, *args, **kwargs):
        if _no_account_yet():
            return redirect("first-run")
        return super().dispatch(request, *args, **kwargs)


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def first_run(request):
    if not _no_account_yet():
        return redirect("login")
    form = FirstRunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # One write transaction: of two people racing here, only the first gets an account.
        with transaction.atomic():
            if not _no_account_yet():
                return redirect("login")
            user = form.save()
        login(request, user)
        return redirect(_next_url(request) or "builder")
    return render(request, "accounts/first_run.html", {"form": form, "next": _next_url(request)})


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def account(request):
    # A POST makes a new key, shown in this response only: it is stored as a hash.
    key = ApiKey.generate(request.user) if request.method == "POST" else None
    has_key = key is not None or ApiKey.objects.filter(user=request.user).exists()
    return render(request, "accounts/account.html", {"key": key, "has_key": has_key, "nav": "account"})
