from django.contrib import admin

from sandbox.jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "kind", "status", "progress", "created_at", "finished_at")
    list_filter = ("status", "kind")
    search_fields = ("owner__username", "celery_task_id")
    readonly_fields = [field.name for field in Job._meta.fields]
