"""What the studio edits, described once per kind: an item's fields as a plain mapping (`data`), read from the
database or from the content files, and written as the text its content file holds.

One mapping for both sides is what lets `sync_content` tell "the file changed" from "the studio changed" (the
digest of the same fields on either side), lets revisions diff any two states as file text, and lets the studio
export exactly the files an instructor commits. A lesson is `{node, slug, title, order, status, body}`; a question
`{node, id, kind, difficulty, tags, prompt, choices, answer, explanation, model_answer}` with `answer` the stored
key; a stage is its `node.yaml`; a glossary term and an FAQ entry are their entries.
"""

import hashlib
import json

import yaml

from lessons import content_files
from lessons.models import FaqEntry, GlossaryTerm, Lesson, Node, Question
from lessons.question_kinds import KINDS as QUESTION_KINDS

Data = dict


def digest(data: Data) -> str:
    """The same fields give the same digest, whichever side read them."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class _Dumper(yaml.SafeDumper):
    """YAML as the content files are written by hand: keys in their order, prose in literal blocks."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _list(dumper: yaml.SafeDumper, value: list) -> yaml.SequenceNode:
    # Short lists of words on one line, `tags: [a, b]`, as the files write them; anything else a block.
    flow = bool(value) and all(isinstance(v, str) and "\n" not in v and len(v) < 40 for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


def _mapping(dumper: yaml.SafeDumper, value: dict) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=False)


_Dumper.add_representer(str, _text)
_Dumper.add_representer(list, _list)
_Dumper.add_representer(dict, _mapping)


def dump_yaml(value: object) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def entry_text(entry: dict) -> str:
    """One entry of a YAML list file, as the file holds it: `- key: value`, then the rest indented."""
    lines = dump_yaml([entry]).splitlines()
    return "\n".join(lines) + "\n"


# --- lessons ----------------------------------------------------------------------------------


def lesson_data_from_row(lesson: Lesson) -> Data:
    return {
        "node": lesson.node.slug,
        "slug": lesson.slug,
        "title": lesson.title,
        "order": lesson.order,
        "status": lesson.status,
        "body": lesson.source,
    }


def lesson_data_from_file(node: str, lesson: content_files.LessonFile) -> Data:
    return {
        "node": node,
        "slug": lesson.slug,
        "title": lesson.title,
        "order": lesson.order,
        "status": lesson.status,
        "body": lesson.body,
    }


def lesson_front_matter(data: Data, *, status: bool = True) -> str:
    fields = {"slug": data["slug"], "title": data["title"], "order": data["order"]}
    if status:
        fields["status"] = data["status"]
    return dump_yaml(fields)


def lesson_text(data: Data) -> str:
    return "---\n" + lesson_front_matter(data) + "---\n" + data["body"]


# --- questions --------------------------------------------------------------------------------


def question_data_from_row(question: Question) -> Data:
    spec = QUESTION_KINDS[question.kind]
    return {
        "node": question.node.slug,
        "id": question.qid,
        "kind": question.kind,
        "difficulty": question.difficulty,
        "tags": list(question.tags),
        "prompt": question.prompt,
        "choices": [{"text": c.text, "correct": c.correct, "feedback": c.feedback} for c in question.choices.all()]
        if spec.has_choices
        else [],
        "answer": dict(question.answer),
        "explanation": question.explanation,
        "model_answer": question.model_answer if spec.has_model_answer else "",
    }


def question_data_from_file(node: str, question: content_files.QuestionFile) -> Data:
    return {
        "node": node,
        "id": question.qid,
        "kind": question.kind,
        "difficulty": question.difficulty,
        "tags": list(question.tags),
        "prompt": question.prompt,
        "choices": [{"text": c.text, "correct": c.correct, "feedback": c.feedback} for c in question.choices],
        "answer": dict(question.answer),
        "explanation": question.explanation,
        "model_answer": question.model_answer,
    }


