"""Promised deliveries, as reps ask for them."""

from bot.conversations.understanding import Phrasings
from bot.i18n import N_

PHRASINGS = (
    Phrasings(
        "delivery", flow="delivery", slots=("company", "date"),
        label=N_("Schedule a delivery to {customer}"),
        en=("schedule a delivery to {company}", "delivery for {company} {date}",
            "plan a delivery to {company}", "ship to {company} {date}",
            "new delivery for {company}", "book a delivery", "arrange delivery to {company}",
            "deliver to {company} {date}", "set up a delivery for {company}",
            "delivery schedule {company}", "when we deliver to {company}",
            "schedule shipment to {company}", "add a delivery", "delivery to {company}",
            "plan shipment for {company}",
            "delivery date for {company}"),
        id=("jadwalkan pengiriman ke {company}", "pengiriman untuk {company} {date}",
            "kirim barang ke {company} {date}", "atur pengiriman ke {company}",
            "jadwal kirim {company}", "buat jadwal pengiriman", "pengiriman baru {company}",
            "rencana kirim ke {company}", "antar barang ke {company}", "jadwal delivery {company}",
            "tambah pengiriman", "kirim ke {company} {date}", "jadwalkan delivery",
            "pengiriman ke {company}", "atur jadwal kirim {company}", "tanggal kirim {company}",
            "harus kirim ke {company} {date}")),
)
