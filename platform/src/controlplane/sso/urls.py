"""Sign-in pages (browser)."""

from django.urls import path

from controlplane.sso import views

app_name = "sso"
urlpatterns = [
    path("login/", views.login_page, name="login"),
    path("oidc/start/", views.sso_start, name="start"),
    path("oidc/callback/", views.sso_callback, name="callback"),
    path("logout/", views.logout_view, name="logout"),
    path("logged-out/", views.logged_out, name="logged-out"),
]
