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
    char_n: Tuple[int, ...] = ()  # character n-gram sizes (empty: none; each size costs ~1 crc32 per char)
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


# Cue words, looked up per word (one dict probe per word: a regex per list cost ~30 us each). Phrases of
# two or three words are looked up when their first word starts one.
_MULTISTEP = ("step by step", "step-by-step", "first", "then", "after", "before", "each", "every", "total",
              "remaining", "remainder", "how many", "how much", "altogether", "twice", "half", "per",
              "times as", "more than", "less than", "percent")
_TASKS = {
    "task_write": ("write", "compose", "draft", "essay", "poem", "story", "blog", "email", "letter"),
    "task_explain": ("explain", "describe", "why", "discuss", "analyze", "analyse", "compare", "evaluate"),
    "task_solve": ("solve", "calculate", "compute", "find", "determine", "prove", "derive", "estimate"),
    "task_code": ("code", "function", "program", "implement", "python", "javascript", "sql", "algorithm",
                  "debug", "bug"),
    "task_roleplay": ("pretend", "imagine", "act as", "role", "you are", "as if"),
    "task_extract": ("extract", "list", "summarize", "summarise", "identify", "json", "table"),
}
_DOMAINS = {
    "dom_math": ("equation", "integral", "derivative", "probability", "matrix", "polynomial", "theorem",
                 "prime", "ring", "group", "field", "function", "series", "vector"),
    "dom_science": ("energy", "force", "molecule", "atom", "cell", "electron", "reaction", "velocity",
                    "acid", "gene", "protein", "temperature", "charge"),
    "dom_law": ("court", "plaintiff", "defendant", "statute", "contract", "liability", "constitutional",
                "jurisdiction", "negligence", "evidence", "testimony", "law"),
    "dom_medicine": ("patient", "diagnosis", "symptom", "dose", "clinical", "disease", "treatment", "mg",
                     "physician", "syndrome"),
    "dom_finance": ("revenue", "tax", "interest", "investment", "accounting", "price", "market", "cost",
                    "profit", "economy", "inflation"),
    "dom_history": ("century", "war", "empire", "revolution", "king", "treaty", "ancient", "colonial"),
    "dom_ethics": ("moral", "morally", "ethical", "wrong", "philosopher", "virtue", "utilitarian"),
}
_CUE_LISTS = {"multistep": _MULTISTEP, **_TASKS, **_DOMAINS}
_CUE_SLOT = {name: i for i, name in enumerate(_CUE_LISTS)}
_LEXICON: Dict[str, List[int]] = {}
_PHRASE_START: Dict[str, List[str]] = {}
for _name, _cues in _CUE_LISTS.items():
    for _cue in _cues:
        _slots = _LEXICON.setdefault(_cue.replace("-", " "), [])
        if _CUE_SLOT[_name] not in _slots:
            _slots.append(_CUE_SLOT[_name])
        if " " in _cue or "-" in _cue:
            _PHRASE_START.setdefault(_cue.replace("-", " ").split(" ")[0], [])

_TOKENS = re.compile(r"[a-z]+|[0-9]+(?:[.,][0-9]+)?")
_CODE_MARKERS = ("```", "def ", "class ", "import ", "return ", "=>", "::", "{\n", ");", "#include", "</")
_MATH = re.compile(r"[0-9]\s?[-+*/^=<>×÷]\s?[0-9]")
_MATH_MARKERS = ("\\frac", "^", "%", "sqrt", "√", "π", "∫", "≤", "≥")
_CHOICE = re.compile(r"^\s*\(?[A-Da-d][.)]\s*(.*)$", re.MULTILINE)
_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)?")
_NEGATIONS = ("NOT", "EXCEPT", "LEAST", "FALSE", "INCORRECT", "NEVER")
_SENTENCE = re.compile(r"[.!?](?:\s|$)")

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
    tokens = _TOKENS.findall(text.lower())
    cues = [0] * len(_CUE_LISTS)
    lexicon, starts = _LEXICON, _PHRASE_START
    numbers = 0
    for i, tok in enumerate(tokens):
        slots = lexicon.get(tok)
        if slots:
            for c in slots:
                cues[c] += 1
        elif tok[0] <= "9":
            numbers += 1
        if tok in starts:  # two- and three-word cues ("how many", "step by step")
            for phrase in (" ".join(tokens[i:i + 2]), " ".join(tokens[i:i + 3])):
                for c in lexicon.get(phrase, ()) if " " in phrase else ():
                    cues[c] += 1
    choices = _CHOICE.findall(text)
    numeric = sum(1 for c in choices if c.strip() and _NUMBER.fullmatch(c.strip().rstrip(".").replace(" ", "")))
    choice_len = sum(len(c) for c in choices) / len(choices) if choices else 0.0
    maths = len(_MATH.findall(text)) + sum(1 for m in _MATH_MARKERS if m in text)
    out = [
        _log_scale(len(text), 2000),
        _log_scale(len(tokens), 400),
        min(text.count("?"), 4) / 4.0,
        _log_scale(numbers, 20),
        min(sum(1 for m in _CODE_MARKERS if m in text), 3) / 3.0,
        min(maths, 4) / 4.0,
        min(cues[_CUE_SLOT["multistep"]], 6) / 6.0,
        _log_scale(len(_SENTENCE.findall(text)), 20),
        1.0 if len(choices) >= 3 else 0.0,
        numeric / len(choices) if len(choices) >= 3 else 0.0,
        _log_scale(choice_len, 200),
        1.0 if any(w in text for w in _NEGATIONS) else 0.0,
    ]
    out += [min(cues[_CUE_SLOT[name]], 3) / 3.0 for name in _TASKS]
    out += [min(cues[_CUE_SLOT[name]], 3) / 3.0 for name in _DOMAINS]
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
