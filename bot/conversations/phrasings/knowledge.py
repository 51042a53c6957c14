"""How people search the document library."""

from bot.conversations.understanding import Phrasings
from bot.i18n import N_

PHRASINGS = (
    Phrasings(
        "kb", flow="kb", slots=("text",), label=N_("Search the documents"),
        en=("search {text}", "search for {text}", "find documents about {text}",
            "look up documents on {text}", "search the knowledge base for {text}",
            "is there a document about {text}", "where is the {text} document",
            "do we have anything on {text}", "any docs on {text}?", "find the {text} policy",
            "documents on {text}", "I need the {text} document", "kb {text}", "search docs {text}",
            "find me material about {text}", "what does the policy say about {text}",
            "where can I read about {text}", "find the file about {text}",
            "is there a doc on {text}", "find me the {text} list", "guide for {text}",
            "{text} document?", "what's the procedure for {text}",
            "what's the process for {text}", "how do we handle {text}",
            "how to do {text}"),
        id=("cari dokumen {text}", "cari dokumen tentang {text}", "carikan dokumen soal {text}",
            "ada dokumen tentang {text}?", "dokumen {text} di mana", "cari berkas {text}",
            "ada file soal {text} nggak", "cari di kb {text}", "dokumen mengenai {text}",
            "tolong carikan file {text}", "saya perlu dokumen {text}", "mana dokumen {text}",
            "cari materi {text}", "kebijakan soal {text} apa", "cari sop {text}",
            "dokumen {text} ada?", "cariin berkas tentang {text}", "info dokumen {text}",
            "panduan {text}", "{text} ada dimana ya", "dokumen {text} ada di mana",
            "cariin panduan {text}", "gimana prosedur {text}",
            "prosedurnya {text} gimana", "aturan {text} gimana")),
)
