"""The base demo world: teams, territories, users, companies and contacts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from core.demo.world import DemoWorld
from core.models import Company, Contact, Role, Team, Territory, TerritoryRep, User

REGIONS = ("Jakarta", "Surabaya", "Bandung", "Medan", "Semarang", "Makassar")
INDUSTRIES = ("Manufacturing", "Retail", "Hospitality", "Logistics", "Healthcare", "Education")

# (login, name, role, team, locale, timezone)
PEOPLE: tuple[tuple[str, str, Role, str | None, str, str], ...] = (
    ("admin", "Ayu Lestari", Role.ADMIN, None, "en", "Asia/Jakarta"),
    ("maya", "Maya Wijaya", Role.MANAGER, "Java West", "en", "Asia/Jakarta"),
    ("hendra", "Hendra Gunawan", Role.MANAGER, "Java East", "id", "Asia/Jakarta"),
    ("rahmat", "Rahmat Hidayat", Role.MANAGER, "Outer Islands", "id", "Asia/Makassar"),
    ("budi", "Budi Santoso", Role.REP, "Java West", "en", "Asia/Jakarta"),
    ("sari", "Sari Purnamasari", Role.REP, "Java West", "id", "Asia/Jakarta"),
    ("andi", "Andi Pratama", Role.REP, "Java West", "en", "Asia/Jakarta"),
    ("dewi", "Dewi Anggraini", Role.REP, "Java East", "id", "Asia/Jakarta"),
    ("rizky", "Rizky Ramadhan", Role.REP, "Java East", "en", "Asia/Jakarta"),
    ("putri", "Putri Handayani", Role.REP, "Outer Islands", "id", "Asia/Makassar"),
    ("kevin", "Kevin Tan", Role.REP, "Outer Islands", "en", "Asia/Jakarta"),
    ("tono", "Tono Sugiarto", Role.TECHNICIAN, "Java West", "id", "Asia/Jakarta"),
    ("agus", "Agus Salim", Role.TECHNICIAN, "Java West", "en", "Asia/Jakarta"),
    ("wayan", "I Wayan Sudarta", Role.TECHNICIAN, "Java East", "id", "Asia/Jakarta"),
)
TEAM_REGIONS: dict[str, tuple[str, ...]] = {
    "Java West": ("Jakarta", "Bandung"),
    "Java East": ("Surabaya", "Semarang"),
    "Outer Islands": ("Medan", "Makassar"),
}
# Which reps cover which regions (technicians cover their team's regions).
REP_REGIONS: dict[str, tuple[str, ...]] = {
    "budi": ("Jakarta",),
    "sari": ("Jakarta", "Bandung"),
    "andi": ("Bandung",),
    "dewi": ("Surabaya",),
    "rizky": ("Surabaya", "Semarang"),
    "putri": ("Makassar",),
    "kevin": ("Medan",),
}
CITY_GEO = {
    "Jakarta": (-6.2088, 106.8456, "021"),
    "Surabaya": (-7.2575, 112.7521, "031"),
    "Bandung": (-6.9175, 107.6191, "022"),
    "Medan": (3.5952, 98.6722, "061"),
    "Semarang": (-6.9667, 110.4167, "024"),
    "Makassar": (-5.1477, 119.4327, "0411"),
}
STREETS = ("Jl. Sudirman", "Jl. Thamrin", "Jl. Gatot Subroto", "Jl. Diponegoro",
           "Jl. Ahmad Yani", "Jl. Pemuda", "Jl. Asia Afrika", "Jl. Merdeka", "Jl. Pahlawan",
           "Jl. Hayam Wuruk", "Jl. Gajah Mada", "Jl. Veteran")
NAME_PARTS = ("Sinar", "Jaya", "Maju", "Abadi", "Sentosa", "Makmur", "Mandiri", "Sejahtera",
              "Bintang", "Timur", "Nusantara", "Karya", "Prima", "Mulia", "Cahaya", "Agung",
              "Lestari", "Sumber", "Rejeki", "Harapan", "Indah", "Perkasa", "Global", "Mitra",
              "Utama", "Samudra", "Gemilang", "Berkah", "Putra", "Anugerah")
ENGLISH_NAMES = ("Pacific Trading", "Eastern Star Logistics", "Green Valley Foods",
                 "Horizon Hotels", "Summit Medical", "Bright Future School", "Oceanic Freight",
                 "Golden Gate Retail", "Silverline Manufacturing", "Bluewater Resorts")
FIRST_NAMES = ("Budi", "Siti", "Agus", "Dewi", "Andi", "Rina", "Joko", "Sri", "Hendra",
               "Lina", "Wahyu", "Fitri", "Dedi", "Yanti", "Eko", "Nur", "Bambang", "Ratna",
               "Irfan", "Wulan", "Michael", "Jessica", "David", "Linda", "Steven", "Grace",
               "Kevin", "Angela", "Rudi", "Indah", "Taufik", "Mega", "Yusuf", "Ani", "Fajar",
               "Citra", "Gita", "Hadi", "Intan", "Kartika")
LAST_NAMES = ("Santoso", "Wijaya", "Saputra", "Hidayat", "Kusuma", "Pratama", "Setiawan",
              "Gunawan", "Halim", "Nugroho", "Susanto", "Lim", "Tanoto", "Siregar", "Nasution",
              "Simanjuntak", "Wibowo", "Hartono", "Sutanto", "Purnomo", "Harahap", "Lubis",
              "Sihombing", "Suryadi", "Kurniawan", "Rahman", "Effendi", "Tanjung")
DEPARTMENTS = ("Purchasing", "Finance", "IT", "Operations", "Management", "HR", "Marketing")
TITLES = {
    "Purchasing": ("Purchasing Manager", "Procurement Officer", "Head of Procurement"),
    "Finance": ("Finance Manager", "Accounting Staff", "CFO"),
    "IT": ("IT Manager", "System Administrator", "CTO"),
    "Operations": ("Operations Manager", "Plant Manager", "Warehouse Supervisor"),
    "Management": ("Director", "General Manager", "President Director"),
    "HR": ("HR Manager", "HR Officer"),
    "Marketing": ("Marketing Manager", "Brand Manager"),
}
# Named companies the demo and the README sample conversation rely on.
FIXED_COMPANIES = (
    ("Sinar Jaya Abadi", "PT", "Manufacturing", "Jakarta", 850, "enterprise"),
    ("Maju Bersama", "CV", "Retail", "Bandung", 45, "smb"),
    ("Nusantara Logistik", "PT", "Logistics", "Surabaya", 1200, "enterprise"),
    ("Hotel Cahaya Indah", "PT", "Hospitality", "Jakarta", 300, "midmarket"),
    ("Rumah Sakit Sehat Sentosa", "PT", "Healthcare", "Semarang", 600, "enterprise"),
    ("Pacific Trading", "PT", "Retail", "Medan", 120, "midmarket"),
)
FIXED_CONTACTS = (
    # company index, name, department, title, decision maker
    (0, "Hendro Wibisono", "Purchasing", "Purchasing Manager", True),
    (0, "Ratna Kusumawati", "Finance", "Finance Manager", False),
    (0, "Joko Susilo", "IT", "IT Manager", False),
    (1, "Siti Rahayu", "Management", "Owner", True),
    (2, "Bambang Hartono", "Operations", "Operations Manager", True),
    (2, "Lina Halim", "Purchasing", "Procurement Officer", False),
    (3, "Grace Tanoto", "Purchasing", "Head of Procurement", True),
    (4, "dr. Yusuf Effendi", "Management", "Director", True),
    (5, "Steven Lim", "Purchasing", "Purchasing Manager", True),
)


def _phone(world: DemoWorld, city: str, mobile: bool) -> str:
    rng = world.rng
    if mobile:
        prefix = rng.choice(("0812", "0813", "0821", "0857", "0878", "0896"))
        return f"+62 {prefix[1:]}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
    area = CITY_GEO[city][2]
    return f"+62 {area[1:]} {rng.randint(300, 899)}{rng.randint(1000, 9999)}"


def seed_base(session: Session, world: DemoWorld) -> None:
    """Create the organisation and the customer base."""
    rng, now = world.rng, world.now
    for name_of_team in TEAM_REGIONS:
        team = Team(name=name_of_team, approval_threshold=Decimal("250000000"), currency="IDR")
        session.add(team)
        world.teams[name_of_team] = team
    session.flush()
    by_region: dict[str, list[Territory]] = {}
    for name_of_team, team_regions in TEAM_REGIONS.items():
        for region in team_regions:
            territory = Territory(name=f"{region}", region=region, industry=None,
                                  team_id=world.teams[name_of_team].id)
            session.add(territory)
            world.territories.append(territory)
            by_region.setdefault(region, []).append(territory)
    session.flush()
    for login, name, role, team_name, locale, tz in PEOPLE:
        first = name.split()[0].lower()
        user = User(
            login=login, name=name, role=role.value,
            team_id=world.teams[team_name].id if team_name else None,
            timezone=tz, locale=locale, active=True,
            email=f"{first}.{login}@example.co.id", phone=_phone(world, "Jakarta", True),
            discount_limit_pct=Decimal("10") if role == Role.REP else (
                Decimal("25") if role == Role.MANAGER else None),
            created_at=now - timedelta(days=400),
        )
        session.add(user)
        world.users[login] = user
    session.flush()
    for name_of_team, team in world.teams.items():
        manager = next(
            u for (login, _n, role, t, _l, _z) in PEOPLE
            if role == Role.MANAGER and t == name_of_team for u in [world.users[login]]
        )
        team.manager_id = manager.id
    for login, regions in REP_REGIONS.items():
        for region in regions:
            for territory in by_region[region]:
                session.add(TerritoryRep(territory_id=territory.id, user_id=world.users[login].id))
    for login, _n, role, team_name, _l, _z in PEOPLE:
        if role in (Role.TECHNICIAN, Role.MANAGER) and team_name:
            for region in TEAM_REGIONS[team_name]:
                for territory in by_region[region]:
                    session.add(TerritoryRep(territory_id=territory.id,
                                             user_id=world.users[login].id))
    session.flush()

    reps_by_region = {
        region: [world.users[login] for login, rs in REP_REGIONS.items() if region in rs]
        for region in REGIONS
    }

    def make_company(name: str, form: str | None, industry: str, city: str,
                     employees: int, segment: str, index: int) -> Company:
        lat, lon, _area = CITY_GEO[city]
        street = rng.choice(STREETS)
        number = rng.randint(1, 250)
        head = f"{street} No. {number}, {city}"
        billing_is_head = rng.random() < 0.6
        billing = head if billing_is_head else (
            f"{rng.choice(STREETS)} No. {rng.randint(1, 250)}, "
            f"{rng.choice(['Jakarta', city])}")
        company = Company(
            name=name, legal_form=form, industry=industry, segment=segment,
            employees=employees, territory_id=by_region[city][0].id,
            owner_id=rng.choice(reps_by_region[city]).id,
            phone=_phone(world, city, False),
            email=f"info@{name.lower().replace(' ', '')[:18]}.co.id",
            website=f"www.{name.lower().replace(' ', '')[:18]}.co.id",
            city=city, head_office_address=head, billing_address=billing,
            billing_office=("Finance, head office" if billing_is_head
                            else rng.choice(["Accounts payable, branch office",
                                             "Finance, regional office"])),
            delivery_address=f"Kawasan Industri {rng.choice(NAME_PARTS)} Blok "
                             f"{rng.choice('ABCDEFG')}{rng.randint(1, 30)}, {city}",
            lat=lat + rng.uniform(-0.08, 0.08), lon=lon + rng.uniform(-0.08, 0.08),
            external_id=f"ACC-{index:05d}",
            created_at=now - timedelta(days=rng.randint(30, 900)),
            updated_at=now - timedelta(days=rng.randint(0, 29)),
        )
        session.add(company)
        return company

    for i, (name, form, industry, city, employees, segment) in enumerate(FIXED_COMPANIES):
        world.companies.append(make_company(name, form, industry, city, employees, segment, i))
    seen = {c.name for c in world.companies}
    i = len(world.companies)
    while len(world.companies) < max(world.options.companies, len(FIXED_COMPANIES)):
        if rng.random() < 0.12:
            base = rng.choice(ENGLISH_NAMES) + (f" {rng.choice(REGIONS)}" if rng.random() < .5
                                                else "")
            form = rng.choice(("PT", "Ltd", "Inc"))
        else:
            base = " ".join(rng.sample(NAME_PARTS, rng.choice((2, 2, 3))))
            form = rng.choice(("PT", "PT", "PT", "CV", "Tbk"))
        if base in seen:
            continue
        seen.add(base)
        city = rng.choice(REGIONS)
        industry = rng.choice(INDUSTRIES)
        employees = rng.choice((15, 40, 80, 150, 300, 700, 1500, 4000))
        segment = "enterprise" if employees >= 500 else "midmarket" if employees >= 100 else "smb"
        world.companies.append(make_company(base, form, industry, city, employees, segment, i))
        i += 1
    session.flush()

    def make_contact(company: Company, name: str, department: str, title: str,
                     decision: bool, index: int) -> Contact:
        first = name.replace("dr. ", "").split()[0].lower()
        last = name.split()[-1].lower()
        domain = (company.email or "example.co.id").split("@")[-1]
        contact = Contact(
            company_id=company.id, name=name, department=department, job_title=title,
            phone=_phone(world, company.city or "Jakarta", False),
            mobile=_phone(world, company.city or "Jakarta", True),
            email=f"{first}.{last}@{domain}", owner_id=company.owner_id,
            is_decision_maker=decision, external_id=f"CON-{index:06d}",
            created_at=company.created_at, updated_at=company.updated_at, version=1,
        )
        session.add(contact)
        return contact

    for n, (ci, name, dept, title, decision) in enumerate(FIXED_CONTACTS):
        world.contacts.append(make_contact(world.companies[ci], name, dept, title, decision, n))
    n = len(world.contacts)
    while len(world.contacts) < max(world.options.contacts, len(FIXED_CONTACTS)):
        company = world.companies[n % len(world.companies)]
        dept = rng.choice(DEPARTMENTS)
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        world.contacts.append(make_contact(company, name, dept, rng.choice(TITLES[dept]),
                                           dept == "Management", n))
        n += 1
    session.flush()
