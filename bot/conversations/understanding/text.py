"""Words of a message: tokens with their place in the text, folding, and its language."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_WORD = re.compile(r"[^\W_]+(?:[.'’\-/][^\W_]+)*", re.UNICODE)


@dataclass(frozen=True)
class Token:
    """One word: its folded form (lower case, no diacritics) and where it is in the text."""

    norm: str
    start: int
    end: int


def fold(text: str) -> str:
    """Lower case without diacritics ("Café" -> "cafe")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def tokens(text: str) -> list[Token]:
    """The words of `text` ("Hadi's" -> "hadi", "SRV-X1" -> "srv-x1", "-nya" kept)."""
    out: list[Token] = []
    for m in _WORD.finditer(text):
        word = fold(m.group()).replace("’", "'")
        end = m.end()
        if word.endswith("'s"):
            word, end = word[:-2], end - 2
        elif word.endswith("'"):
            word, end = word[:-1], end - 1
        if word:
            out.append(Token(word, m.start(), end))
    return out


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that only one of the two languages uses at work (chat spelling included).
_ID_WORDS = _words("""
siapa yang apa apakah kapan dimana mana kemana berapa bagaimana gimana gmn kenapa
mengapa saya aku gue gw kita kami kamu anda bapak ibu pak bu mas mbak di ke dari untuk
buat dengan dan atau tapi juga sudah udah belum blm sedang lagi akan mau ingin pengen
tolong mohon coba dong ya yah nih sih deh kok kah lah tuh aja saja banget ini itu
tersebut nya punya milik tagihan alamat kantor nomor telepon telp hp nomer kunjungan
ketemu bertemu barusan tadi habis abis besok lusa kemarin hari minggu bulan tahun depan
lalu ini jam pagi siang sore malam sekarang nanti terakhir berikutnya selanjutnya catat
catatan cari carikan tampilkan tunjukkan lihat liat kirim kirimkan buatkan bikin
penawaran harga peluang laporan pekerjaan tugas jadwal agenda pengingat ingatkan ingetin
keluhan komplain pengiriman pelanggan klien perusahaan kontak menangani pegang megang
mengurus urus pic penanggung jawab agen penjualan bagian divisi departemen pembelian
keuangan pemasaran produk brosur sasaran target promosi wilayah daerah tim semua saja
baru tambah tambahkan ubah ganti hapus batal terima kasih makasih halo hai selamat bisa
boleh tidak nggak gak ga enggak ada adakah kah aja sampai sampe tentang soal mengenai
dokumen berkas kebijakan garansi pembayaran dikirim dialamatkan ditagih membayar bayar
konfigurasi solusi rakit rancang susun kebutuhan sesuaikan ruang kamar rencanakan rute
terdekat dekat sekitar kunjungi pelanggannya
yg utk tdk gk sdh udh dgn krn karena kalau kalo klo sy aq gua bgt brp kpn jg sm td
masih harus hrs perlu lewat telat terlambat selesai beres kerjaan naikin gagal kalah
buatin bikinin tolongin kasih minta daftar kebanyakan akun atur ulang pembagian lokasi
titik profil telpon nelpon ditelpon barang rusak servis persetujuan trims makasi pakai
pakainya cara buka namanya dobel ganda gabung gabungin digabung gabungkan anak buah tahap
sudahkah gimana sih mana aja kasih tau tahu kabar siapa saja punya bos caranya tampilin
cariin majukan pilih lain tandai mundur antrian panduan pasang kecewa protes tentukan
tanggal tawaran tugaskan kuartal perkiraan siapkan saran kiriman banyak macet hujan lapar
laper makan minum
""")
_EN_WORDS = _words("""
who whom whose what which when where why how is are was were am be been do does did done
have has had i me my mine we our us you your he she they them their it its the a an this
that these those of to for from with at in on by about and or but also already just not
please can could would should will shall may might let show tell give get find search
handles handle handling manage manages charge owner owns account rep sales agent person
contact contacts phone number mobile email bill bills invoice invoices billing office
pays address visit visited meeting met call called log record note today tomorrow
yesterday week month year next last ago day morning afternoon evening tonight now later
remind me reminder deal deals pipeline quote quotes quotation price report reports job
jobs route schedule agenda plan new add create make send sent brochure brochures
material customers customer clients client company companies target promote promotion
product products department team region area all any some yes no thanks thank hello hi
hey good just saw configure configuration solution solutions design needs plan route
near nearby around
task tasks overdue late still need should much many sell sold won lost open move
as into there here duplicate duplicates merge twice workload overloaded coverage
calendar sign approval logged using use cheers helps help got off see seen buy pitch
anything something nothing everything document documents policy warranty claim repair
technician dispatch write put together setup map pin location details working
""")
# English words Indonesian reps use as their own at work ("pipeline saya", "deal baru",
# "follow up besok"): they tell no language.
_LOANWORDS = _words("""
pipeline deal deals target agenda meeting follow up email invoice update report closing
stage pending
""")
_SHARED = (_ID_WORDS & _EN_WORDS) | _LOANWORDS
COMMON_WORDS = _ID_WORDS | _EN_WORDS  # a word of either list is no name
_STEMS = COMMON_WORDS | _LOANWORDS


def _suffixed(word: str) -> bool:
    """A known word with the Indonesian "-nya" ("peluangnya", "servisnya", "invoicenya")."""
    return word.endswith("nya") and word[:-3] in _STEMS


def language_of(words: list[str], length: int) -> str | None:
    """"en" or "id" when the words say so clearly, else None: a message of fewer than three
    words ("terima kasih", "ok thanks") or a mixed one keeps the user's own language."""
    if length < 3:
        return None
    en = sum(1 for w in words if w in _EN_WORDS and w not in _SHARED)
    idn = sum(1 for w in words if (w in _ID_WORDS and w not in _SHARED) or _suffixed(w))
    if en + idn < 2 and not (en + idn == 1 and len(words) <= 2):
        # One clear word is enough only when it is (nearly) all the message has besides the
        # names it mentions: "konfigurasi Sinar Jaya", "buat Sinar Jaya Abadi".
        return None
    if idn >= 2 * en + 1:
        return "id"
    if en >= 2 * idn + 1:
        return "en"
    return None
