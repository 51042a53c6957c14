"""Reminders and follow-ups, as reps ask for them."""

from bot.conversations.understanding import Phrasings
from bot.i18n import N_

PHRASINGS = (
    Phrasings(
        "remind", flow="remind", slots=("text", "date"), label=N_("Set a reminder"),
        en=("remind me {text}", "remind me {date} to {text}", "please remind me to {text}",
            "set a reminder to {text}", "set a reminder for {date}", "add a reminder {text}",
            "reminder: {text}", "don't let me forget to {text}", "remind me {date} {text}",
            "can you remind me to {text}", "ping me {date} about {text}", "remind me later",
            "i need a reminder to {text}", "make a reminder {date}", "new reminder {text}",
            "nudge me {date} to {text}"),
        id=("ingatkan saya {text}", "ingatkan saya {date} untuk {text}",
            "tolong ingatkan {date} {text}", "ingetin aku {text}", "ingetin {date} {text}",
            "jangan lupa ingatkan saya {text}", "pasang pengingat {text}", "buat pengingat {date}",
            "set reminder {date} {text}", "reminder {text}", "tolong ingetin {date} ya {text}",
            "bikin pengingat untuk {text}", "ingatkan aku {date} {text}", "ingatkan nanti {text}",
            "tambah pengingat {text}", "colek saya {date} buat {text}")),
    Phrasings(
        "reminders", flow="reminders", label=N_("Your follow-ups"),
        en=("my reminders", "my follow-ups", "what follow-ups do I have", "show my reminders",
            "list my follow-ups", "open follow-ups", "pending reminders",
            "what do I need to follow up", "follow-ups due", "overdue follow-ups",
            "which reminders are open", "what's due", "reminders", "show follow ups", "my to-do",
            "what do I have to follow up", "upcoming deliveries", "my deliveries this week",
            "which deliveries are coming up", "list the deliveries", "delivery schedule",
            "my task list", "open tasks", "which tasks are overdue", "overdue items",
            "late follow-ups", "tasks still open", "what haven't I done yet", "unfinished tasks",
            "my outstanding items", "to-do list", "what did I forget to do", "things past due",
            "what's past due", "which follow-ups did I miss", "any late tasks?", "overdue",
            "is anything late", "what's late", "overdue stuff"),
        id=("pengingat saya", "tindak lanjut saya", "follow up saya apa aja", "daftar pengingat",
            "tindak lanjut yang belum selesai", "pengingat apa saja", "follow up yang jatuh tempo",
            "follow up yang telat", "lihat pengingat saya", "reminder saya",
            "apa yang harus saya follow up", "tugas follow up saya", "pengingat yang aktif",
            "daftar follow up", "to-do saya",
            "tugas saya", "daftar tugas saya", "tugas yang belum dikerjakan",
            "tugas yang terlambat", "follow up yang lewat jatuh tempo",
            "apa aja yang belum aku kerjain", "to do list aku", "pengingat yang sudah lewat",
            "kerjaan yang belum beres", "ada yang telat nggak", "yang kelewat apa aja",
            "tugas pending", "list tugas gw", "follow up yg belum dikerjain",
            "tugas yang masih terbuka",
            "pengiriman minggu ini", "daftar pengiriman saya", "jadwal pengiriman",
            "pengiriman apa aja yang akan datang", "kiriman yang dijadwalkan")),
)
