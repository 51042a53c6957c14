"""Greetings, thanks, help and who-am-I."""

from bot.conversations.understanding import Phrasings
from bot.i18n import N_

PHRASINGS = (
    Phrasings(
        "greet", flow="greet", label=N_("Say hello"), mid_flow=False,
        en=("hi", "hello", "hey", "good morning", "good afternoon", "good evening", "hi there",
            "hello bot", "hey there", "morning", "hiya", "yo", "hello!", "hi, how are you",
            "greetings"),
        id=("halo", "hai", "hallo", "selamat pagi", "selamat siang", "selamat sore",
            "selamat malam", "pagi", "siang", "sore", "assalamualaikum", "halo bot", "pagi bos",
            "hai apa kabar", "permisi")),
    Phrasings(
        "thanks", flow="greet", args={"thanks": "1"}, label=N_("Thanks"), mid_flow=False,
        en=("thanks", "thank you", "thx", "ty", "thanks a lot", "ok thanks", "great, thanks",
            "thank you so much", "cheers", "many thanks", "thanks bot", "perfect thanks",
            "thanks!", "appreciate it", "nice one, thanks"),
        id=("terima kasih", "makasih", "trims", "makasih ya", "terima kasih banyak", "thx ya",
            "oke makasih", "sip makasih", "matur nuwun", "tengkyu", "makasih bot", "terimakasih",
            "mantap makasih", "makasih banyak ya", "suwun")),
    Phrasings(
        "help", flow="help", label=N_("What I can do"),
        en=("help", "what can you do", "how does this work", "what can I ask",
            "show me the commands", "I need help", "how do I use you", "commands",
            "what do you do", "instructions", "menu", "what are my options", "how can you help me",
            "help me", "what can I do here", "what are you capable of",
            "what kind of things can you do", "what are you for",
            "what things can you help with"),
        id=("bantuan", "kamu bisa apa", "bisa apa aja", "cara pakainya gimana", "tolong bantu",
            "perintah apa saja", "menu", "apa yang bisa saya tanyakan",
            "gimana cara pakai bot ini", "fiturnya apa aja", "saya butuh bantuan",
            "bisa bantu apa", "petunjuk", "daftar perintah", "apa saja yang bisa kamu lakukan")),
    Phrasings(
        "whoami", flow="whoami", label=N_("Who you are linked as"),
        en=("who am I", "whoami", "which account is this", "who am I logged in as",
            "what's my role", "am I linked", "my account", "what account is this chat",
            "show my profile", "which user am I", "my role", "am I a manager",
            "who is this chat linked to", "my user", "check my account"),
        id=("saya siapa", "akun saya", "saya login sebagai siapa", "peran saya apa",
            "akun ini punya siapa", "apakah saya sudah terhubung", "profil saya", "saya user apa",
            "role saya", "chat ini terhubung ke siapa", "cek akun saya", "aku siapa",
            "saya terdaftar sebagai apa", "jabatan saya di sini", "user saya",
            "aku login pakai akun siapa", "login saya sebagai apa", "gw terdaftar sbg siapa")),
)
