"""The course's real glossary and FAQ, synced alone: the RAG sandbox's tests retrieve from exactly what the site
syncs, without depending on every lesson of the course being in a state that renders."""

import shutil
from pathlib import Path


def glossary_and_faq_sync(folder: Path) -> None:
    """Sync `lessons/content/glossary.yaml` and `faq.yaml` through the real sync, from a copy in `folder`."""
    from lessons.services import CONTENT_ROOT, content_sync

    root = folder / "glossary-and-faq"
    root.mkdir(parents=True, exist_ok=True)
    for name in ("glossary.yaml", "faq.yaml"):
        shutil.copy(CONTENT_ROOT / name, root / name)
    report = content_sync(root=root)
    assert report.changed, "the glossary and FAQ synced nothing"
