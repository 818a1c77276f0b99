from django.contrib import admin, messages
from django.http import HttpRequest

from lessons.models import FaqEntry, GlossaryTerm, Lesson, Node
from lessons.rendering import render_markdown
from lessons.services import lesson_render


class LessonInline(admin.TabularInline):
    model = Lesson
    fields = ("order", "title", "slug", "status")
    extra = 0
    show_change_link = True


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ("order", "title", "slug", "challenge_key")
    list_display_links = ("title",)
    filter_horizontal = ("prerequisites",)
    readonly_fields = ("source_path",)
    inlines = [LessonInline]


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ("title", "node", "order", "status", "word_count", "updated_at")
    list_filter = ("status", "node")
    search_fields = ("title", "source")
    readonly_fields = ("word_count", "reading_minutes", "source_path", "updated_at")
    fields = ("node", "slug", "title", "order", "status", "source", *readonly_fields)

    def save_model(self, request: HttpRequest, obj: Lesson, form: object, change: bool) -> None:
        for problem in lesson_render(lesson=obj):
            messages.warning(request, f"{obj.title}: {problem}")
        super().save_model(request, obj, form, change)


@admin.register(GlossaryTerm)
class GlossaryTermAdmin(admin.ModelAdmin):
    list_display = ("term", "slug", "match_case")
    search_fields = ("term", "definition")


@admin.register(FaqEntry)
class FaqEntryAdmin(admin.ModelAdmin):
    list_display = ("order", "question")
    fields = ("order", "question", "answer_source")

    def save_model(self, request: HttpRequest, obj: FaqEntry, form: object, change: bool) -> None:
        obj.answer_html = render_markdown(obj.answer_source).html
        super().save_model(request, obj, form, change)
