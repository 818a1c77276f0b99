"""The RAG pipeline's pure parts (sandbox/llmops/rag.py) on hand-made cases, and the golden set against the
course content as it really syncs."""

import ast
from pathlib import Path

import pytest

from sandbox.llmops import rag
from tests.llmops_course import glossary_and_faq_sync

DOCS = [
    rag.Document("glossary:canary", "Canary deployment", "Release to a small share of traffic first. Then widen it."),
    rag.Document("glossary:drift", "Data drift", "Inputs change their distribution over time. No labels needed."),
    rag.Document("faq:jobs", "Why can't I start another job?", "You may have at most 3 jobs queued or running."),
]


def test_chunks_overlap_by_the_given_words_and_cover_the_text() -> None:
    text = " ".join(f"w{i}" for i in range(10))
    assert rag.chunk_words(text, 4, 0) == ["w0 w1 w2 w3", "w4 w5 w6 w7", "w8 w9"]
    assert rag.chunk_words(text, 4, 2) == ["w0 w1 w2 w3", "w2 w3 w4 w5", "w4 w5 w6 w7", "w6 w7 w8 w9"]
    # A window that would only repeat the previous one's overlap is not made.
    assert rag.chunk_words("a b c d e", 4, 1) == ["a b c d", "d e"]
    assert rag.chunk_words("a b", 4, 2) == ["a b"]
    assert rag.chunk_words("   ", 4, 0) == []
    with pytest.raises(rag.ConfigError):
        rag.chunk_words(text, 4, 4)


def test_chunk_ids_name_their_document_and_window() -> None:
    config = rag.RagConfig(chunk_size=20, chunk_overlap=0)
    chunks = rag.chunk_corpus([rag.Document("glossary:x", "X", " ".join(["word"] * 45))], config)
    assert [c.id for c in chunks] == ["glossary:x#0", "glossary:x#1", "glossary:x#2"]


def test_the_retriever_ranks_the_matching_chunk_first_and_ties_keep_corpus_order() -> None:
    config = rag.RagConfig(chunk_size=20)
    retriever = rag.Retriever(rag.chunk_corpus(DOCS, config), config)
    ranking = retriever.rank("how many jobs queued")
    assert ranking[0].chunk.doc_id == "faq:jobs"
    assert ranking[0].rank == 1
    assert ranking[0].score > ranking[1].score
    # Nothing in common with any chunk: every score is 0 and the order is the corpus's.
    unrelated = retriever.rank("zebra")
    assert [r.chunk.doc_id for r in unrelated] == [d.id for d in DOCS]


def test_titles_and_stop_words_change_what_is_retrieved() -> None:
    question = "what is a canary deployment"
    plain = rag.RagConfig(chunk_size=20)
    titled = rag.RagConfig(chunk_size=20, include_title=True, stop_words="english")
    plain_top = rag.Retriever(rag.chunk_corpus(DOCS, plain), plain).rank(question)[0]
    titled_top = rag.Retriever(rag.chunk_corpus(DOCS, titled), titled).rank(question)[0]
    # The definition never names the term: without titles only "a" matches, and the drift chunk has no "a".
    assert plain_top.chunk.doc_id == "glossary:canary"
    assert plain_top.score < titled_top.score
    assert titled_top.chunk.doc_id == "glossary:canary"


def _result(rank: int | None, fact: bool = True) -> rag.QuestionResult:
    return rag.QuestionResult(
        question_id=f"q{rank}", question="q", expected=["d"], fact="f", first_relevant_rank=rank,
        hit_at_1=rank is not None and rank <= 1, hit_at_3=rank is not None and rank <= 3,
        hit_at_k=rank is not None and rank <= 5, fact_found=fact, answer="a b", prompt_tokens=100,
        answer_tokens=10, latency_ms=float(rank or 9),
    )  # fmt: skip


def test_hit_rates_and_mrr_on_hand_made_ranks() -> None:
    results = [_result(1), _result(2), _result(4, fact=False), _result(None, fact=False)]
    metrics = rag.summarise(results, rag.RagConfig(top_k=5))
    assert metrics["hit_rate_at_1"] == 0.25
    assert metrics["hit_rate_at_3"] == 0.5
    assert metrics["hit_rate_at_k"] == 0.75
    # (1 + 1/2 + 1/4 + 0) / 4
    assert metrics["mrr"] == pytest.approx(0.4375)
    assert metrics["answer_contains_fact"] == 0.5
    # A rank past top_k counts 0 in MRR.
    assert rag.summarise(results, rag.RagConfig(top_k=3))["mrr"] == pytest.approx(0.375)


def test_latency_percentiles_are_nearest_rank() -> None:
    assert rag.percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert rag.percentile([float(i) for i in range(1, 21)], 0.95) == 19.0
    assert rag.percentile([], 0.5) == 0.0


def test_tokens_are_whitespace_words_and_cost_follows_the_price_sheet() -> None:
    assert rag.count_tokens("  Context:\n[1] a  b\tc ") == 5
    # 1,000 questions of 1,000 prompt and 100 answer tokens: 1M * $0.50 + 0.1M * $1.50 = $0.65.
    assert rag.cost_per_1k_questions(1000, 100) == pytest.approx(0.65)
    metrics = rag.summarise([_result(1), _result(2)], rag.RagConfig())
    assert metrics["prompt_tokens"] == 100
    assert metrics["answer_tokens"] == 10
    assert metrics["cost_per_1k_questions_usd"] == pytest.approx((100 * 0.5 + 10 * 1.5) / 1000)


