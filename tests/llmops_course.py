"""The course's real glossary and FAQ, synced alone: the RAG sandbox's tests retrieve from exactly what the site
syncs, without depending on every lesson of the course being in a state that renders."""

import shutil
from pathlib import Path

import yaml

STAGE = "11-llmops"


def glossary_and_faq_sync(folder: Path, *, with_stage: bool = False) -> None:
    """Sync `lessons/content/glossary.yaml` and `faq.yaml` through the real sync, from a copy in `folder`; with
    `with_stage`, stage 11's own node.yaml too (its challenge key and title as written, its prerequisites
    dropped and its lessons left out), so that its stage page shows the challenge."""
    from lessons.services import CONTENT_ROOT, content_sync

    root = folder / "glossary-and-faq"
    root.mkdir(parents=True, exist_ok=True)
    for name in ("glossary.yaml", "faq.yaml"):
        shutil.copy(CONTENT_ROOT / name, root / name)
    if with_stage:
        node = yaml.safe_load((CONTENT_ROOT / STAGE / "node.yaml").read_text(encoding="utf-8"))
        (root / STAGE).mkdir(exist_ok=True)
        (root / STAGE / "node.yaml").write_text(yaml.safe_dump({**node, "prerequisites": []}), encoding="utf-8")
    report = content_sync(root=root)
    assert report.changed, "the glossary and FAQ synced nothing"
