"""Complaints, as reps ask for them."""

from bot.conversations.understanding import Phrasings
from bot.i18n import N_

PHRASINGS = (
    Phrasings(
        "complaint", flow="complaint", slots=("company", "text"),
        label=N_("Register a complaint from {customer}"),
        en=("complaint from {company}", "register a complaint for {company}",
            "{company} complained about {text}", "{company} has a complaint",
            "log a complaint from {company}", "new complaint {company}", "customer complaint",
            "{company} is unhappy about {text}", "record a complaint",
            "file a complaint for {company}", "{company} is complaining",
            "complaint about {text} from {company}", "open a complaint for {company}",
            "{company} reported a problem with {text}", "register complaint"),
        id=("keluhan dari {company}", "catat keluhan {company}", "{company} komplain soal {text}",
            "{company} mengeluh", "ada komplain dari {company}", "komplain {company}",
            "daftarkan keluhan {company}", "pelanggan komplain", "catat komplain",
            "{company} nggak puas soal {text}", "keluhan baru", "buat keluhan untuk {company}",
            "{company} lapor masalah {text}", "{company} protes soal {text}",
            "ada keluhan pelanggan")),
    Phrasings(
        "complaints", flow="complaints", label=N_("Open complaints"),
        en=("open complaints", "show complaints", "list complaints", "my complaints",
            "which complaints are open", "complaints waiting", "unresolved complaints",
            "any complaints?", "complaints list", "customer complaints open",
            "what complaints do we have", "pending complaints", "complaints to handle",
            "show open complaints", "outstanding complaints",
            "which customers complained", "who has complained recently",
            "customers with open complaints", "complaints not yet resolved"),
        id=("keluhan yang masih terbuka", "daftar keluhan", "keluhan saya",
            "komplain yang belum beres", "lihat keluhan", "ada keluhan apa aja", "keluhan terbuka",
            "komplain pending", "daftar komplain", "keluhan pelanggan yang belum selesai",
            "keluhan yang harus ditangani", "komplain apa saja", "tampilkan keluhan",
            "keluhan belum beres", "list komplain",
            "pelanggan mana aja yang komplain", "siapa aja yang komplain")),
)
