"""Field service: technicians' jobs and managers' dispatch."""

from bot.conversations.understanding import Phrasings
from bot.i18n import N_

PHRASINGS = (
    Phrasings(
        "jobs", flow="jobs", slots=("date",), label=N_("Your jobs"),
        en=("my jobs", "my jobs today", "what jobs do I have", "my route", "my route today",
            "jobs for today", "where do I go today", "show my jobs", "job offers",
            "which jobs are assigned to me", "any new jobs?", "list my service jobs",
            "what's my next job", "jobs", "service jobs today",
            "my jobs {date}", "what jobs are on {date}",
            "technicians' jobs {date}", "what are the technicians doing {date}",
            "scheduled service jobs"),
        id=("pekerjaan saya", "pekerjaan saya hari ini", "tugas saya hari ini", "job saya",
            "rute saya hari ini", "hari ini ke mana aja", "daftar pekerjaan", "ada job baru?",
            "tawaran job", "job servis hari ini", "kerjaan saya apa aja", "job berikutnya apa",
            "lihat job saya", "tugas servis saya", "rute hari ini", "rute saya {date}",
            "{date} saya servis ke mana aja", "hari ini saya servis ke mana aja",
            "{date} tugas ke mana saja", "jadwal teknisi {date}",
            "pekerjaan teknisi {date} apa saja", "job servis yang terjadwal",
            "daftar job teknisi")),
    Phrasings(
        "newjob", flow="newjob", slots=("company",), label=N_("Dispatch a service job"),
        en=("new service job for {company}", "dispatch a technician to {company}",
            "send a technician to {company}", "create a job for {company}", "new job",
            "{company} needs a technician", "book a service visit at {company}",
            "open a service job", "dispatch job {company}", "repair job for {company}",
            "schedule maintenance at {company}", "{company} needs a repair",
            "create service request for {company}", "new work order for {company}",
            "assign a technician for {company}", "need a technician at {company}",
            "get a technician to {company}", "send an engineer to {company}",
            "we need someone at {company} to fix it",
            "send a tech over to {company}", "book a tech visit for {company}"),
        id=("job servis baru untuk {company}", "kirim teknisi ke {company}",
            "buat job untuk {company}", "{company} butuh teknisi", "job baru",
            "jadwalkan servis di {company}", "tugaskan teknisi ke {company}",
            "buat pekerjaan servis", "perbaikan di {company}", "{company} minta servis",
            "order servis {company}", "dispatch teknisi ke {company}",
            "buat permintaan servis {company}", "maintenance di {company}",
            "teknisi ke {company} dong",
            "perlu teknisi ke {company}", "mau kirim teknisi ke {company}",
            "kita harus kirim teknisi ke {company}")),
)
