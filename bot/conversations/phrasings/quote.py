"""How reps ask for price quotes."""

from bot.conversations.understanding import Phrasings
from bot.i18n import N_

PHRASINGS = (
    Phrasings(
        "quote", flow="quote", slots=("customer", "product", "number"),
        label=N_("Make a quote for {customer}"),
        en=("quote for {customer}", "make a quote for {customer}", "new quote for {customer}",
            "create a quotation for {customer}", "I need a quote for {customer}",
            "price quote for {customer}", "quote {product} for {customer}",
            "prepare an offer for {customer}", "quotation to {customer}",
            "can you price {product} for {customer}", "draft a quote", "make a quote",
            "send {customer} a quote", "pricing for {customer}", "I want to quote {customer}",
            "new quotation",
            "offer for {customer}",
            "begin a quotation"),
        id=("penawaran untuk {customer}", "buat penawaran untuk {customer}",
            "bikin penawaran harga ke {customer}", "buatkan quotation {customer}",
            "penawaran harga {customer}", "minta penawaran buat {customer}",
            "tolong buat quote untuk {customer}", "bikin quote {customer}",
            "penawaran {product} untuk {customer}", "harga {product} buat {customer}",
            "buat penawaran", "bikin penawaran baru", "quotation baru untuk {customer}",
            "kirim penawaran ke {customer}", "susun penawaran {customer}",
            "tawarkan harga ke {customer}")),
    Phrasings(
        "quotes", flow="quotes", label=N_("Your quotes"),
        en=("my quotes", "show my quotes", "recent quotes", "list of quotes",
            "which quotes are open", "quotes waiting for approval", "my quotations",
            "status of my quotes", "quotes I sent", "open quotes", "any quote accepted?",
            "show quotations", "what quotes do I have", "pending quotes", "quote list"),
        id=("penawaran saya", "daftar penawaran", "penawaran terbaru", "quotation saya",
            "status penawaran saya", "penawaran yang masih terbuka", "lihat penawaran saya",
            "penawaran yang menunggu persetujuan", "penawaran apa aja yang sudah saya kirim",
            "list penawaran", "quote saya", "penawaran yang pending",
            "ada penawaran yang diterima?", "tampilkan quotation", "penawaran-penawaran saya")),
)
