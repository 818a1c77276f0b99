from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from mlopslab import views
from mlopslab.forms import AdminLoginForm
from sandbox.monitoring import metrics as monitoring_metrics
from sandbox.serving import endpoint as serving

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
    path("studio/", include("studio.urls")),
    path("", include("cohorts.urls")),
    path("community/", include("community.urls")),
    # The prediction endpoints speak MLflow's scoring protocol at MLflow's paths, under /serve/<endpoint>/;
    # anything else under /serve/ answers a JSON 404 too, never a page.
    path("serve/<str:endpoint>/invocations", serving.invocations, name="serve_invocations"),
    path("serve/<str:endpoint>/ping", serving.ping, name="serve_ping"),
    path("serve/<str:endpoint>/version", serving.version, name="serve_version"),
    path("serve/<str:endpoint>/metrics", monitoring_metrics.metrics, name="serve_metrics"),
    re_path(r"^serve/(?P<path>.*)$", serving.not_found),
    # Before the admin's own URLs, which would otherwise answer the same path unthrottled.
    path("admin/login/", views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "MLOps Lab administration"
admin.site.site_title = "MLOps Lab admin"
admin.site.login_form = AdminLoginForm
