"""How managers and reps ask for figures."""

from bot.conversations.understanding import Phrasings
from bot.i18n import N_

PHRASINGS = (
    Phrasings(
        "report", flow="report", slots=("text", "date"), label=N_("A report"),
        en=("report won by rep this quarter", "won by rep {date}", "sales by team {date}",
            "how much did we sell {date}", "revenue per territory this quarter",
            "activities by rep {date}", "how many visits did my team make {date}",
            "which rep made the most visits {date}", "who sold the most {date}",
            "funnel conversion this quarter", "weighted pipeline by stage",
            "forecast for this quarter", "win loss by reason this year",
            "quote conversion by rep this quarter", "first time fix rate by technician {date}",
            "average deal age by stage", "new leads per month", "sales report", "show me a report",
            "report", "sales figures {date}", "top customers by revenue this year",
            "how did we do {date}", "activity levels by team", "response times of technicians",
            "wins and losses {date}", "weighted pipeline by rep",
            "pipeline value per territory {date}"),
        id=("laporan penjualan {date}", "penjualan per rep kuartal ini", "laporan",
            "omzet per tim {date}", "penjualan per wilayah tahun ini", "aktivitas per rep {date}",
            "berapa kunjungan tim {date}", "konversi penawaran per tim",
            "konversi funnel kuartal ini", "pipeline tertimbang per tahap",
            "perkiraan penjualan kuartal ini", "menang kalah per alasan tahun ini",
            "laporan aktivitas per sales", "waktu respon teknisi", "lead baru per bulan",
            "umur deal per tahap", "berapa penjualan kita {date}", "tolong bikin laporan",
            "laporan omzet {date}", "pelanggan terbesar per omzet tahun ini",
            "kinerja teknisi {date}", "laporan kunjungan per tim", "rekap penjualan {date}",
            "angka penjualan {date}", "pipeline tertimbang per wilayah",
            "nilai pipeline per rep", "siapa sales yang paling banyak kunjungan {date}",
            "siapa yang jualan paling banyak {date}")),
    Phrasings(
        "reports", flow="reports", label=N_("Your saved reports"),
        en=("my saved reports", "saved reports", "my report templates", "show saved reports",
            "list my reports", "report templates", "my reports", "reports I saved",
            "open a saved report", "which reports did I save", "favourite reports",
            "run my saved report", "stored reports", "my report list", "templates of reports"),
        id=("laporan tersimpan", "laporan yang saya simpan", "template laporan",
            "daftar laporan saya", "laporan saya", "lihat laporan tersimpan", "laporan favorit",
            "buka laporan tersimpan", "template laporan saya", "laporan yang disimpan",
            "jalankan laporan tersimpan", "list laporan saya", "simpanan laporan",
            "laporan-laporan saya", "daftar template laporan")),
)
