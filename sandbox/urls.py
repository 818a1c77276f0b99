"""Each capability's pages, under one namespace: `sandbox:run`, `sandbox:dataset`, …"""

from sandbox.datasets import urls as datasets_urls
from sandbox.jobs import urls as jobs_urls
from sandbox.llmops import urls as llmops_urls
from sandbox.monitoring import dashboard_urls as monitoring_dashboard_urls
from sandbox.monitoring import drill_urls as monitoring_drill_urls
from sandbox.monitoring import urls as monitoring_urls
from sandbox.registry import urls as registry_urls
from sandbox.serving import urls as serving_urls
from sandbox.tracking import urls as tracking_urls

app_name = "sandbox"
urlpatterns = [
    *jobs_urls.urlpatterns,
    *datasets_urls.urlpatterns,
    *tracking_urls.urlpatterns,
    *registry_urls.urlpatterns,
    *serving_urls.urlpatterns,
    *monitoring_dashboard_urls.urlpatterns,
    *monitoring_urls.urlpatterns,
    *monitoring_drill_urls.urlpatterns,
    *llmops_urls.urlpatterns,
]
