"""The intent classifier: character n-gram and word TF-IDF, a linear model (scikit-learn).

Trained at start-up from the registered intents' example utterances (slot placeholders kept
as placeholders: messages are masked the same way before they are scored), plus a few
"none" examples so that chatter is not forced into an intent. Deterministic: the same
examples give the same model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

NONE = "__none__"
SHARPNESS = 4.0  # softmax temperature on the SVM's margins
WORD_WEIGHT = 0.7  # weight of the word features against the character n-grams
# Placeholders as the classifier sees them (customers alike; {text} is free text).
MASKS = {"company": "xcustomerx", "contact": "xcustomerx", "customer": "xcustomerx",
         "product": "xproductx", "department": "xdeptx", "region": "xregionx",
         "date": "xdatex", "amount": "xamountx", "number": "xnumberx",
         "reference": "xcustomerx"}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

# Free text in the examples ("search {text}") is filled with these, so that the classifier
# learns the words around it, not the filler.
TEXT_FILLERS = (
    "pricing policy", "kebijakan diskon", "warranty terms", "prosedur klaim garansi",
    "expense form", "form reimburse", "call xcustomerx", "kirim brosur ke xcustomerx",
    "follow up the offer", "cek stok gudang", "sla support", "katalog produk terbaru",
    "the proposal", "kirim penawaran", "contract renewal", "cek invoice", "send the quote",
    "meeting di kantor", "the demo", "jadwal servis", "xdeptx approval",
    "xproductx datasheet", "garansi xproductx", "kebijakan xdeptx", "sales director",
    "xproductx installation", "harga xproductx", "xregionx office", "discount approval",
    "proposal template", "template penawaran",
)
# Chatter that asks for nothing the bot does.
NONE_EXAMPLES = (
    "ok", "okay", "oke", "sip", "siap", "noted", "lol", "haha", "wkwk", "hmm", "test",
    "tes tes", "asdf", "qwerty", "yes", "no", "ya", "tidak", "the weather is nice today",
    "lagi hujan nih", "macet banget", "i'm hungry", "lapar nih", "good job team",
    "mantap", "nice", "cool", "see you", "sampai jumpa", "bye", "dadah", "hmm not sure",
    "what?", "apa?", "eh", "hah", "wait", "bentar", "nanti aja", "never mind", "gak jadi",
    "sorry", "maaf", "who are you", "kamu siapa", "are you a robot", "kamu robot ya",
    "i love this", "keren", "why", "kenapa", "lagi di jalan", "on my way home",
    "the traffic is bad today", "it is raining again", "my car broke down", "ban bocor nih",
    "i am tired", "capek banget hari ini", "the coffee here is great", "kopinya enak",
    "what is the meaning of life", "tell me a joke", "ceritain lelucon dong",
    "are you there", "kamu di sana?", "blah blah blah", "bla bla", "random text here",
    "the meeting room is cold", "listriknya mati", "wifi is down", "sinyal jelek banget",
    "my phone battery is low", "hp saya lowbat", "happy birthday", "selamat ulang tahun",
    "let's go", "ayo", "good night", "selamat tidur", "i will be late", "saya telat nih",
    "how are you doing", "gimana kabarnya", "nothing", "gak ada apa apa", "just testing",
    "cuma ngetes", "the weather is hot", "panas banget", "football tonight", "nonton bola",
    "istirahat makan siang dulu", "lunch break",
)


@dataclass(frozen=True)
class Scored:
    """The classifier's view of one message: intents with probabilities, best first."""

    ranked: tuple[tuple[str, float], ...]
    probs: dict[str, float] = field(default_factory=dict)

    @property
    def best(self) -> tuple[str, float]:
        return self.ranked[0] if self.ranked else (NONE, 1.0)

    def probability(self, intent: str) -> float:
        return self.probs.get(intent, 0.0)

    def only(self, allowed: Callable[[str], bool]) -> Scored:
        """The same scores among the intents `allowed` keeps (and "none"), renormalised: what
        a rep means by "my route today" is their day plan, not the technicians' jobs."""
        kept = [(i, p) for i, p in self.ranked if i == NONE or allowed(i)]
        total = sum(p for _, p in kept) or 1.0
        return Scored(tuple((i, p / total) for i, p in kept), self.probs)

    @property
    def second(self) -> tuple[str, float]:
        return self.ranked[1] if len(self.ranked) > 1 else (NONE, 0.0)


