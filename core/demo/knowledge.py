"""Demo data of this area: a small realistic document library in English and Indonesian."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.demo.world import DemoWorld
from core.knowledge import add_document

# (file name, title, type, tags, status, owner login, markdown text)
LIBRARY: tuple[tuple[str, str, str, tuple[str, ...], str, str, str], ...] = (
    ("sales-policy-book.md", "Sales policy book", "policy", ("policy", "sales", "handbook"),
     "published", "admin", """# Sales policy book (2026 edition)

## 1. Customer visits
Every rep plans visits one week ahead and logs each visit or call the same day. A visit
without a logged outcome does not count towards the monthly target.

## 2. Discounts and approvals
Reps may give up to 5 percent discount on list prices on their own. Discounts above
5 percent and up to 15 percent need the team manager's approval. Anything above 15 percent
needs the sales director. Never promise a discount before the approval arrives.

## 3. Contracts
Contracts above IDR 500,000,000 need the manager's approval before the order is placed.
Payment terms are 30 days net; 45 days only for key accounts with a clean payment record.

## 4. Gifts and entertainment
Gifts to customers may not exceed IDR 500,000 per person per year. Report every meal with
a customer on the expense form with the customer's name and the purpose.
"""),
    ("kebijakan-penjualan.md", "Buku kebijakan penjualan", "policy",
     ("kebijakan", "penjualan"), "published", "admin",
     """# Buku kebijakan penjualan (edisi 2026)

## 1. Kunjungan pelanggan
Setiap sales merencanakan kunjungan satu minggu sebelumnya dan mencatat setiap kunjungan
atau telepon pada hari yang sama.

## 2. Diskon dan persetujuan
Sales boleh memberikan diskon sampai 5 persen dari harga daftar. Diskon di atas 5 persen
sampai 15 persen memerlukan persetujuan manajer tim. Di atas 15 persen harus disetujui
direktur penjualan. Jangan menjanjikan diskon sebelum persetujuan diterima.

## 3. Kontrak
Kontrak di atas Rp 500.000.000 memerlukan persetujuan manajer sebelum pesanan dibuat.
Jangka waktu pembayaran 30 hari.
"""),
    ("price-rules-2026.md", "Price rules 2026", "rule", ("pricing", "discount", "price"),
     "published", "admin", """# Price rules 2026

- List prices are in IDR and exclude VAT (11 percent).
- Volume pricing: 10 units or more get the tier 2 price; 50 units or more get tier 3.
- Bundles of hardware with a service contract get 3 percent off the hardware.
- Prices quoted are valid for 30 days; after that re-check the price list.
- Price increases are announced to key accounts 60 days ahead.
- Competitor price matching needs the manager's approval and a written competitor offer.
"""),
    ("aturan-harga-2026.md", "Aturan harga 2026", "rule", ("harga", "diskon"),
     "published", "admin", """# Aturan harga 2026

- Harga daftar dalam rupiah dan belum termasuk PPN 11 persen.
- Pembelian 10 unit atau lebih mendapat harga tingkat 2; 50 unit atau lebih tingkat 3.
- Paket perangkat keras dengan kontrak layanan mendapat potongan 3 persen.
- Penawaran harga berlaku 30 hari.
- Penyesuaian harga pesaing memerlukan persetujuan manajer dan penawaran tertulis pesaing.
"""),
    ("proposal-template.md", "Proposal template: equipment supply", "proposal_template",
     ("proposal", "template"), "published", "maya", """# Proposal: {{customer}} equipment supply

Dear {{contact}},

{% if last_meeting %}
Thank you for meeting us on {{last_meeting}}. Following our discussion, we are pleased to
propose the following solution.
{% else %}
Thank you for your interest. We are pleased to propose the following solution.
{% endif %}

## Scope
{{scope}}

## Investment
{{price_table}}

Line amounts are before VAT; the VAT is added in the total above. This offer is valid until
{{quote.valid_until}}.

## Why us
Local service teams in Jakarta, Bandung and Surabaya; response within 24 hours.

Kind regards,
{{rep_name}}
"""),
    ("templat-penawaran.md", "Templat surat penawaran", "proposal_template",
     ("penawaran", "templat"), "published", "maya", """# Surat penawaran {{pelanggan}}

Dengan hormat Bapak/Ibu {{kontak}},

