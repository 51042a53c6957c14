"""A rebuild's writer: Whoosh's SegmentWriter with the postings gathered as arrays.

Whoosh's writer puts every posting through Python one at a time: a tuple into its posting
pool, pickled to disk runs and merged back (`externalsort`), then `add_posting` with a
field-length look-up. At 50k documents of ~150 words (6.4 million postings) that was most
of a rebuild's 64 s of CPU (cProfile of one sub-writer: pickle dump / load 40 %,
`add_posting` and the pool's `add` 30 %, the analysers a fifth), and each of the
multiprocessing writer's sub-writers stemmed the whole vocabulary again.

`BulkWriter` writes the same segment through Whoosh's own per-document writer (stored
fields, field lengths), field writer (term table) and postings writer (blocks), but
gathers the postings of the text fields (`WordAnalyzer`, Whoosh's Frequency format) as
arrays: each distinct token of the whole rebuild is analysed once (one table per language,
shared by the title and body fields), a document contributes its tokens' term numbers in
one C-level `map`, and the (term, document) pairs are counted and ordered by numpy at the
end. A block of 128 postings is then handed to Whoosh's `_write_block` as whole arrays.
Other indexed fields (ids, keywords) go through their field's own `index()`, as Whoosh
does. tests/search_index/test_bulk_writer.py checks that every term, posting, weight,
value, block statistic, stored field and length equals the ordinary writer's.

Every SEGMENT_DOCS documents the segment is finished and a new one started (memory stays
bounded: ~4 bytes per token until then); the commit publishes them all at once, so a
failed rebuild leaves the index as it was.
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np
from whoosh.codec import default_codec
from whoosh.codec.whoosh3 import W3Codec, W3PostingsWriter
from whoosh.formats import Frequency
from whoosh.system import emptybytes
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import NO_MERGE, SegmentWriter

from search_index.analysis import WordAnalyzer

SEGMENT_DOCS = 100_000  # documents per segment of a rebuild
_LENGTH_BYTES = np.array([byte_to_length(b) for b in range(256)], dtype=np.int64)
_LONGEST = 106374  # length_to_byte gives 255 from here on


class _Terms:
    """The tokens of one analyser's fields: each distinct token analysed once for the whole
    build, and counted (for the spelling vocabulary) where its text is ASCII."""

    def __init__(self, analyzer: WordAnalyzer) -> None:
        self.analyzer = analyzer
        self.of_token: dict[str, int] = {}  # token -> token number
        self.tokens: list[str] = []  # token number -> token
        self.term_of = array("i")  # token number -> term number, -1 when dropped
        self.dropped = bytearray()  # token number -> 1 when dropped
        self.numbers: dict[str, int] = {}  # term -> term number
        self.texts: list[str] = []  # term number -> term
        self.counts = np.zeros(0, dtype=np.int64)  # token number -> times seen (ASCII)
        self.whole: list[str] = []  # the values that are not ASCII, not counted by token

    def lookup(self, tokens: list[str]) -> list[int]:
        """The token numbers of `tokens`."""
        of_token = self.of_token
        try:
            return list(map(of_token.__getitem__, tokens))
        except KeyError:
            for token in tokens:
                if token not in of_token:
                    of_token[token] = len(self.tokens)
                    self.tokens.append(token)
                    number = self._number(self.analyzer.term(token))
                    self.term_of.append(number)
                    self.dropped.append(number < 0)
            return list(map(of_token.__getitem__, tokens))

    def _number(self, term: str | None) -> int:
        if term is None:
            return -1
        number = self.numbers.get(term)
        if number is None:
            number = self.numbers[term] = len(self.texts)
            self.texts.append(term)
        return number

    def count(self, token_numbers: Any) -> None:
        seen = np.bincount(token_numbers, minlength=len(self.tokens))
        seen[:len(self.counts)] += self.counts
        self.counts = seen


class _TextField:
    """The postings of one text field of the segment being written, as token runs."""

    def __init__(self, terms: _Terms, boost: float) -> None:
        self.terms = terms
        self.boost = boost
        self.clear()

    def clear(self) -> None:
        self.ids = array("i")  # every token's number, document after document
        self.docnums = array("i")  # the documents that have the field
        self.counts = array("i")  # and how many tokens each
        self.ascii = array("b")  # and whether the value is ASCII

    def add(self, docnum: int, value: str) -> int:
        """Add a document's value; returns its field length (tokens kept)."""
        terms = self.terms
        numbers = terms.lookup(terms.analyzer.tokens(value))
        self.ids.extend(numbers)
        self.docnums.append(docnum)
        self.counts.append(len(numbers))
        ascii = value.isascii()
        self.ascii.append(ascii)
        if not ascii:
            terms.whole.append(value)
        return len(numbers) - sum(map(terms.dropped.__getitem__, numbers))

    def postings(self, ndocs: int) -> _Postings | None:
        """The field's postings, ordered by term number then document (None if none);
        its ASCII values' tokens are counted."""
        tokens = np.frombuffer(self.ids, dtype=np.intc)
        counts = np.frombuffer(self.counts, dtype=np.intc)
        self.terms.count(tokens[np.repeat(np.frombuffer(self.ascii, dtype=np.int8),
                                          counts).astype(bool)])
        ids = np.frombuffer(self.terms.term_of, dtype=np.intc)[tokens].astype(np.int64)
        docs = np.repeat(np.frombuffer(self.docnums, dtype=np.intc), counts)
        kept = ids >= 0
        if not kept.any():
            return None
        ids, docs = ids[kept], docs[kept]
        # the field length of each document as Whoosh reads it back (through a byte)
        exact = np.bincount(docs, minlength=ndocs)
        lengths = _LENGTH_BYTES[np.where(exact >= _LONGEST, 255,
                                         np.searchsorted(_LENGTH_BYTES, exact))]
        pairs, freqs = np.unique(ids * ndocs + docs, return_counts=True)
        return _Postings(pairs // ndocs, (pairs % ndocs).astype(np.uint32),
                         (freqs * self.boost).astype(np.float32), freqs.astype(">u4"),
                         lengths)


