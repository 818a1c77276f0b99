from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from mlopslab import views
from mlopslab.forms import AdminLoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("status/", views.status, name="status"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("", include("lessons.urls")),
    path("sandbox/", include("sandbox.urls")),
    # Before the admin's own URLs, which would otherwise answer the same path unthrottled.
    path("admin/login/", views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "MLOps Lab administration"
admin.site.site_title = "MLOps Lab admin"
admin.site.login_form = AdminLoginForm
