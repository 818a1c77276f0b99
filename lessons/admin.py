from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from lessons.models import Choice, FaqEntry, GlossaryTerm, Lesson, Node, Question
from lessons.rendering import render_markdown
from lessons.selectors import most_chosen_wrong_answer, prerequisite_graph
from lessons.services import lesson_render
from lessons.signals import PrerequisiteCycle, cycle_with


class LessonInline(admin.TabularInline):
    model = Lesson
    fields = ("order", "title", "slug", "status")
    extra = 0
    show_change_link = True


class NodeAdminForm(forms.ModelForm):
    class Meta:
        model = Node
        fields = "__all__"  # noqa: DJ007  (the admin shows every field of a node)

    def clean_prerequisites(self) -> QuerySet[Node]:
        chosen = self.cleaned_data["prerequisites"]
        if self.instance.pk is None:
            return chosen
        # The node's own prerequisites are replaced by the chosen ones.
        graph = prerequisite_graph(without_node=self.instance.pk)
        cycle = cycle_with(graph, [(self.instance.pk, node.pk) for node in chosen])
        if cycle is not None:
            raise forms.ValidationError(PrerequisiteCycle(cycle).message)
        return chosen


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    form = NodeAdminForm
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


class ChoiceInline(admin.TabularInline):
    model = Choice
    fields = ("order", "text", "correct", "feedback")
    extra = 0


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    """Question statistics for instructors: how often each is answered, how often right, the favourite mistake."""

    list_display = ("qid", "node", "kind", "answered", "share_correct", "most_chosen_wrong")
    list_filter = ("node", "kind", "difficulty")
    search_fields = ("qid", "prompt")
    readonly_fields = ("source_path",)
    inlines = [ChoiceInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Question]:
        graded = Q(answers__correct__isnull=False)
        return (
            super()
            .get_queryset(request)
            .select_related("node")
            .annotate(
                n_answered=Count("answers", filter=graded),
                n_correct=Count("answers", filter=Q(answers__correct=True)),
            )
        )

    @admin.display(description="answers", ordering="n_answered")
    def answered(self, question: Question) -> int:
        return question.n_answered

    @admin.display(description="correct")
    def share_correct(self, question: Question) -> str:
        if not question.n_answered:
            return "–"
        return f"{100 * question.n_correct / question.n_answered:.0f}%"

    @admin.display(description="most chosen wrong answer")
    def most_chosen_wrong(self, question: Question) -> str:
        return most_chosen_wrong_answer(question) or "–"

    def save_model(self, request: HttpRequest, obj: Question, form: object, change: bool) -> None:
        obj.prompt_html = render_markdown(obj.prompt).html
        obj.explanation_html = render_markdown(obj.explanation).html
        obj.model_answer_html = render_markdown(obj.model_answer).html if obj.model_answer else ""
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: object, formset: object, change: bool) -> None:
        for choice in formset.save(commit=False):
            choice.text_html = render_markdown(choice.text).html
            choice.feedback_html = render_markdown(choice.feedback).html if choice.feedback else ""
            choice.save()
        for removed in formset.deleted_objects:
            removed.delete()
