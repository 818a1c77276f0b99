"""A small retrieval-augmented QA pipeline and its evaluation, in plain Python over scikit-learn: no Django here.

The corpus is a list of documents (id, title, text). A configuration chunks them into windows of words, fits a
TF-IDF retriever on the chunks, and answers a question with a deterministic composer that stands in for the
generator: from the top-k chunks it keeps the sentences most similar to the question, up to a word budget. The
"prompt" a generator would receive is the configuration's template filled with the retrieved context and the
question; tokens are counted with a whitespace tokenizer and priced with an illustrative price sheet.

Metrics over a golden set (questions, the documents that answer them, a fact the answer must contain):
- hit rate@n: the share of questions with a chunk of an expected document among the first n chunks retrieved;
- MRR at top_k: the mean of 1/rank of the first such chunk within the top_k (0 when there is none);
- answer_contains_fact: the share of questions whose answer contains their fact (case and spacing ignored);
- latency p50/p95: the time to retrieve and compose one answer, in milliseconds, over the golden questions;
- prompt and answer tokens: their means per question; cost per 1,000 questions from the price sheet.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    import numpy as np

GOLDEN_PATH = Path(__file__).with_name("golden.yaml")

CHUNK_SIZE_RANGE = (20, 400)
TOP_K_RANGE = (1, 10)
NGRAM_CHOICES = (1, 2)
STOP_WORDS_CHOICES = ("none", "english")
TEMPLATE_MAX = 2000
ANSWER_WORDS = 60
"""The composer's word budget: the answer is at most this many words."""

# An illustrative price sheet, in US dollars per million tokens (no model is called; the figures are stated).
PRICE_PROMPT_PER_MILLION = 0.50
PRICE_ANSWER_PER_MILLION = 1.50

BASELINE_TEMPLATE = "Context:\n{context}\n\nQuestion: {question}\nAnswer:"

METRIC_NAMES = (
    "hit_rate_at_1",
    "hit_rate_at_3",
    "hit_rate_at_k",
    "mrr",
    "answer_contains_fact",
    "latency_p50_ms",
    "latency_p95_ms",
    "prompt_tokens",
    "answer_tokens",
    "cost_per_1k_questions_usd",
)


class ConfigError(ValueError):
    """A configuration that cannot be evaluated; the message says which setting and why."""


@dataclass(frozen=True)
class RagConfig:
    prompt_template: str = BASELINE_TEMPLATE
    chunk_size: int = 30
    chunk_overlap: int = 0
    top_k: int = 3
    ngram_max: int = 1
    sublinear_tf: bool = False
    stop_words: str = "none"
    include_title: bool = False

    def as_params(self) -> dict:
        return asdict(self)


BASELINE = RagConfig()
"""Deliberately plain: short chunks without overlap, unigrams, no stop words, no titles."""


def config_problems(config: RagConfig) -> dict[str, str]:
    """Each setting that is out of bounds, with a sentence saying why; empty when the configuration is good."""
    problems = {}
    template = config.prompt_template
    missing = [name for name in ("{context}", "{question}") if name not in template]
    if missing:
        problems["prompt_template"] = f"The template must contain {' and '.join(missing)}."
    elif len(template) > TEMPLATE_MAX:
        problems["prompt_template"] = f"The template may be at most {TEMPLATE_MAX:,} characters."
    low, high = CHUNK_SIZE_RANGE
    size_ok = isinstance(config.chunk_size, int) and low <= config.chunk_size <= high
    if not size_ok:
        problems["chunk_size"] = f"The chunk size is a whole number of words from {low} to {high}."
    if not isinstance(config.chunk_overlap, int) or config.chunk_overlap < 0:
        problems["chunk_overlap"] = "The overlap is a whole number of words, 0 or more."
    elif size_ok and config.chunk_overlap > config.chunk_size // 2:
        problems["chunk_overlap"] = (
            f"The overlap may be at most half the chunk size ({config.chunk_size // 2} words for chunks of "
            f"{config.chunk_size}); more would repeat most of each chunk in the next."
        )
    low, high = TOP_K_RANGE
    if not isinstance(config.top_k, int) or not low <= config.top_k <= high:
        problems["top_k"] = f"top_k is a whole number from {low} to {high}."
    if config.ngram_max not in NGRAM_CHOICES:
        problems["ngram_max"] = "ngram_max is 1 (words) or 2 (words and pairs of words)."
    if config.stop_words not in STOP_WORDS_CHOICES:
        problems["stop_words"] = "stop_words is 'none' or 'english'."
    return problems


