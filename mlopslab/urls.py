from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from mlopslab import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("status/", views.status, name="status"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("", include("lessons.urls")),
    path("sandbox/", include("sandbox.urls")),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "MLOps Lab administration"
admin.site.site_title = "MLOps Lab admin"