{% if pertemuan_terakhir %}
Terima kasih atas waktu pertemuan pada {{pertemuan_terakhir}}. Bersama surat ini kami
sampaikan penawaran harga untuk kebutuhan perusahaan Bapak/Ibu.
{% else %}
Terima kasih atas perhatian Bapak/Ibu. Bersama surat ini kami sampaikan penawaran harga
untuk kebutuhan perusahaan Bapak/Ibu.
{% endif %}

{{tabel_harga}}

Harga per baris belum termasuk PPN; PPN ditambahkan pada total di atas. Penawaran berlaku
sampai {{quote.valid_until}}.

Hormat kami,
{{nama_sales}}
"""),
    ("expense-form.md", "Travel and expense form", "expense_form", ("expense", "travel"),
     "published", "admin", """# Travel and expense claim form

Submit within 14 days after the trip. Attach receipts for every item above IDR 100,000.

| Date | Customer / purpose | Transport | Hotel | Meals | Other | Total |
|------|--------------------|-----------|-------|-------|-------|-------|

Hotel limit: IDR 900,000 per night in Jakarta, IDR 700,000 elsewhere.
Meals with customers: name the customer and the purpose of the meeting.
Approved by the team manager; paid with the next salary.
"""),
    ("formulir-biaya.md", "Formulir klaim biaya perjalanan", "expense_form",
     ("biaya", "perjalanan"), "published", "admin", """# Formulir klaim biaya perjalanan

Ajukan paling lambat 14 hari setelah perjalanan. Lampirkan kuitansi untuk setiap
pengeluaran di atas Rp 100.000. Batas hotel Rp 900.000 per malam di Jakarta.
Makan bersama pelanggan: tulis nama pelanggan dan tujuan pertemuan.
"""),
    ("phone-list.md", "Office phone list", "phone_list", ("phone", "contacts"),
     "published", "admin", """# Office phone list

| Name | Role | Phone |
|------|------|-------|
| Maya Wijaya | Manager Java West | +62 812 1000 2001 |
| Hendra Gunawan | Manager Java East | +62 812 1000 2002 |
| Service desk | Technicians dispatch | +62 21 555 0100 |
| Finance | Invoices and payments | +62 21 555 0120 |
| IT helpdesk | Laptops and accounts | +62 21 555 0130 |
"""),
    ("sales-report-2025.md", "Sales report 2025", "sales_report", ("report", "2025"),
     "published", "maya", """# Sales report 2025

Revenue grew 12 percent to IDR 48.2 billion. Manufacturing remained the largest industry
(41 percent), followed by retail (22 percent) and logistics (15 percent).

Java West closed 184 deals; average deal size IDR 142 million; win rate 31 percent.
Java East closed 151 deals; win rate 28 percent.

Lessons: quotes sent within 24 hours of the visit won twice as often. Discounts above
10 percent did not improve the win rate.
"""),
    ("laporan-penjualan-2025.md", "Laporan penjualan 2025", "sales_report",
     ("laporan", "2025"), "published", "maya", """# Laporan penjualan 2025

Pendapatan naik 12 persen menjadi Rp 48,2 miliar. Industri manufaktur tetap terbesar.
Penawaran yang dikirim dalam 24 jam setelah kunjungan dua kali lebih sering menang.
"""),
    ("product-presentation.md", "Product presentation 2026", "presentation",
     ("presentation", "product"), "published", "maya", """# Product presentation 2026

Slide 1: Who we are: industrial equipment and service since 2004.
Slide 2: Product lines: compressors, generators, conveyor systems.
Slide 3: Service: 24-hour response, preventive maintenance contracts.
Slide 4: References: PT Sinar Jaya Abadi, and 300 other customers.
"""),
    ("q3-pricing-draft.md", "Q3 pricing changes (draft)", "rule", ("pricing", "draft"),
     "draft", "maya", """# Q3 pricing changes (draft)

Proposal: raise compressor list prices by 4 percent from 1 July. Not final; do not share
with customers.
"""),
)


def seed(session: Session, world: DemoWorld) -> None:
    """Add the demo library (markdown files kept in the database, like an upload)."""
    for filename, title, doc_type, tags, status, owner_login, text in LIBRARY:
        owner = world.users.get(owner_login) or world.users.get("admin")
        body = text.strip() + "\n"
        add_document(session, title=title, text=body, owner=owner, now=world.now,
                     doc_type=doc_type, tags=tags, status=status, source="demo",
                     filename=filename, mime="text/markdown", content=body.encode(),
                     note="demo library")