def config_from_params(params: dict) -> RagConfig:
    """The configuration logged as a run's params, checked."""
    known = set(RagConfig.__dataclass_fields__)
    config = RagConfig(**{key: value for key, value in params.items() if key in known})
    problems = config_problems(config)
    if problems:
        raise ConfigError(" ".join(problems.values()))
    return config


# --- Corpus and chunks ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    title: str
    position: int
    """Which window of its document, from 0."""
    text: str

    @property
    def id(self) -> str:
        return f"{self.doc_id}#{self.position}"


def words(text: str) -> list[str]:
    """The whitespace tokenizer used for chunking and for counting tokens."""
    return text.split()


def count_tokens(text: str) -> int:
    return len(words(text))


def chunk_words(text: str, size: int, overlap: int) -> list[str]:
    """Windows of `size` words, each starting `size - overlap` words after the previous one, covering every word.

    The last window ends with the text; a text no longer than `size` is one window, and an empty text none.
    """
    if size <= 0 or not 0 <= overlap < size:
        raise ConfigError("The overlap must be smaller than the chunk size.")
    tokens = words(text)
    chunks = []
    start = 0
    while start < len(tokens):
        chunks.append(" ".join(tokens[start : start + size]))
        if start + size >= len(tokens):
            break
        start += size - overlap
    return chunks


def chunk_corpus(documents: Iterable[Document], config: RagConfig) -> list[Chunk]:
    return [
        Chunk(doc_id=doc.id, title=doc.title, position=position, text=text)
        for doc in documents
        for position, text in enumerate(chunk_words(doc.text, config.chunk_size, config.chunk_overlap))
    ]


def _indexed_text(chunk: Chunk, config: RagConfig) -> str:
    return f"{chunk.title}. {chunk.text}" if config.include_title else chunk.text


# --- Retriever and composer ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retrieved:
    chunk: Chunk
    score: float
    rank: int
    """1 for the most similar chunk."""


class Retriever:
    """TF-IDF over the chunks, ranked by cosine similarity (the vectors are L2-normalised, so a dot product)."""

    def __init__(self, chunks: list[Chunk], config: RagConfig) -> None:
        if not chunks:
            raise ConfigError("The corpus has no text to retrieve from.")
        # scikit-learn loads with the first retriever, on a worker: the web process only reads configurations.
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.chunks = chunks
        self.config = config
        self.vectorizer = TfidfVectorizer(
            ngram_range=(1, config.ngram_max),
            sublinear_tf=config.sublinear_tf,
            stop_words=None if config.stop_words == "none" else "english",
            lowercase=True,
        )
        try:
            self.matrix = self.vectorizer.fit_transform([_indexed_text(chunk, config) for chunk in chunks])
        except ValueError as exc:  # every word a stop word
            raise ConfigError(f"The corpus has no words left to index: {exc}") from None

    def scores(self, text: str) -> np.ndarray:
        return (self.matrix @ self.vectorizer.transform([text]).T).toarray().ravel()

    def rank(self, question: str) -> list[Retrieved]:
        """Every chunk, most similar first; ties keep corpus order, so the ranking is deterministic."""
        import numpy as np

        scores = self.scores(question)
        order = np.lexsort((np.arange(len(scores)), -scores))
        return [
            Retrieved(chunk=self.chunks[index], score=float(scores[index]), rank=rank)
            for rank, index in enumerate(order, start=1)
        ]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def compose_answer(retriever: Retriever, question: str, retrieved: list[Retrieved], budget: int = ANSWER_WORDS) -> str:
    """The sentences of the retrieved chunks most similar to the question, best first, up to `budget` words.

    Deterministic: ties go to the better-ranked chunk, then to the earlier sentence. The first sentence is cut to
    the budget if it alone is longer; later ones are taken only whole.
    """
    candidates = [
        (item.rank, index, text) for item in retrieved for index, text in enumerate(sentences(item.chunk.text))
    ]
    if not candidates:
        return ""
    question_vector = retriever.vectorizer.transform([question])
    scores = (retriever.vectorizer.transform([text for _, _, text in candidates]) @ question_vector.T).toarray().ravel()
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], candidates[i][0], candidates[i][1]))
    chosen: list[str] = []
    used = 0
    seen = set()
    for i in order:
        text = candidates[i][2]
        if text in seen:  # overlapping chunks repeat sentences
            continue
        length = count_tokens(text)
        if not chosen:
            chosen.append(" ".join(words(text)[:budget]))
            used = min(length, budget)
        elif used + length <= budget:
            chosen.append(text)
            used += length
        seen.add(text)
        if used >= budget:
            break
    return " ".join(chosen)


