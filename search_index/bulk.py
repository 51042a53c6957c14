"""A Whoosh segment writer for loading an empty index in bulk (`sfa index rebuild`).

Whoosh's own writer pushes every posting through a sorting pool (a tuple per posting,
spilled to temporary run files and merged back), reads each posting's field length back
from disk while writing the postings, and analyses text token by token through a chain of
generators. For a fresh build none of that is needed: the postings arrive in document
order, so they are kept in memory per term (compact arrays), the text fields are analysed
with `search_index.analysis.text_terms` (the same terms as the analysers, counted in one
pass), and the posting lists are written block by block at commit. The segment written is
the one Whoosh's writer would write for the same documents (tests compare them posting by
posting).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Any

from whoosh.formats import Frequency
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

TermCounter = Callable[[str], dict[str, int]]

_VALUES = [pack_uint(n) for n in range(256)]


def _freq_bytes(freq: int) -> bytes:
    return _VALUES[freq] if freq < 256 else pack_uint(freq)


def bulk_capable(schema: Any) -> bool:
    """True when every field is one the bulk writer handles exactly as Whoosh does."""
    for name in schema.names():
        field = schema[name]
        if (field.vector or field.column_type or field.separate_spelling()
                or name.startswith("_")):
            return False
    return True


class BulkSegmentWriter(SegmentWriter):  # type: ignore[misc]
    """Adds documents to a new segment without the sorting pool (fresh builds only).

    Args:
        fast_fields: text field name -> a term counter giving exactly the terms (and
            counts) the field's analyser gives; other indexed fields use `field.index`.
    """

    def __init__(self, ix: Any, *, fast_fields: dict[str, TermCounter], **kwargs: Any
                 ) -> None:
        super().__init__(ix, **kwargs)
        self._fast: dict[str, TermCounter] = {}
        for name, counter in fast_fields.items():
            field = self.schema[name]
            fmt = field.format
            if type(fmt) is Frequency and fmt.field_boost == 1.0 and field.scorable:
                self._fast[name] = counter
        # field -> term bytes -> (docnums, weights, encoded values)
        self._terms: dict[str, dict[bytes, tuple[array[int], array[float], list[bytes]]]] = {}
        # field -> docnum -> the field length as the length column will return it
        self._lengths: dict[str, dict[int, int]] = {}

    def add_document(self, **fields: Any) -> None:
        self._check_state()
        perdoc = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        names = sorted(fields)
        self._check_fields(schema, names)
        perdoc.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    terms = self._terms.get(name)
                    if terms is None:
                        terms = self._terms[name] = {}
                    fast = self._fast.get(name)
                    if fast is not None:
                        items: Any = ((text.encode("utf-8"), freq, float(freq),
                                       _freq_bytes(freq))
                                      for text, freq in fast(value).items())
                    else:
                        items = field.index(value)
                    scorable = field.scorable
                    for tbytes, freq, weight, vbytes in items:
                        if scorable:
                            length += freq
                        entry = terms.get(tbytes)
                        if entry is None:
                            entry = terms[tbytes] = (array("I"), array("f"), [])
                        entry[0].append(docnum)
                        entry[1].append(weight)
                        entry[2].append(vbytes)
                    if length:
                        lengths = self._lengths.get(name)
                        if lengths is None:
                            lengths = self._lengths[name] = {}
                        lengths[docnum] = byte_to_length(length_to_byte(length))
                perdoc.add_field(name, field, value if field.stored else None, length)
        except Exception:
            perdoc.cancel_doc()
            self._forget(docnum)
            raise
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _forget(self, docnum: int) -> None:
        """Drop the postings of a document that failed half-way."""
        for terms in self._terms.values():
            for docs, weights, values in terms.values():
                if docs and docs[-1] == docnum:
                    docs.pop()
                    weights.pop()
                    values.pop()
        for lengths in self._lengths.values():
            lengths.pop(docnum, None)

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        fieldwriter = self.fieldwriter
        for name in sorted(self._terms):
            terms = self._terms[name]
            lengths = self._lengths.get(name, {})
            fieldwriter.start_field(name, self.schema[name])
            postwriter = fieldwriter._postwriter
            limit = postwriter._blocklimit
            for tbytes in sorted(terms):
                docs, weights, values = terms[tbytes]
                if not docs:
                    continue
                fieldwriter.start_term(tbytes)
                for start in range(0, len(docs), limit):
                    if start:
                        postwriter._write_block()
                    ids = docs[start:start + limit]
                    block_weights = weights[start:start + limit]
                    postwriter._ids = ids
                    postwriter._weights = block_weights
                    postwriter._values = [v for v in values[start:start + limit] if v]
                    top = max(block_weights)
                    postwriter._maxweight = top if top > 0 else 0
                    doc_lengths = [n for n in (lengths.get(d, 0) for d in ids) if n]
                    postwriter._minlength = min(doc_lengths) if doc_lengths else None
                    postwriter._maxlength = max(doc_lengths) if doc_lengths else 0
                fieldwriter.finish_term()
            fieldwriter.finish_field()
        self._terms.clear()
        self._lengths.clear()
        fieldwriter.close()
