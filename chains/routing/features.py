"""What the learned router reads in a prompt: hashed word/character n-grams plus a few cheap signals.

Stdlib only and deterministic across processes and machines: n-grams are hashed with ``zlib.crc32`` (never
Python's ``hash()``, which is randomised per process), so a weights file trained on one machine scores the same
on another. Everything here is part of the model's contract: change the tokenisation, the hashing, the order
or meaning of ``SIGNALS``, and bump ``FEATURE_VERSION`` (a weights file from another version is refused).

A prompt becomes
- ``hashed``: bucket indices (with repeats) of its lower-cased word unigrams and bigrams and its character
  n-grams, digits folded to ``0`` (``2024`` and ``1999`` are the same shape), over the first ``max_chars``;
- ``dense``: ``SIGNALS``, each scaled to about [0, 1]: length, questions, numbers, code, maths, multi-step
  cues, multiple-choice structure, capitalised negations, task verbs and domain words.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterator, List, Mapping, Tuple

FEATURE_VERSION = 1

# Namespaces: the crc32 start value differs per kind of n-gram, so "ab" as a word and as characters differ.
_NS_WORD, _NS_CHAR = 0x5157, 0x4348
_BIGRAM_MIX = 0x9E3779B1
_KIND_MC, _KIND_OPEN = 0x2545F491, 0x6C8E9CF5  # xor-ed into word hashes for kind_words  # golden-ratio multiplier: mixes the first word's hash before the second's

_FOLD_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_WORDS = re.compile(rb"[a-z0]+")


@dataclass(frozen=True)
class FeatureSpec:
    """The tunable part of the feature extraction (stored in the weights file next to FEATURE_VERSION)."""

    hash_bits: int = 16  # 2**hash_bits buckets
    word_bigrams: bool = True
    char_n: Tuple[int, ...] = (4,)  # character n-gram sizes (empty: none)
    max_chars: int = 2000  # only the start of a prompt is read (the cost must not grow with the prompt)
    # Word unigrams again, hashed apart for multiple-choice and open prompts ("frustratingly easy domain
    # adaptation": a word can weigh differently in a quiz question and in a word problem).
    kind_words: bool = False

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["char_n"] = list(self.char_n)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FeatureSpec":
        return cls(hash_bits=int(d["hash_bits"]), word_bigrams=bool(d["word_bigrams"]),
                   char_n=tuple(int(n) for n in d["char_n"]), max_chars=int(d["max_chars"]),
                   kind_words=bool(d.get("kind_words", False)))


def _words(*ws: str) -> "re.Pattern[str]":
    return re.compile(r"\b(?:" + "|".join(sorted(ws, key=len, reverse=True)) + r")\b", re.IGNORECASE)


_CODE = re.compile(r"```|\bdef \w+\(|\bclass \w+[:(]|\w+\([^)]*\)\s*\{|\bimport \w+|;\s*$|\breturn\b|=>|::",
                   re.MULTILINE)
_MATH = re.compile(r"\d\s*[-+*/^=<>]\s*\d|\\frac|\^\d|\bx\^|√|\bsqrt\b|\d+%|\$\d|\d/\d|\b[a-z]\s*=\s*\d")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_CHOICE = re.compile(r"^\s*\(?[A-Da-d][.)]\s*(.*)$", re.MULTILINE)
_NEGATION = re.compile(r"\b(?:NOT|EXCEPT|LEAST|FALSE|INCORRECT|NEVER)\b")
_SENTENCE = re.compile(r"[.!?](?:\s|$)")

_MULTISTEP = _words("step by step", "step-by-step", "first", "then", "after", "before", "each", "every", "total",
                    "remaining", "remainder", "how many", "how much", "altogether", "twice", "half", "per",
                    "times as", "more than", "less than", "percent")
_TASKS = {
    "task_write": _words("write", "compose", "draft", "essay", "poem", "story", "blog", "email", "letter"),
    "task_explain": _words("explain", "describe", "why", "discuss", "analyze", "analyse", "compare", "evaluate"),
    "task_solve": _words("solve", "calculate", "compute", "find", "determine", "prove", "derive", "estimate"),
    "task_code": _words("code", "function", "program", "implement", "python", "javascript", "sql", "algorithm",
                        "debug", "bug"),
    "task_roleplay": _words("pretend", "imagine", "act as", "role", "you are", "as if"),
    "task_extract": _words("extract", "list", "summarize", "summarise", "identify", "json", "table"),
}
_DOMAINS = {
    "dom_math": _words("equation", "integral", "derivative", "probability", "matrix", "polynomial", "theorem",
                       "prime", "ring", "group", "field", "function", "series", "vector"),
    "dom_science": _words("energy", "force", "molecule", "atom", "cell", "electron", "reaction", "velocity",
                          "acid", "gene", "protein", "temperature", "charge"),
    "dom_law": _words("court", "plaintiff", "defendant", "statute", "contract", "liability", "constitutional",
                      "jurisdiction", "negligence", "evidence", "testimony", "law"),
    "dom_medicine": _words("patient", "diagnosis", "symptom", "dose", "clinical", "disease", "treatment", "mg",
                           "physician", "syndrome"),
    "dom_finance": _words("revenue", "tax", "interest", "investment", "accounting", "price", "market", "cost",
                          "profit", "economy", "inflation"),
    "dom_history": _words("century", "war", "empire", "revolution", "king", "treaty", "ancient", "colonial"),
    "dom_ethics": _words("moral", "morally", "ethical", "wrong", "philosopher", "virtue", "utilitarian"),
}

# The dense signals, in order (the weights file stores one weight per name, by position).
SIGNALS: Tuple[str, ...] = (
    "chars", "words", "questions", "numbers", "code", "maths", "multistep", "sentences",
    "choices", "numeric_choices", "choice_length", "negation_caps", *_TASKS, *_DOMAINS,
    # The same length and step signals again for open (not multiple-choice) prompts only: how long a word
    # problem is says more about its difficulty than how long a quiz question with four answers is.
    "chars_open", "sentences_open", "numbers_open", "multistep_open",
)


_AT = {name: i for i, name in enumerate(SIGNALS)}


def _log_scale(n: float, top: float) -> float:
    """log(1 + n) / log(1 + top), capped at 1: 0 for none, 1 from ``top`` up."""
    return min(1.0, math.log1p(n) / math.log1p(top))


def signals(text: str) -> List[float]:
    """The dense signals of ``text`` (already cut to max_chars), in ``SIGNALS`` order."""
    n_words = text.count(" ") + 1
    choices = _CHOICE.findall(text)
    numeric = sum(1 for c in choices if c.strip() and _NUMBER.fullmatch(c.strip().rstrip(".").replace(" ", "")))
    choice_len = sum(len(c) for c in choices) / len(choices) if choices else 0.0
    out = [
        _log_scale(len(text), 2000),
        _log_scale(n_words, 400),
        min(text.count("?"), 4) / 4.0,
        _log_scale(len(_NUMBER.findall(text)), 20),
        min(len(_CODE.findall(text)), 3) / 3.0,
        min(len(_MATH.findall(text)), 4) / 4.0,
        min(len(_MULTISTEP.findall(text)), 6) / 6.0,
        _log_scale(len(_SENTENCE.findall(text)), 20),
        1.0 if len(choices) >= 3 else 0.0,
        numeric / len(choices) if len(choices) >= 3 else 0.0,
        _log_scale(choice_len, 200),
        1.0 if _NEGATION.search(text) else 0.0,
    ]
    out += [min(len(p.findall(text)), 3) / 3.0 for p in _TASKS.values()]
    out += [min(len(p.findall(text)), 3) / 3.0 for p in _DOMAINS.values()]
    open_ = 0.0 if out[_AT["choices"]] else 1.0
    out += [out[_AT[name]] * open_ for name in ("chars", "sentences", "numbers", "multistep")]
    return out


_CHOICE_INDEX = _AT["choices"]


def hashed(text: str, spec: FeatureSpec, multiple_choice: bool = False) -> List[int]:
    """Bucket indices of the word uni/bigrams and character n-grams of ``text`` (already cut to max_chars)."""
    mask = (1 << spec.hash_bits) - 1
    data = text.lower().encode("utf-8", "replace").translate(_FOLD_DIGITS)
    crc = zlib.crc32
    hs = [crc(w, _NS_WORD) for w in _WORDS.findall(data)]
    out = [h & mask for h in hs]
    if spec.kind_words:
        salt = _KIND_MC if multiple_choice else _KIND_OPEN
        out += [(h ^ salt) & mask for h in hs]
    if spec.word_bigrams:
        out += [((a * _BIGRAM_MIX) ^ b) & mask for a, b in zip(hs, hs[1:])]
    for n in spec.char_n:
        ns = _NS_CHAR + n
        out += [crc(data[i:i + n], ns) & mask for i in range(len(data) - n + 1)]
    return out


def extract(text: str, spec: FeatureSpec) -> Tuple[List[float], List[int]]:
    """(dense signals, hashed bucket indices) of a prompt."""
    text = text[: spec.max_chars]
    dense = signals(text)
    return dense, hashed(text, spec, dense[_CHOICE_INDEX] > 0)


def named_hashed(text: str, spec: FeatureSpec) -> Iterator[Tuple[str, int]]:
    """The hashed features with readable names (for explanations; slower than ``hashed``)."""
    text = text[: spec.max_chars]
    mask = (1 << spec.hash_bits) - 1
    data = text.lower().encode("utf-8", "replace").translate(_FOLD_DIGITS)
    words = _WORDS.findall(data)
    hs = [zlib.crc32(w, _NS_WORD) for w in words]
    for w, h in zip(words, hs):
        yield f"word '{w.decode()}'", h & mask
    if spec.kind_words:
        mc = signals(text)[_CHOICE_INDEX] > 0
        for w, h in zip(words, hs):
            yield f"word '{w.decode()}' ({'multiple choice' if mc else 'open'})", (h ^ (_KIND_MC if mc else _KIND_OPEN)) & mask
    if spec.word_bigrams:
        for i in range(len(hs) - 1):
            yield f"words '{words[i].decode()} {words[i + 1].decode()}'", ((hs[i] * _BIGRAM_MIX) ^ hs[i + 1]) & mask
    for n in spec.char_n:
        for i in range(len(data) - n + 1):
            yield f"chars '{data[i:i + n].decode('utf-8', 'replace')}'", zlib.crc32(data[i:i + n], _NS_CHAR + n) & mask
