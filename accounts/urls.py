from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LogoutView
from django.urls import path

from accounts import views

urlpatterns = [
    path("login", views.SignInView.as_view(), name="login"),
    path("logout", login_not_required(LogoutView.as_view()), name="logout"),
    path("first-run", views.first_run, name="first-run"),
    path("account", views.account, name="account"),
]