class _Postings:
    """One text field's postings as arrays: term numbers (ascending), documents, weights,
    Frequency's values (the frequency as pack_uint writes it), and the field length of
    every document of the segment (as Whoosh reads it back)."""

    def __init__(self, terms: Any, docnums: Any, weights: Any, values: Any,
                 lengths: Any) -> None:
        self.terms, self.docnums, self.weights = terms, docnums, weights
        self.values, self.lengths = values, lengths

    def write(self, fieldwriter: Any, texts: list[str]) -> None:
        """Every term's postings, in the order of the terms' bytes."""
        codec = fieldwriter._codec
        writer = fieldwriter._postwriter = _BlockWriter(
            fieldwriter._postfile, codec._blocklimit, compression=codec._compression,
            inlinelimit=codec._inlinelimit)
        starts = np.searchsorted(self.terms, np.arange(len(texts) + 1))
        present = np.flatnonzero(np.diff(starts))
        for btext, n in sorted((texts[n].encode("utf-8"), int(n)) for n in present):
            fieldwriter.start_term(btext)
            writer.write(int(starts[n]), int(starts[n + 1]), self)
            fieldwriter.finish_term()


class _BlockWriter(W3PostingsWriter):
    """Whoosh's W3PostingsWriter fed a term's postings as arrays: it buffers a block as
    its add_posting would have (ids, weights, values, length and weight bounds) and
    minifies it the way its _mini_ids / _mini_weights do (ids delta-encoded from 0 in
    each block; weights None when all 1.0, one number when all equal), then its own
    _write_block writes the block; the last one is written by finish_postings."""

    _mini: tuple[tuple[int, ...], Any] = ((), None)

    def _mini_ids(self) -> tuple[int, ...]:
        return self._mini[0]

    def _mini_weights(self) -> Any:
        return self._mini[1]

    def write(self, start: int, end: int, postings: _Postings) -> None:
        if end - start < self._inlinelimit:  # inlined in the term info: Whoosh's way
            for i in range(start, end):
                docnum = int(postings.docnums[i])
                self.add_posting(docnum, float(postings.weights[i]),
                                 postings.values[i].tobytes(), int(postings.lengths[docnum]))
            return
        limit = self._blocklimit
        docnums = postings.docnums[start:end]
        deltas = np.diff(docnums.astype(np.int64), prepend=0)
        deltas[::limit] = docnums[::limit]  # each block starts from 0
        delta_list = deltas.tolist()
        weights = postings.weights[start:end]
        all_ones = bool((weights == 1.0).all())
        lengths = postings.lengths[docnums]
        values = postings.values[start:end]
        for block in range(0, end - start, limit):
            stop = min(block + limit, end - start)
            ids = array("I")
            ids.frombytes(docnums[block:stop].tobytes())
            self._ids = ids
            block_weights = weights[block:stop]
            self._weights = array("f", block_weights.tobytes())
            self._values = [values[block:stop].tobytes()]  # fixed size: joined as one
            self._minlength = int(lengths[block:stop].min())
            self._maxlength = int(lengths[block:stop].max())
            self._maxweight = float(block_weights.max())
            mini_weights: Any = None
            if all_ones or (block_weights == 1.0).all():
                pass
            elif (block_weights == block_weights[0]).all():
                mini_weights = float(block_weights[0])
            else:
                mini_weights = tuple(block_weights.tolist())
            self._mini = (tuple(delta_list[block:stop]), mini_weights)
            if stop < end - start:
                self._write_block()