def mask_example(text: str, filler: str = "") -> str:
    """An example utterance as the classifier sees it (placeholders -> mask words)."""

    def sub(m: re.Match[str]) -> str:
        slot = m.group(1)
        if slot == "text":
            return filler or TEXT_FILLERS[0]
        return MASKS.get(slot, "x" + slot + "x")

    return _PLACEHOLDER.sub(sub, text).lower()


class IntentClassifier:
    """TF-IDF (character n-grams within words, and words) and logistic regression."""

    def __init__(self, examples: Sequence[tuple[str, str]]) -> None:
        """Train on (masked text, intent) pairs."""
        texts = [t for t, _ in examples] + list(NONE_EXAMPLES)
        labels = [i for _, i in examples] + [NONE] * len(NONE_EXAMPLES)
        self.classes: list[str] = sorted(set(labels))
        if len(self.classes) < 2:  # no intents declared (a bare test registry)
            self._blocks: list[Any] = []
            return
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                     min_df=1, lowercase=True, dtype=np.float32)
        self.words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                     token_pattern=r"(?u)\b\w+\b", lowercase=True,
                                     dtype=np.float32)
        x = self._features(texts, fit=True)
        # A linear SVM trains in a fraction of a second on a few thousand examples (logistic
        # regression took 5 s here); its margins become probabilities through a softmax
        # whose temperature was set on the labelled development set.
        self.model = LinearSVC(C=0.5, random_state=0)
        self.model.fit(x, labels)
        self.classes = [str(c) for c in self.model.classes_]
        self._none = self.classes.index(NONE)
        # Scoring one message by hand (the same n-grams, tf-idf and weights) is ~20x cheaper
        # than sklearn's transform, whose input validation dominates for a single message.
        coef = self.model.coef_.T.astype(np.float32)
        n_chars = len(self.chars.vocabulary_)
        self._blocks = [
            (self.chars.build_analyzer(), self.chars.vocabulary_,
             self.chars.idf_.astype(np.float32), np.ascontiguousarray(coef[:n_chars]), 1.0),
            (self.words.build_analyzer(), self.words.vocabulary_,
             self.words.idf_.astype(np.float32), np.ascontiguousarray(coef[n_chars:]),
             WORD_WEIGHT),
        ]
        self._bias = self.model.intercept_.astype(np.float32)

    def _features(self, texts: Iterable[str], fit: bool = False) -> sparse.csr_matrix:
        texts = list(texts)
        if fit:
            a = self.chars.fit_transform(texts)
            b = self.words.fit_transform(texts)
        else:
            a = self.chars.transform(texts)
            b = self.words.transform(texts)
        return sparse.hstack([a, b * WORD_WEIGHT], format="csr")

    def score(self, masked: str) -> Scored:
        """Probabilities of every intent for one masked message, best first."""
        if not self._blocks:
            return Scored(((NONE, 1.0),))
        logits = self._bias.copy()
        for analyzer, vocabulary, idf, coef, weight in self._blocks:
            counts: dict[int, int] = {}
            for gram in analyzer(masked):
                col = vocabulary.get(gram)
                if col is not None:
                    counts[col] = counts.get(col, 0) + 1
            if not counts:
                continue
            cols = np.fromiter(counts.keys(), np.intp, len(counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), np.float32, len(counts)))
            w = tf * idf[cols]
            w *= weight / float(np.sqrt(np.dot(w, w)))
            logits += w @ coef[cols]
        logits = logits * SHARPNESS
        logits -= logits.max()
        probs = np.exp(logits)
        probs /= probs.sum()
        order = np.argsort(-probs)  # all of them: a role filter may drop the first few
        return Scored(tuple((self.classes[i], float(probs[i])) for i in order),
                      {NONE: float(probs[self._none])})
