"""Documents, mailing suggestions and the agenda."""

from bot.conversations.understanding import Phrasings
from bot.i18n import N_

PHRASINGS = (
    Phrasings(
        "proposal", flow="proposal", slots=("company",), label=N_("A proposal for {customer}"),
        en=("proposal for {company}", "make a proposal for {company}",
            "draft a proposal for {company}", "contract summary for {company}",
            "prepare the proposal for {company}", "I need a proposal for {company}",
            "generate a proposal", "proposal document for {company}",
            "write a proposal to {company}", "create the contract summary for {company}",
            "proposal pdf {company}", "send me the proposal for {company}", "new proposal",
            "make the contract summary", "presentation proposal for {company}"),
        id=("proposal untuk {company}", "buatkan proposal untuk {company}",
            "bikin proposal {company}", "ringkasan kontrak {company}",
            "siapkan proposal {company}", "saya butuh proposal untuk {company}", "buat proposal",
            "dokumen proposal {company}", "tolong bikin proposal buat {company}",
            "buat ringkasan kontrak untuk {company}", "proposal {company} dong", "proposal baru",
            "minta proposal {company}", "susun proposal untuk {company}", "ringkasan kontrak")),
    Phrasings(
        "what_to_send", flow="what_to_send", slots=("date",), label=N_("What to send"),
        en=("what should I send?", "mailing suggestions", "who should get a brochure",
            "what mail should go out", "who needs a follow-up mail", "any mailings due?",
            "who should I send material to", "suggest mailings", "what do I send next",
            "which customers need a thank-you", "send suggestions", "what's left to send",
            "who do I owe a brochure", "mailing list for today", "what should go out today",
            "who needs a thank-you", "what has to go out {date}", "who's due a thank-you"),
        id=("apa yang harus saya kirim?", "apa yang perlu saya kirim", "saran kiriman",
            "siapa yang perlu dikirimi brosur", "siapa yang perlu dapat email follow up",
            "kiriman apa yang belum", "saran mailing", "siapa yang harus saya kirimi materi",
            "apa yang perlu dikirim hari ini", "siapa yang perlu ucapan terima kasih",
            "kirim apa ke siapa", "daftar kiriman", "brosur ke siapa lagi",
            "apa yang belum terkirim", "saran email ke pelanggan", "apa yang perlu dikirim {date}",
            "siapa yang perlu dikirimi terima kasih")),
    Phrasings(
        "my_week", flow="my_week", slots=("date",), label=N_("Your agenda"),
        en=("what do I have {date}?", "what's on {date}", "my agenda", "my week",
            "what's my schedule {date}", "agenda for {date}", "what's on my plate {date}",
            "my schedule", "what do I need to do {date}", "what's next",
            "anything planned {date}?", "my calendar", "show my agenda {date}",
            "what meetings do I have {date}", "what's my day like", "plan for {date}",
            "whats up {date}", "what do I do {date}",
            "how does {date} look", "what visits do I have {date}",
            "who am I seeing {date}"),
        id=("jadwal saya {date}", "agenda saya", "agenda {date}", "jadwal saya hari ini",
            "apa saja jadwal saya {date}", "hari ini ada apa aja", "kegiatan saya {date}",
            "apa yang harus saya lakukan {date}", "jadwal {date} apa aja", "minggu saya",
            "acara saya {date}", "ada janji apa {date}", "kalender saya", "rencana {date}",
            "agenda {date} apa ya", "saya ada meeting apa {date}", "jadwalku {date}",
            "hari ini ngapain aja", "habis ini ke mana ya", "ada kunjungan apa {date}",
            "kunjungan apa aja {date}")),
)