def _fast(field: Any) -> bool:
    """Whether a field's postings can be gathered as arrays: a text field analysed by a
    WordAnalyzer into Whoosh's Frequency format (a weight and a frequency per posting)."""
    return (field.indexed and type(field.format) is Frequency
            and isinstance(field.analyzer, WordAnalyzer) and not field.vector
            and not field.separate_spelling())


class BulkWriter(SegmentWriter):
    """A SegmentWriter for many new documents at once (a rebuild); `commit` takes no
    merge options: the new segments are added as they are."""

    def __init__(self, ix: Any, *, timeout: float = 0.0, segment_docs: int = 0) -> None:
        codec = default_codec()  # SegmentWriter's; checked before it takes the index lock
        if not isinstance(codec, W3Codec):
            raise TypeError(f"BulkWriter writes Whoosh's W3 codec, not {codec!r}")
        super().__init__(ix, timeout=timeout, limitmb=1, codec=codec)  # its pool stays unused
        self.segment_docs = segment_docs or SEGMENT_DOCS
        terms: dict[str, _Terms] = {}
        self._text: dict[str, _TextField] = {}
        for name, field in self.schema.items():
            if _fast(field):
                language = field.analyzer.language
                table = terms.setdefault(language, _Terms(WordAnalyzer(language)))
                self._text[name] = _TextField(table, field.format.field_boost)
        self._index_cache: dict[str, dict[str, Any]] = {
            name: {} for name, field in self.schema.items() if not field.unique}
        self._finished: list[Any] = []  # segments written, committed with the last one
        self._reset()

    def _reset(self) -> None:
        for text in self._text.values():
            text.clear()
        # other indexed fields: (term bytes, docnum, weight, value) and scorable lengths
        self._other: dict[str, list[tuple[bytes, int, float, bytes]]] = {}
        self._other_lengths: dict[str, dict[int, int]] = {}

    def add_document(self, **fields: Any) -> None:
        """SegmentWriter.add_document, the text fields' postings gathered as arrays."""
        self._check_state()
        if any(name.startswith("_") for name in fields):
            raise ValueError("BulkWriter takes no boosts or custom stored values")
        if self.docnum >= self.segment_docs:
            self._next_segment()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        fieldnames = sorted(fields)
        self._check_fields(schema, fieldnames)
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields[fieldname]
                if value is None:
                    continue
                field = schema[fieldname]
                length = 0
                text = self._text.get(fieldname)
                if text is not None:
                    if not isinstance(value, str):
                        raise ValueError(f"{value!r} is not unicode")
                    length = text.add(docnum, value)
                elif field.indexed:
                    items, length = self._index(fieldname, field, value)
                    postings = self._other.setdefault(fieldname, [])
                    postings.extend([(tbytes, docnum, weight, vbytes)
                                     for tbytes, weight, vbytes in items])
                    if length:
                        self._other_lengths.setdefault(fieldname, {})[docnum] = length
                if field.vector:
                    vitems = sorted((t, w, v) for t, _, w, v in field.vector.word_values(
                        value, field.analyzer, mode="index"))
                    perdocwriter.add_vector_items(fieldname, field, vitems)
                perdocwriter.add_field(fieldname, field, value if field.stored else None,
                                       length)
                column = field.column_type
                if column:
                    perdocwriter.add_column_value(fieldname, column,
                                                  field.to_column_value(value))
        except ValueError:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def text_tokens(self) -> tuple[list[tuple[str, int]], list[str]]:
        """After the commit: the text fields' tokens with the times each was seen in ASCII
        values, and the values that are not ASCII (whole: lower-casing some non-ASCII
        text token by token differs from lower-casing it whole)."""
        counted: list[tuple[str, int]] = []
        whole: list[str] = []
        for terms in {id(t.terms): t.terms for t in self._text.values()}.values():
            counted.extend((terms.tokens[n], int(terms.counts[n]))
                           for n in np.flatnonzero(terms.counts))
            whole.extend(terms.whole)
        return counted, whole

    def _index(self, fieldname: str, field: Any, value: Any
               ) -> tuple[list[tuple[bytes, float, bytes]], int]:
        """What the field makes of a value: (term, weight, value) and the field length;
        remembered by value for the fields that repeat values (type, status, tags)."""
        cache = self._index_cache.get(fieldname) if isinstance(value, str) else None
        found = cache.get(value) if cache is not None else None
        if found is None:
            items, length = [], 0
            for tbytes, freq, weight, vbytes in field.index(value):
                if field.scorable:
                    length += freq
                items.append((tbytes, float(weight), vbytes))
            found = items, length
            if cache is not None and len(cache) < 4096:
                cache[value] = found
        return found

    def _next_segment(self) -> None:
        """Finish the segment being written and start another."""
        self._finished.append(self._finalize_segment())
        self.newsegment = self.codec.new_segment(self.storage, self.indexname)
        self.compound = self.newsegment.should_assemble()
        self.perdocwriter = self.codec.per_document_writer(self.storage, self.newsegment)
        self.fieldwriter = self.codec.field_writer(self.storage, self.newsegment)
        self.docnum = self.docbase = 0
        self._added = False
        self._reset()

    def commit(self, *args: Any, **kwargs: Any) -> None:
        self._check_state()
        try:
            segments = NO_MERGE(self, self.segments) + self._finished
            if self._added:
                segments.append(self._finalize_segment())
            else:
                self._close_segment()
            self._commit_toc(segments)
        except Exception:
            self._cleanup_on_error()
            raise
        self._finish()

    # -- the postings ----------------------------------------------------------------------
    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        fieldwriter = self.fieldwriter
        text = {name: t.postings(max(self.docnum, 1)) for name, t in self._text.items()}
        names = sorted({*(name for name, p in text.items() if p is not None), *self._other})
        for fieldname in names:  # in Whoosh's order: field, then term bytes, then docnum
            field = self.schema[fieldname]
            fieldwriter.start_field(fieldname, field)
            postings = text.get(fieldname)
            if postings is not None:
                postings.write(fieldwriter, self._text[fieldname].terms.texts)
            else:
                self._write_other(fieldname, field)
            fieldwriter.finish_field()
        fieldwriter.close()

    def _write_other(self, fieldname: str, field: Any) -> None:
        postings = self._other[fieldname]
        postings.sort(key=lambda p: p[0])  # stable: each term's documents stay in order
        lengths = self._other_lengths.get(fieldname, {})
        fieldwriter = self.fieldwriter
        last = None
        for tbytes, docnum, weight, vbytes in postings:
            if tbytes != last:
                if last is not None:
                    fieldwriter.finish_term()
                fieldwriter.start_term(tbytes)
                last = tbytes
            length = lengths.get(docnum, 0)
            fieldwriter.add(docnum, weight, vbytes or emptybytes,
                            byte_to_length(length_to_byte(length)) if length else 0)
        if last is not None:
            fieldwriter.finish_term()
