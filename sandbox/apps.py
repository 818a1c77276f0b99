from importlib import import_module

from django.apps import AppConfig

# What each capability registers at start: the runners of its jobs, its Celery
# tasks, its checks behind the map's challenges, its admin pages.
CAPABILITY_MODULES = [
    "sandbox.jobs.runners",
    "sandbox.jobs.tasks",
    "sandbox.jobs.challenges",
    "sandbox.jobs.admin",
    "sandbox.datasets.challenges",
    "sandbox.tracking.runners",
    "sandbox.tracking.challenges",
    "sandbox.registry.runners",
    "sandbox.registry.challenges",
    "sandbox.registry.admin",
    "sandbox.serving.runners",
    "sandbox.serving.challenges",
    "sandbox.monitoring.runners",
    "sandbox.monitoring.drill_runners",
    "sandbox.monitoring.tasks",
    "sandbox.monitoring.challenges",
    "sandbox.llmops.runners",
    "sandbox.llmops.challenges",
]


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Sandbox"

    def ready(self) -> None:
        for module in CAPABILITY_MODULES:
            import_module(module)