def test_the_prompt_is_the_template_filled_and_leaves_other_braces_alone() -> None:
    assert rag.fill_prompt("{question}? {x} {context}", "C", "Q") == "Q? {x} C"


def test_the_composer_is_deterministic_and_keeps_to_its_budget() -> None:
    config = rag.RagConfig(chunk_size=20, include_title=True)
    retriever = rag.Retriever(rag.chunk_corpus(DOCS, config), config)
    top = retriever.rank("how many jobs may be queued or running")[:3]
    first = rag.compose_answer(retriever, "how many jobs may be queued or running", top)
    assert first == rag.compose_answer(retriever, "how many jobs may be queued or running", top)
    assert first.startswith("You may have at most 3 jobs queued or running.")
    assert rag.count_tokens(rag.compose_answer(retriever, "jobs", top, budget=5)) == 5


def test_a_fact_is_found_whatever_its_case_and_spacing() -> None:
    assert rag.contains_fact("You may have at most 3 JOBS\n queued", "3 jobs queued")
    assert not rag.contains_fact("three jobs", "3 jobs")


def test_configuration_bounds_are_each_named() -> None:
    problems = rag.config_problems(
        rag.RagConfig(prompt_template="no slots", chunk_size=500, top_k=0, ngram_max=3, stop_words="french")
    )
    assert set(problems) == {"prompt_template", "chunk_size", "top_k", "ngram_max", "stop_words"}
    assert "{context} and {question}" in problems["prompt_template"]
    assert "half the chunk size" in rag.config_problems(rag.RagConfig(chunk_size=40, chunk_overlap=21))["chunk_overlap"]
    assert rag.config_problems(rag.RagConfig(chunk_size=40, chunk_overlap=20)) == {}
    assert rag.config_problems(rag.BASELINE) == {}


def test_the_gate_names_each_fall_and_each_lost_question() -> None:
    old = {"hit_rate_at_3": 0.8, "answer_contains_fact": 0.6}
    passed = rag.gate({"hit_rate_at_3": 0.9, "answer_contains_fact": 0.6}, old, {"a": True, "b": True}, {"a": True})
    assert passed.passed
    assert passed.reasons == []
    assert passed.lost == []
    failed = rag.gate({"hit_rate_at_3": 0.9, "answer_contains_fact": 0.5}, old, {"a": False, "b": True}, {"a": True})
    assert not failed.passed
    assert failed.lost == ["a"]
    assert any("answer_contains_fact fell from 0.6 to 0.5" in reason for reason in failed.reasons)
    assert any("a" in reason and "no longer" in reason for reason in failed.reasons)


def test_the_pure_module_imports_nothing_of_the_site() -> None:
    tree = ast.parse(Path(rag.__file__).read_text(encoding="utf-8"))
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
        if not isinstance(node, ast.ImportFrom) or node.module
    }
    assert not imported & {"django", "celery", "lessons", "mlopslab", "sandbox", "community"}


# --- The golden set against the real course content ------------------------------------------------------------


@pytest.fixture
def real_course(db: None, tmp_path: Path) -> None:
    glossary_and_faq_sync(tmp_path)


def test_the_golden_set_is_well_formed() -> None:
    golden = rag.golden_load()
    assert 25 <= len(golden) <= 45
    assert len({q.id for q in golden}) == len(golden)
    assert all(q.question.strip() and q.fact.strip() and q.expected for q in golden)


def test_every_expected_document_exists_and_every_fact_is_in_one_of_them(real_course: None) -> None:
    from sandbox.llmops.services import corpus_documents

    documents = {document.id: document for document in corpus_documents()}
    problems = []
    for question in rag.golden_load():
        missing = [doc_id for doc_id in question.expected if doc_id not in documents]
        if missing:
            problems.append(f"{question.id}: no document {missing}")
        elif not any(rag.contains_fact(documents[doc_id].text, question.fact) for doc_id in question.expected):
            problems.append(f"{question.id}: {question.fact!r} is in none of {list(question.expected)}")
    assert not problems, "\n".join(problems)


def test_the_baseline_is_below_the_ceiling_and_a_better_configuration_loses_nothing(real_course: None) -> None:
    from sandbox.llmops.services import corpus_documents

    documents, golden = corpus_documents(), rag.golden_load()
    base, base_results = rag.evaluate(documents, golden, rag.BASELINE)
    better_config = rag.RagConfig(
        chunk_size=80, chunk_overlap=20, top_k=3, sublinear_tf=True, stop_words="english", include_title=True
    )
    better, better_results = rag.evaluate(documents, golden, better_config)
    assert base["hit_rate_at_3"] < 0.9
    assert base["answer_contains_fact"] < 0.8
    assert better["hit_rate_at_3"] > base["hit_rate_at_3"]
    assert better["answer_contains_fact"] >= base["answer_contains_fact"]
    verdict = rag.gate(
        better, base, {r.question_id: r.fact_found for r in better_results},
        {r.question_id: r.fact_found for r in base_results},
    )  # fmt: skip
    assert verdict.passed, verdict.reasons
    # The same configuration twice gives the same answers.
    again = rag.evaluate(documents, golden, better_config)[1]
    assert [r.answer for r in again] == [r.answer for r in better_results]
