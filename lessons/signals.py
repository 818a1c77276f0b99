"""A prerequisite that would close a cycle is refused wherever it is saved: admin, content sync, shell."""

from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from lessons.models import Node
from lessons.prerequisites import prerequisite_cycle
from lessons.selectors import cycle_titles, prerequisite_graph
from mlopslab.refusals import Refused


class PrerequisiteCycle(Refused):
    def __init__(self, cycle: list[int]) -> None:
        super().__init__(
            f"These prerequisites would form a cycle, so no stage in it could ever open: {cycle_titles(cycle)}.",
            status=409,
        )


def cycle_with(graph: dict[int, list[int]], added: list[tuple[int, int]]) -> list[int] | None:
    """The cycle `graph` would have with the (node, prerequisite) pairs added, or None."""
    for node_id, required_id in added:
        graph.setdefault(node_id, []).append(required_id)
    return prerequisite_cycle(graph)


@receiver(m2m_changed, sender=Node.prerequisites.through)
def _refuse_a_cycle(
    sender: object, instance: Node, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: object
) -> None:
    if action != "pre_add" or not pk_set:
        return
    added = [(pk, instance.pk) for pk in pk_set] if reverse else [(instance.pk, pk) for pk in pk_set]
    cycle = cycle_with(prerequisite_graph(), added)
    if cycle is not None:
        raise PrerequisiteCycle(cycle)
