"""The intent classifier: TF-IDF word and character n-grams, logistic regression.

Trained in-process on first use from every language's examples (the masked text, as
`entities.extract` gives it) and kept for the life of the process; training takes a few
tenths of a second, so there is no model file to download, ship or keep in step. The
language of a message is the one whose stopwords it uses most; a tie (a short "ok" or
"gracias") goes to a naive Bayes model over the same features, trained on which data
file each example came from.

Prediction does the TF-IDF and logistic-regression arithmetic itself from the fitted
vocabularies and coefficients (`_vector`): the same numbers as scikit-learn's
`transform` + `predict_proba` (a test holds them equal), in a tenth of the time.

scikit-learn is imported inside `model()`, not at module import: the `wismo` command
imports this package lazily and must start fast.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from wismo.conversation.nlu.entities import extract
from wismo.conversation.nlu.intents import INTENTS, languages

# Features are computed from at most this many characters: the intent of a message is in
# its first lines, and features of a 10,000-character paste would cost time for nothing.
MAX_FEATURE_CHARS = 600
# Fixed, so that training never depends on the day it runs (dates in examples are masked
# the same way whatever "today" is).
_TRAINING_DAY = date(2026, 1, 15)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Prediction:
    intent: str
    confidence: float  # probability of `intent`, lowered for unfamiliar words; 0..1
    language: str
    scores: dict[str, float]  # every intent's probability


@dataclass(frozen=True, slots=True)
class _Part:
    """One fitted vectorizer, unpacked for the fast path."""

    analyzer: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: Any  # numpy array
    offset: int  # first column of this part in the concatenated features


@dataclass(frozen=True, slots=True)
class Model:
    features: Any  # the fitted sklearn FeatureUnion (for the bench and for tests)
    intents: Any  # the fitted LogisticRegression over INTENTS
    languages: Any  # a fitted MultinomialNB over language codes, or None with one language
    parts: tuple[_Part, ...]
    stopwords: tuple[tuple[str, frozenset[str]], ...]
    examples: int
    trained_seconds: float  # from reading the examples to fitted models, imports excluded


def training_set() -> tuple[list[str], list[str], list[str]]:
    """(prepared texts, intents, language codes) from every data file."""
    texts: list[str] = []
    labels: list[str] = []
    langs: list[str] = []
    for lang in languages():
        for intent, examples in lang.examples.items():
            for example in examples:
                texts.append(prepare(example))
                labels.append(intent)
                langs.append(lang.code)
    return texts, labels, langs


def prepare(text: str) -> str:
    """What the features are computed from: masked, cut, lower case."""
    return extract(text, today=_TRAINING_DAY).masked[:MAX_FEATURE_CHARS].lower()


def build(c: float = 20.0) -> tuple[Any, Any]:
    """Untrained (features, intent model); `c` is exposed for tuning."""
    # scikit-learn takes a second to import: only when a model is built (module docstring).
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from sklearn.pipeline import FeatureUnion  # noqa: PLC0415

    # n-grams seen in one or two examples only are dropped: half the features, half the
    # training time, and the same cross-validated accuracy on the data files.
    features = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    strip_accents="unicode",
                    token_pattern=r"(?u)\b\w+\b",  # noqa: S106 - a regex, not a password
                    min_df=2,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    sublinear_tf=True,
                    strip_accents="unicode",
                    min_df=3,
                ),
            ),
        ]
    )
    # newton-cg: a tenth of the time lbfgs takes on this many sparse features and classes.
    # tol=1e-3 halves the time again; probabilities move by a few hundredths at most.
    intents = LogisticRegression(C=c, max_iter=500, solver="newton-cg", tol=1e-3)
    return features, intents


_TRAINING = threading.Lock()


def model() -> Model:
    """The trained model, trained once per process (threads asking at once wait for it)."""
    with _TRAINING:
        return _trained()


@cache
def _trained() -> Model:
    from sklearn.naive_bayes import MultinomialNB  # noqa: PLC0415 - see build()
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # noqa: PLC0415

    features, intents = build()  # imports scikit-learn: not counted as training time
    started = time.perf_counter()
    texts, labels, langs = training_set()
    missing = sorted(set(INTENTS) - set(labels))
    if missing:
        raise RuntimeError(f"nlu: no examples for intents {missing}")
    matrix = features.fit_transform(texts)
    # One thread: the problem is small, and on a busy machine (or inside a threaded server)
    # BLAS threads fighting for cores made the fit five times slower, not faster.
    with threadpool_limits(limits=1):
        intents.fit(matrix, labels)
    language_model = MultinomialNB(alpha=0.1).fit(matrix, langs) if len(set(langs)) > 1 else None
    parts: list[_Part] = []
    offset = 0
    for _, vectorizer in features.transformer_list:
        parts.append(
            _Part(vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_, offset)
        )
        offset += len(vectorizer.vocabulary_)
    return Model(
        features=features,
        intents=intents,
        languages=language_model,
        parts=tuple(parts),
        stopwords=tuple((lang.code, lang.stopwords) for lang in languages()),
        examples=len(texts),
        trained_seconds=time.perf_counter() - started,
    )


def _vector(m: Model, prepared: str) -> tuple[Any, Any]:
    """The message's features as (columns, values): what `m.features.transform` gives,
    without scikit-learn's per-call checks, which cost ten times the arithmetic."""
    import numpy as np  # noqa: PLC0415 - numpy comes with scikit-learn, imported late too

    columns: list[Any] = []
    values: list[Any] = []
    for part in m.parts:
        counts = Counter(g for g in part.analyzer(prepared) if g in part.vocabulary)
        if not counts:
            continue
        ids = np.fromiter((part.vocabulary[g] for g in counts), dtype=np.int64, count=len(counts))
        weights = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))) * part.idf[ids]
        columns.append(ids + part.offset)
        values.append(weights / np.sqrt(weights @ weights))
    if not columns:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(columns), np.concatenate(values)


