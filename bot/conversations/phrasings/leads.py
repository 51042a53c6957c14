"""How reps and managers talk about leads and regions."""

from bot.conversations.understanding import Phrasings
from bot.i18n import N_

PHRASINGS = (
    Phrasings(
        "newlead", flow="newlead", slots=("company",), label=N_("Record a new lead"),
        en=("new lead for {company}", "new lead", "I have a new lead", "add a lead for {company}",
            "record a lead at {company}", "{company} is interested, new lead",
            "create a lead for {company}", "log a new lead", "got a lead from {company}",
            "new prospect {company}", "add prospect {company}", "there's a new lead at {company}",
            "register a lead", "new opportunity at {company}", "lead from {company}",
            "new deal for {company}", "new opportunity for {company}",
            "a new deal with {company}", "new deal at {company}"),
        id=("lead baru untuk {company}", "ada lead baru", "prospek baru {company}",
            "catat lead baru", "tambah lead {company}", "ada prospek dari {company}",
            "bikin lead baru di {company}", "lead baru", "prospek baru",
            "{company} tertarik, catat lead", "daftarkan prospek {company}",
            "saya dapat lead dari {company}", "input lead baru", "peluang baru di {company}",
            "tambah prospek baru", "peluang baru buat {company}", "peluang baru untuk {company}",
            "deal baru buat {company}", "deal baru dengan {company}",
            "ada peluang baru di {company}", "bikinin lead buat {company}", "catat lead {company}",
            "{company} mau beli")),
    Phrasings(
        "leads", flow="leads", label=N_("Leads waiting"),
        en=("leads waiting", "unassigned leads", "which leads have no owner",
            "show the leads queue", "overdue leads", "leads not contacted yet",
            "who hasn't called their leads", "open leads of my team", "lead queue",
            "leads without an owner", "missed contact-by dates", "show unclaimed leads",
            "leads to assign", "pending leads", "which leads are late"),
        id=("lead yang belum ada pemiliknya", "lead belum di-assign", "antrian lead",
            "lead yang terlambat", "lead yang belum dihubungi", "daftar lead tim",
            "lead tanpa pemilik", "lead yang nganggur", "lead yang belum diklaim",
            "lead yang perlu dibagi", "lead telat", "lead pending",
            "lead mana yang belum dipegang", "tampilkan antrian lead",
            "lead yang lewat batas kontak", "prospek yang belum ditindaklanjuti",
            "prospek masuk belum dibagi")),
    Phrasings(
        "region_deals", flow="region_deals", slots=("region",), label=N_("Deals in {region}"),
        en=("deals in {region}", "pipeline in {region}", "open deals in {region}",
            "show deals of {region}", "what's happening in {region}", "{region} pipeline",
            "opportunities in {region}", "how is {region} doing", "deals of the {region} region",
            "{region} deals", "region {region} deals", "what deals are open in {region}",
            "pipeline for {region} region", "sales in progress in {region}",
            "open opportunities {region}"),
        id=("deal di {region}", "peluang di wilayah {region}", "pipeline {region}",
            "peluang di {region}", "deal wilayah {region}", "gimana wilayah {region}",
            "peluang terbuka di {region}", "deal daerah {region}", "{region} dealnya apa aja",
            "tampilkan deal {region}", "pipeline wilayah {region}", "peluang {region} apa saja",
            "deal yang jalan di {region}", "progres wilayah {region}", "deal area {region}")),
)
