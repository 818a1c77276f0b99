"""The map's prerequisite graph: finding a cycle before one is saved, and laying out one that slipped in.

A graph is a mapping from a node to the nodes it requires. The functions are iterative, so a long
or looping chain can never exhaust the stack.
"""

from collections.abc import Hashable, Iterable, Mapping

Graph = Mapping[Hashable, Iterable[Hashable]]


def prerequisite_cycle(graph: Graph) -> list[Hashable] | None:
    """One cycle as a path that returns to its start (`[a, b, a]`), or None when the graph has none."""
    parents = {node: list(required) for node, required in graph.items()}
    done: set[Hashable] = set()
    for start in parents:
        if start in done:
            continue
        trail: list[Hashable] = [start]
        on_trail = {start}
        pending = [iter(parents.get(start, []))]
        while pending:
            following = next(pending[-1], None)
            if following is None:
                pending.pop()
                done.add(trail[-1])
                on_trail.discard(trail.pop())
            elif following in on_trail:
                return [*trail[trail.index(following) :], following]
            elif following not in done:
                trail.append(following)
                on_trail.add(following)
                pending.append(iter(parents.get(following, [])))
    return None


def depths(graph: Graph) -> dict[Hashable, int]:
    """Each node's row: one below its deepest prerequisite, ignoring any requirement that closes a cycle."""
    parents = {node: [p for p in required if p in graph] for node, required in graph.items()}
    depth: dict[Hashable, int] = {}
    for start in parents:
        if start in depth:
            continue
        trail = [start]
        on_trail = {start}
        pending = [iter(parents[start])]
        while pending:
            following = next(pending[-1], None)
            if following is None:
                pending.pop()
                node = trail.pop()
                on_trail.discard(node)
                depth[node] = 1 + max((depth[p] for p in parents[node] if p in depth), default=-1)
            elif following not in depth and following not in on_trail:
                trail.append(following)
                on_trail.add(following)
                pending.append(iter(parents[following]))
    return depth