def classify(prepared: str, raw: str) -> Prediction:
    """Intent and language of a message; `prepared` is `prepare(raw)` (or its equivalent)."""
    import numpy as np  # noqa: PLC0415 - numpy comes with scikit-learn, imported late too

    m = model()
    columns, values = _vector(m, prepared)
    logits = m.intents.coef_[:, columns] @ values + m.intents.intercept_
    exp = np.exp(logits - logits.max())
    probabilities = exp / exp.sum()
    scores = {str(c): float(p) for c, p in zip(m.intents.classes_, probabilities, strict=True)}
    best = max(scores, key=lambda k: scores[k])
    confidence = scores[best] * _familiarity(m, prepared)
    return Prediction(best, confidence, _language(m, raw, columns, values), scores)


def _familiarity(m: Model, prepared: str) -> float:
    """1.0 when most of the message's words were seen in training, down to 0.4 when none
    were. The intent probabilities only compare intents with each other: "asdkjh qwpoeiu"
    still gets a winner, and this is what says the model has never seen anything like it.
    """
    words = m.parts[0].analyzer(prepared)
    unigrams = [w for w in words if " " not in w]
    if not unigrams:
        return 0.4
    known = sum(w in m.parts[0].vocabulary for w in unigrams) / len(unigrams)
    return min(1.0, 0.4 + known)


def _language(m: Model, raw: str, columns: Any, values: Any) -> str:
    words = _WORD.findall(raw[:MAX_FEATURE_CHARS].lower())
    counts = sorted(
        ((sum(w in stop for w in words), code) for code, stop in m.stopwords), reverse=True
    )
    if len(counts) == 1 or counts[0][0] > counts[1][0]:
        return counts[0][1]
    if m.languages is None or len(columns) == 0:
        return m.stopwords[0][0]
    joint = m.languages.feature_log_prob_[:, columns] @ values + m.languages.class_log_prior_
    return str(m.languages.classes_[int(joint.argmax())])