def context_text(retrieved: list[Retrieved], config: RagConfig) -> str:
    return "\n\n".join(f"[{item.rank}] {_indexed_text(item.chunk, config)}" for item in retrieved)


def fill_prompt(template: str, context: str, question: str) -> str:
    """The template with its placeholders replaced; other braces are left as written."""
    return template.replace("{context}", context).replace("{question}", question)


def normalised(text: str) -> str:
    return " ".join(text.lower().split())


def contains_fact(answer: str, fact: str) -> bool:
    return normalised(fact) in normalised(answer)


# --- Golden set and evaluation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldenQuestion:
    id: str
    question: str
    expected: tuple[str, ...]
    fact: str


def golden_load(path: Path = GOLDEN_PATH) -> list[GoldenQuestion]:
    """The golden set from its YAML file; a malformed entry is a ValueError naming it."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    questions, ids = [], set()
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or not {"id", "question", "expected", "fact"} <= set(item):
            raise ValueError(f"{path.name}: entry {number} needs id, question, expected and fact.")
        if item["id"] in ids:
            raise ValueError(f"{path.name}: entry {number} repeats the id {item['id']!r}.")
        ids.add(item["id"])
        expected = item["expected"]
        if not isinstance(expected, list) or not expected:
            raise ValueError(f"{path.name}: entry {number} ({item['id']}) needs a list of expected document ids.")
        questions.append(
            GoldenQuestion(str(item["id"]), str(item["question"]), tuple(map(str, expected)), str(item["fact"]))
        )
    return questions


@dataclass
class QuestionResult:
    question_id: str
    question: str
    expected: list[str]
    fact: str
    first_relevant_rank: int | None
    """Rank of the first chunk of an expected document in the whole ranking (None if no chunk is one)."""
    hit_at_1: bool
    hit_at_3: bool
    hit_at_k: bool
    fact_found: bool
    answer: str
    prompt_tokens: int
    answer_tokens: int
    latency_ms: float
    retrieved: list[dict] = field(default_factory=list)
    """The top_k chunks: id, document, title, text and score."""


def evaluate_question(retriever: Retriever, golden: GoldenQuestion) -> QuestionResult:
    config = retriever.config
    started = time.perf_counter()
    ranking = retriever.rank(golden.question)
    top = ranking[: config.top_k]
    answer = compose_answer(retriever, golden.question, top)
    latency_ms = (time.perf_counter() - started) * 1000
    prompt = fill_prompt(config.prompt_template, context_text(top, config), golden.question)
    expected = set(golden.expected)
    first = next((item.rank for item in ranking if item.chunk.doc_id in expected), None)
    return QuestionResult(
        question_id=golden.id,
        question=golden.question,
        expected=list(golden.expected),
        fact=golden.fact,
        first_relevant_rank=first,
        hit_at_1=first is not None and first <= 1,
        hit_at_3=first is not None and first <= 3,
        hit_at_k=first is not None and first <= config.top_k,
        fact_found=contains_fact(answer, golden.fact),
        answer=answer,
        prompt_tokens=count_tokens(prompt),
        answer_tokens=count_tokens(answer),
        latency_ms=latency_ms,
        retrieved=[
            {
                "id": item.chunk.id,
                "doc_id": item.chunk.doc_id,
                "title": item.chunk.title,
                "text": item.chunk.text,
                "score": round(item.score, 4),
                "rank": item.rank,
            }
            for item in top
        ],
    )


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `share` of the values at or below it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def cost_per_1k_questions(prompt_tokens: float, answer_tokens: float) -> float:
    """US dollars for 1,000 questions at the mean token counts, from the illustrative price sheet."""
    per_question = (prompt_tokens * PRICE_PROMPT_PER_MILLION + answer_tokens * PRICE_ANSWER_PER_MILLION) / 1_000_000
    return per_question * 1000


def reciprocal_rank(result: QuestionResult, top_k: int) -> float:
    rank = result.first_relevant_rank
    return 1 / rank if rank is not None and rank <= top_k else 0.0


def summarise(results: list[QuestionResult], config: RagConfig) -> dict[str, float]:
    """The run's metrics over the per-question results."""
    count = len(results)
    if not count:
        raise ConfigError("The golden set is empty.")

    def share(values: Iterable[bool]) -> float:
        return round(sum(values) / count, 4)

    prompt_mean = sum(r.prompt_tokens for r in results) / count
    answer_mean = sum(r.answer_tokens for r in results) / count
    latencies = [r.latency_ms for r in results]
    return {
        "hit_rate_at_1": share(r.hit_at_1 for r in results),
        "hit_rate_at_3": share(r.hit_at_3 for r in results),
        "hit_rate_at_k": share(r.hit_at_k for r in results),
        "mrr": round(sum(reciprocal_rank(r, config.top_k) for r in results) / count, 4),
        "answer_contains_fact": share(r.fact_found for r in results),
        "latency_p50_ms": round(percentile(latencies, 0.5), 3),
        "latency_p95_ms": round(percentile(latencies, 0.95), 3),
        "prompt_tokens": round(prompt_mean, 2),
        "answer_tokens": round(answer_mean, 2),
        "cost_per_1k_questions_usd": round(cost_per_1k_questions(prompt_mean, answer_mean), 6),
    }


