from django.contrib import admin

from sandbox.registry.models import AliasEvent


@admin.register(AliasEvent)
class AliasEventAdmin(admin.ModelAdmin):
    """The audit trail, for staff to read: nothing here can add, change or delete an event."""

    list_display = ("at", "registered_model", "alias", "action", "from_version", "to_version", "actor", "gate")
    list_filter = ("action", "gate")
    search_fields = ("registered_model__name", "alias", "actor__username")
    readonly_fields = [field.name for field in AliasEvent._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
