"""The regex intents of commit 9dfedd4 (before intents were learned from examples), kept
verbatim so benchmarks/understanding.py can score them on the same labelled set. Not used by
the product."""

from bot.conversations.flow import intent

_END = r"\s*[?.!]*\s*$"

_S = r"(?:'s|’s|'|’)"



_REPORT_PHRASES = (r"quote conversions?|quote.to.order|konversi penawaran|first.time.fix|"
                   r"response times?|on.time rate|field service|technician performance|"
                   r"waktu respons?|perbaikan pertama|kinerja teknisi|servis lapangan")


INTENTS = [
    # lookup
    intent(
        "ask_handles",
        rf"^who\s+(?:handles|is\s+in\s+charge\s+of|takes\s+care\s+of|manages)\s+"
        rf"(?P<text>.+?){_S}\s+(?P<dept>[\w-]+)(?:\s+(?:department|dept|team|division))?{_END}",
        rf"^who\s+(?:handles|is\s+in\s+charge\s+of|manages)\s+(?:the\s+)?(?P<dept>[\w-]+)"
        rf"(?:\s+(?:department|dept|team|division))?\s+(?:at|in|for|of)\s+(?P<text>.+?){_END}",
        rf"^siapa\s+(?:yang\s+)?(?:menangani|mengurus|memegang|pic)\s+"
        rf"(?:bagian|divisi|departemen)\s+(?P<dept>[\w-]+)\s+(?:di\s+|dari\s+|untuk\s+)?"
        rf"(?P<text>.+?){_END}",
        rf"^siapa\s+(?:yang\s+)?(?:menangani|mengurus|pic)\s+(?P<dept>[\w-]+)\s+"
        rf"(?:di|dari|untuk)\s+(?P<text>.+?){_END}",
        priority=20),
    # lookup
    intent(
        "ask_handles",
        rf"^who\s+(?:handles|is\s+in\s+charge\s+of|manages|owns|covers|looks\s+after)\s+"
        rf"(?:the\s+)?(?:account\s+)?(?:of\s+)?(?P<text>.+?){_END}",
        rf"^siapa\s+(?:yang\s+)?(?:menangani|mengurus|memegang|pegang)\s+(?P<text>.+?){_END}",
        priority=30),
    # lookup
    intent(
        "ask_billing",
        rf"^where\s+(?:does|do|will)\s+(?P<text>.+?){_S}\s+(?:bills?|invoices?)\s+go{_END}",
        rf"^where\s+(?:do|does|should)\s+(?:the\s+)?(?:bills?|invoices?)\s+(?:for|of)\s+"
        rf"(?P<text>.+?)\s+go{_END}",
        rf"^(?:which|what)\s+office\s+pays\s+(?:for\s+)?(?P<text>.+?){_END}",
        rf"^(?:which|what)\s+office\s+(?:of|at)\s+(?P<text>.+?)\s+pays{_END}",
        rf"^(?:billing|invoice|invoicing|delivery|head\s+office)\s+address(?:es)?\s+"
        rf"(?:of|for)\s+(?P<text>.+?){_END}",
        rf"^(?:where\s+is|where's|what\s+is|what's)\s+(?P<text>.+?){_S}\s+(?:billing|invoice|"
        rf"delivery|head\s+office)\s+address{_END}",
        rf"^(?:ke\s*mana)\s+tagihan\s+(?:untuk\s+)?(?P<text>.+?)(?:\s+dikirim)?{_END}",
        rf"^tagihan\s+(?P<text>.+?)\s+(?:dikirim\s+)?ke\s*mana{_END}",
        rf"^alamat\s+(?:tagihan|penagihan|pengiriman|kantor\s+pusat)\s+(?P<text>.+?){_END}",
        rf"^kantor\s+mana\s+(?:yang\s+)?(?:membayar|bayar)\s+(?:tagihan\s+)?(?P<text>.+?){_END}",
        priority=25),
    # lookup
    intent(
        "ask_last",
        rf"^when\s+did\s+(?:i|we)\s+last\s+(?:contact|visit|call|meet|see|talk\s+to|"
        rf"speak\s+(?:to|with)|e-?mail)\s+(?:with\s+)?(?P<text>.+?){_END}",
        rf"^when\s+was\s+(?:my|our|the)\s+last\s+(?:contact|visit|call|meeting)\s+"
        rf"(?:with|to|at)\s+(?P<text>.+?){_END}",
        rf"^last\s+contact(?:ed)?\s+(?:with\s+)?(?P<text>.+?){_END}",
        rf"^kapan\s+(?:terakhir\s+(?:kali\s+)?(?:saya|kita|aku)|(?:saya|kita|aku)\s+"
        rf"terakhir(?:\s+kali)?)\s+(?:menghubungi|hubungi|mengunjungi|kunjungi|menelepon|"
        rf"telepon|bertemu(?:\s+dengan)?|ketemu|kontak)\s+(?P<text>.+?){_END}",
        rf"^kontak\s+terakhir\s+(?:dengan\s+)?(?P<text>.+?){_END}",
        priority=25),
    # lookup
    intent(
        "ask_next",
        rf"^when\s+is\s+my\s+next\s+(?:contact|meeting|visit|call|follow[- ]?up)\s+"
        rf"(?:with|at|to)\s+(?P<text>.+?){_END}",
        rf"^when\s+(?:do|will|should)\s+i\s+(?:next\s+)?(?:contact|visit|call|meet|see)\s+"
        rf"(?P<text>.+?)\s+(?:next|again){_END}",
        rf"^next\s+(?:contact|meeting|visit|call|follow[- ]?up)\s+(?:with|at)\s+"
        rf"(?P<text>.+?){_END}",
        rf"^kapan\s+(?:kontak|jadwal|pertemuan|kunjungan|follow[- ]?up)\s+(?:saya\s+)?"
        rf"berikutnya\s+(?:dengan|ke|di)\s+(?P<text>.+?){_END}",
        rf"^kapan\s+(?:saya|kita|aku)\s+(?:menghubungi|hubungi|mengunjungi|kunjungi|bertemu|"
        rf"ketemu)\s+(?P<text>.+?)\s+lagi{_END}",
        priority=25),
    # lookup
    intent(
        "ask_brochure",
        rf"^who\s+(?:has\s+)?(?:already\s+)?(?:got|has|have|received|was\s+sent|"
        rf"were\s+sent)\s+(?:the\s+|a\s+)?(?:brochures?|materials?|leaflets?|catalog(?:ue)?s?)"
        rf"\s+(?:for|of|about|on)\s+(?P<product>.+?){_END}",
        rf"^who\s+(?:has\s+)?(?:already\s+)?(?:got|received)\s+(?:the\s+)?(?P<product>.+?)\s+"
        rf"brochures?{_END}",
        rf"^siapa\s+(?:saja\s+)?(?:yang\s+)?(?:sudah\s+)?(?:menerima|dapat|mendapat|dikirimi|"
        rf"terima)\s+brosur\s+(?P<product>.+?){_END}",
        priority=25),
    # lookup
    intent(
        "ask_targets",
        rf"^(?:(?:which|what)\s+(?:customers?|clients?|companies|accounts)|who(?:m)?\s+"
        rf"(?:should|to|can|do|could))\b.*?\btarget\w*\b.*?\b(?:for|of|with)\s+"
        rf"(?P<product>.+?){_END}",
        rf"^(?:which|what)\s+customers\b.*?\bpromot\w*\s+(?P<product>.+?){_END}",
        rf"^(?:pelanggan|customer|siapa|perusahaan)\b.*?\b(?:target\w*|sasar\w*|ditargetkan|"
        rf"disasar)\b"
        rf".*?\b(?:untuk|promosi)\s+(?P<product>.+?){_END}",
        rf"^target\s+promosi\s+(?P<product>.+?){_END}",
        priority=25),
    # lookup
    intent(
        "ask_contact",
        rf"^(?:who\s+is|who's|who\s+are)\s+(?P<text>.+?){_S}\s+(?:contacts?|contact\s+persons?|"
        rf"pic|sales\s*agent|sales\s*person|salesperson|sales|rep|account\s+manager){_END}",
        rf"^(?:what\s+is|what's)\s+(?P<text>.+?){_S}\s+(?:phone|phone\s+number|number|mobile|"
        rf"mobile\s+number|e-?mail){_END}",
        rf"^(?:phone|phone\s+number|number|mobile|contacts?|vcard)\s+(?:of|for)\s+"
        rf"(?P<text>.+?){_END}",
        rf"^(?:who\s+is\s+)?(?:the\s+)?(?:contact|contact\s+person|sales\s*agent)\s+"
        rf"(?:at|of|for)\s+(?P<text>.+?){_END}",
        rf"^siapa\s+(?:kontak|pic|sales|agen\s+sales|sales\s+agent|orang)\s+(?:di\s+|dari\s+|"
        rf"untuk\s+)?(?P<text>.+?){_END}",
        rf"^(?:kontak|pic|sales)\s+(?:di\s+|dari\s+)?(?P<text>.+?)\s+siapa{_END}",
        rf"^(?:berapa\s+)?(?:nomor|no\.?)\s+(?:telepon|telp|hp|wa|handphone|kontak)\s+"
        rf"(?P<text>.+?)(?:\s+berapa)?{_END}",
        priority=30),
    # lookup
    intent(
        "ask_company",
        rf"^(?:what\s+is|what's|tell\s+me\s+about|info\s+(?:on|about)|about|profile\s+of)\s+"
        rf"(?!(?:my|our|your|the|a|an|this|that)\b)(?:company\s+)?(?P<text>.+?){_END}",
        rf"^(?:apa\s+itu|info|informasi|profil|ceritakan\s+tentang)\s+(?:perusahaan\s+)?"
        rf"(?P<text>.+?){_END}",
        rf"^(?P<text>.+?)\s+(?:itu\s+)?perusahaan\s+apa{_END}",
        priority=60),
    # visit
    intent(
        "log_visit",
        r"^(?:log|record)\s+(?:a\s+|an\s+|my\s+)?(?P<kind>visit|call|meeting|e-?mail)"
        r"(?:\s+(?:to|at|with|for)\s+(?P<text>.+?)|\s+(?P<text2>.+?))?\s*$",
        r"^catat\s+(?P<kind>kunjungan|telepon|panggilan|rapat|pertemuan|email)"
        r"(?:\s+(?:ke|di|dengan|untuk)\s+(?P<text>.+?)|\s+(?P<text2>.+?))?\s*$",
        priority=15),
    # visit
    intent(
        "send_material",
        r"^(?:i\s+)?(?:sent|gave|send|give)\s+(?:the\s+|a\s+)?(?:brochure|leaflet|catalog(?:ue)?|"
        r"material)\s+(?:for\s+|of\s+|about\s+)?(?P<product>.+?)\s+to\s+(?P<text>.+?)\s*$",
        r"^(?:sudah\s+)?(?:kirim|mengirim|memberi|kasih)\s+brosur\s+(?P<product>.+?)\s+"
        r"(?:ke|kepada)\s+(?P<text>.+?)\s*$",
        priority=15),
    # deal
    intent("advance", r"^(?:advance|move) (?:the )?deal\b\s*(?P<deal>.*)$",
                               r"^(?:majukan|naikkan) (?:deal|peluang)\b\s*(?P<deal>.*)$",
                               priority=50),
    # deal
    intent(
        "pipeline", r"^(?:(?:show )?my )?(?:pipeline|(?:open )?deals)\??$",
        r"^(?:pipeline|deal|peluang)(?: saya)?\??$", priority=50),
    # deal
    intent("team_pipeline", r"^team pipeline(?: by (?P<by>\w+))?$",
                               r"^pipeline tim(?: per (?P<by>\w+))?$", priority=50),
    # leads
    intent("newlead", r"^new lead(?: (?:for|at) (?P<company>.+))?$",
                               r"^(?:lead|prospek) baru(?: (?:untuk|di) (?P<company>.+))?$",
                               priority=50),
    # leads
    intent("region_deals", r"^deals (?:in|of) (?P<region>[\w .-]+)$",
                               r"^deal (?:di|wilayah) (?P<region>[\w .-]+)$", priority=50),
    # quote
    intent(
        "quote", r"^(?:new |make a |create a )?(?:quote|quotation) (?:for|to) (?P<customer>.+)$",
        r"^(?:buat )?penawaran(?: harga)? (?:untuk|ke) (?P<customer>.+)$", priority=60),
    # knowledge
    intent(
        "kb", r"^(?:search|find documents?|look up documents?)\s+(?:for\s+)?(?P<text>.+)$",
        r"^(?:cari|carikan)\s+(?:dokumen|berkas|file)\s+(?:tentang\s+)?(?P<text>.+)$",
        priority=90),
    # followups
    intent(
        "remind", r"^(?:please\s+)?remind me\b\s*(?P<text>.*)$",
        r"^(?:set|add)\s+(?:a\s+)?reminder\b\s*(?:to|for)?\s*(?P<text>.*)$",
        r"^(?:tolong\s+)?ingatkan(?:\s+(?:saya|aku))?\b\s*(?P<text>.*)$", priority=30),
    # followups
    intent(
        "complaint",
        r"^(?:register\s+(?:a\s+)?)?complaint\s+(?:from|by|of)\s+(?P<company>.+)$",
        r"^(?:catat\s+)?keluhan\s+(?:dari\s+)?(?P<company>.+)$", priority=40),
    # followups
    intent(
        "reminders", r"^(?:my\s+)?(?:reminders|follow-?ups)\??$",
        r"^(?:pengingat|tindak lanjut)(?:\s+saya)?\??$", priority=60),
    # jobs
    intent(
        "jobs", r"^(?:my )?jobs?(?: today)?\??$", r"^(?:pekerjaan|tugas)(?: saya)?"
        r"(?: hari ini)?\??$", r"^(?:my )?route(?: today)?\??$"),
    # reports
    intent(
        "report",
        r"^(?:report|laporan)\b\s*(?P<text>.+)$",
        r"^(?P<text>(?:won|sales|penjualan|activities|aktivitas|funnel|pipeline|forecast)"
        r"\b.*\b(?:by|per)\b.+)$",
        rf"^(?P<text>(?:{_REPORT_PHRASES})\b.*)$",
        priority=50),
    # documents
    intent(
        "proposal", r"^(?:a )?(?:proposal|contract summary|document) for (?P<text>.+)$",
        r"^(?:proposal|proposal penawaran|ringkasan kontrak|dokumen) untuk (?P<text>.+)$",
        priority=40),
    # documents
    intent(
        "what_to_send", r"^what (?:should|do) i send\??$", r"^mailing suggestions?$",
        r"^apa yang (?:harus|perlu) saya kirim\??$", priority=40),
    # documents
    intent(
        "my_week", r"^(?:my week|my agenda|agenda|what'?s (?:on )?my week|this week'?s plan)"
                   r"\??$",
        r"^(?:today|my day|today'?s plan|plan for today|what'?s (?:on )?(?:for )?today"
        r"|what (?:should|do) i do today|what'?s next)\??$",
        r"^(?:minggu saya|agenda saya|jadwal saya|jadwal minggu ini|hari ini|rencana hari ini"
        r"|apa yang (?:harus|perlu) saya (?:lakukan|kerjakan) hari ini)\??$", priority=40),
    # admin
    intent(
        "greet", r"^(?:hi|hello|hey|hai|halo|hallo|good (?:morning|afternoon|evening)|"
                 r"selamat (?:pagi|siang|sore|malam)|pagi|assalamu'?alaikum)"
                 r"\b[\s!.,]*\w{0,12}[!.]*$",
        r"^(?P<thanks>thanks?|thank you|thx|ty|terima ?kasih|makasih|trims|ok(?:ay)? thanks?)"
        r"\b[\s!.,]*\w{0,12}[!.]*$", priority=90),
]
# Anything else went to the lookup with the whole text.
FALLBACK = "lookup"