def evaluate(
    documents: list[Document],
    golden: list[GoldenQuestion],
    config: RagConfig,
    on_question: Callable[[int, int, QuestionResult], None] | None = None,
) -> tuple[dict[str, float], list[QuestionResult]]:
    """Evaluate `config` on the golden set over `documents`: (metrics, per-question results in golden order)."""
    problems = config_problems(config)
    if problems:
        raise ConfigError(" ".join(problems.values()))
    retriever = Retriever(chunk_corpus(documents, config), config)
    results = []
    for index, item in enumerate(golden, start=1):
        result = evaluate_question(retriever, item)
        results.append(result)
        if on_question is not None:
            on_question(index, len(golden), result)
    return summarise(results, config), results


# --- The regression gate ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: list[str]
    lost: list[str]
    """Ids of golden questions the promoted version answered with their fact and the candidate does not."""


GATE_METRICS = ("hit_rate_at_3", "answer_contains_fact")


def gate(
    candidate_metrics: dict, promoted_metrics: dict, candidate_facts: dict[str, bool], promoted_facts: dict[str, bool]
) -> GateResult:
    """Pass only if neither gate metric is lower than the promoted version's and no answered question is lost."""
    reasons = []
    for name in GATE_METRICS:
        new, old = candidate_metrics.get(name, 0.0), promoted_metrics.get(name, 0.0)
        if new < old:
            reasons.append(f"{name} fell from {old:.4g} to {new:.4g}.")
    lost = [qid for qid, found in promoted_facts.items() if found and not candidate_facts.get(qid, False)]
    if lost:
        reasons.append(
            f"{len(lost)} golden question{'s' if len(lost) != 1 else ''} answered with its fact before "
            f"{'are' if len(lost) != 1 else 'is'} no longer: {', '.join(lost)}."
        )
    return GateResult(passed=not reasons, reasons=reasons, lost=lost)