def question_entry(data: Data) -> dict:
    """The question as its entry of `questions.yaml`: the key written the way each kind's reader reads it."""
    spec = QUESTION_KINDS[data["kind"]]
    entry: dict = {"id": data["id"], "kind": data["kind"], "difficulty": data["difficulty"]}
    if data["tags"]:
        entry["tags"] = data["tags"]
    entry["prompt"] = data["prompt"]
    if spec.has_choices:
        entry["choices"] = []
        for choice in data["choices"]:
            written = {"text": choice["text"]}
            if choice["correct"]:
                written["correct"] = True
            if choice["feedback"]:
                written["feedback"] = choice["feedback"]
            entry["choices"].append(written)
    answer = data["answer"]
    if data["kind"] == "true_false":
        entry["answer"] = answer["value"]
    elif data["kind"] == "numeric":
        entry["answer"] = answer["value"]
        if answer.get("tolerance"):
            entry["tolerance"] = answer["tolerance"]
        if answer.get("unit"):
            entry["unit"] = answer["unit"]
    elif data["kind"] == "ordering":
        entry["items"] = sorted(answer["order"])
        entry["answer"] = answer["order"]
    entry["explanation"] = data["explanation"]
    if spec.has_model_answer:
        entry["model_answer"] = data["model_answer"]
    return entry


def question_text(data: Data) -> str:
    return entry_text(question_entry(data))


# --- stages -----------------------------------------------------------------------------------


def node_data_from_row(node: Node) -> Data:
    return {
        "slug": node.slug,
        "title": node.title,
        "order": node.order,
        "prerequisites": sorted(p.slug for p in node.prerequisites.all()),
        "challenge": node.challenge_key,
        "summary": node.summary,
        "objectives": list(node.objectives),
        "pass_mark": node.pass_mark,
    }


def node_data_from_file(node: content_files.NodeFile) -> Data:
    return {
        "slug": node.slug,
        "title": node.title,
        "order": node.order,
        "prerequisites": sorted(node.prerequisites),
        "challenge": node.challenge_key,
        "summary": node.summary,
        "objectives": list(node.objectives),
        "pass_mark": node.pass_mark,
    }


def node_text(data: Data) -> str:
    fields = {key: data[key] for key in ("slug", "title", "order", "prerequisites")}
    if data["challenge"]:
        fields["challenge"] = data["challenge"]
    fields["summary"] = data["summary"]
    fields["objectives"] = data["objectives"]
    if data["pass_mark"] != 80:
        fields["pass_mark"] = data["pass_mark"]
    return dump_yaml(fields)


# --- glossary and FAQ -------------------------------------------------------------------------


def term_data_from_row(term: GlossaryTerm) -> Data:
    return {
        "slug": term.slug,
        "term": term.term,
        "aliases": list(term.aliases),
        "definition": term.definition,
        "match_case": term.match_case,
    }


def term_data_from_file(term: content_files.GlossaryFile) -> Data:
    return {
        "slug": term.slug,
        "term": term.term,
        "aliases": list(term.aliases),
        "definition": term.definition,
        "match_case": term.match_case,
    }


def term_entry(data: Data) -> dict:
    entry = {"term": data["term"], "slug": data["slug"]}
    if data["aliases"]:
        entry["aliases"] = data["aliases"]
    entry["definition"] = data["definition"]
    if data["match_case"]:
        entry["match_case"] = True
    return entry


def faq_data_from_row(entry: FaqEntry) -> Data:
    return {"order": entry.order, "question": entry.question, "answer": entry.answer_source}


def faq_data_from_file(entry: content_files.FaqFile) -> Data:
    return {"order": entry.order, "question": entry.question, "answer": entry.answer}


def faq_entry(data: Data) -> dict:
    return {"question": data["question"], "answer": data["answer"]}


def text_of(kind: str, data: Data) -> str:
    """The item as its content file writes it: a whole file (a lesson, a stage) or its entry of a list file."""
    if kind == "lesson":
        return lesson_text(data)
    if kind == "question":
        return question_text(data)
    if kind == "node":
        return node_text(data)
    if kind == "term":
        return entry_text(term_entry(data))
    return entry_text(faq_entry(data))
