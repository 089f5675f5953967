"""What the simulated missions and their audiences write.

Platform-neutral text banks: posts by the missions (events, consular notices, national days,
trade, culture), comments by their audiences in several languages with a known sentiment, the
missions' own answers, and audience names. Everything is drawn from a ``random.Random`` the
caller seeds, so the same seed always writes the same words.

The sending country, its flag, home language and ministry website come from a ``Theme``; the
default theme fits the example registry.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

POSITIVE, NEUTRAL, NEGATIVE = "positive", "neutral", "negative"


@dataclass(frozen=True)
class Theme:
    """The sending country as its missions and their audiences name it."""

    country: str = "Pakistan"
    demonym: str = "Pakistani"
    flag: str = "\U0001f1f5\U0001f1f0"
    ministry_url: str = "https://mofa.gov.pk"
    bio_text: str = "Official account"
    home_language: str = "ur"


@dataclass(frozen=True)
class MissionContext:
    """What a post needs to know about the mission that writes it."""

    name: str
    mission_type: str
    city: str
    country: str

    @property
    def head_title(self) -> str:
        return _HEAD_TITLES.get(self.mission_type, "Head of Mission")

    @property
    def kind(self) -> str:
        return _MISSION_KINDS.get(self.mission_type, "Mission")


@dataclass(frozen=True)
class PostText:
    text: str
    topic: str
    language: str


_HEAD_TITLES = {
    "embassy": "Ambassador",
    "high_commission": "High Commissioner",
    "consulate_general": "Consul General",
    "consulate": "Consul",
    "permanent_mission": "Permanent Representative",
}
_MISSION_KINDS = {
    "embassy": "Embassy",
    "high_commission": "High Commission",
    "consulate_general": "Consulate General",
    "consulate": "Consulate",
    "permanent_mission": "Permanent Mission",
}

# ---------------------------------------------------------------- mission posts (English)

_OFFICIALS = (
    "the Minister of Foreign Affairs",
    "the Deputy Foreign Minister",
    "the Minister of Trade",
    "the Mayor of {city}",
    "the Speaker of Parliament",
    "members of the Parliamentary Friendship Group",
    "the President of the Chamber of Commerce",
    "the Rector of the National University",
    "the Director General for Asia",
    "senior officials of the Ministry of Interior",
)
_AREAS = (
    "bilateral trade and investment",
    "cooperation in higher education",
    "climate resilience and water management",
    "people-to-people contacts",
    "IT and digital cooperation",
    "regional connectivity",
    "agriculture and food security",
    "tourism and cultural exchanges",
    "defence and security cooperation",
    "energy cooperation",
)
_PRODUCTS = (
    "textiles",
    "rice",
    "surgical instruments",
    "sports goods",
    "mangoes",
    "leather products",
    "IT services",
    "pharmaceuticals",
    "furniture",
    "seafood",
)
_EVENTS = (
    "food festival",
    "photo exhibition",
    "music evening",
    "film screening",
    "truck art workshop",
    "book launch",
    "cricket match",
    "calligraphy exhibition",
    "fashion show",
    "poetry evening",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_HOLIDAYS = (
    "Eid ul Fitr",
    "Eid ul Adha",
    "Ashura",
    "Labour Day",
    "Independence Day",
    "Kashmir Solidarity Day",
    "Iqbal Day",
    "Quaid-e-Azam Day",
)
_LINK_PATHS = (
    "/press-releases",
    "/consular-services",
    "/visa-information",
    "/trade-opportunities",
    "/events",
)

_EN_POSTS: dict[str, tuple[str, ...]] = {
    "meeting": (
        "{head} called on {official} today and discussed {area}. Both sides agreed to "
        "deepen engagement. {tags}",
        "Productive meeting between {head} and {official} on {area}. {tags}",
        "{head} met {official} in {city}. Discussions focused on {area} and upcoming "
        "high-level visits. {tags}",
        "Delighted to host {official} at the {kind} today. Exchanged views on {area}. {tags}",
    ),
    "consular": (
        "Consular notice: the {kind} will remain closed on {weekday} on account of "
        "{holiday}. Emergency consular assistance remains available. {tags}",
        "An Open Consular Court will be held on {weekday} at 11:00 at the {kind} in {city}. "
        "Community members are encouraged to attend. {tags}",
        "Passport and ID card applications can now be submitted online: {link} {tags}",
        "Reminder: visa applicants should book an appointment before visiting the {kind}. "
        "Details: {link}",
        "A mobile consular camp will visit the community on {weekday}. Please bring your "
        "original documents. {tags}",
    ),
    "national_day": (
        "Warm felicitations to the people and Government of {host} on their National Day. {tags}",
        "The {kind} in {city} celebrated {holiday} with the {demonym} community. {flag} {tags}",
        "Flag hoisting ceremony at the {kind} to mark {holiday}. {flag} {tags}",
    ),
    "trade": (
        "{country}-{host} Business Forum in {city} brought together {n} companies to explore "
        "opportunities in {product}. {tags}",
        "{demonym} {product} showcased at the trade fair in {city}. Exports to {host} "
        "continue to grow. {tags}",
        "{head} visited {demonym} exhibitors at the {city} Expo and discussed market access "
        "for {product}. {tags}",
        "Trade delegation of {n} {demonym} firms arrives in {city} this week. Details: {link}",
    ),
    "culture": (
        "A wonderful {event} at the {kind} celebrating the rich heritage of {country}. {tags}",
        "Thank you to everyone who joined our {event} in {city} last evening. {flag} {tags}",
        "{demonym} {event} in {city} drew a full house. Culture connects our peoples. {tags}",
    ),
    "community": (
        "{head} met members of the {demonym} diaspora in {city} and listened to their "
        "concerns. {tags}",
        "Congratulations to {demonym} students in {host} on their outstanding results. {tags}",
        "The {kind} held an interactive session with the {demonym} community on consular "
        "services. {tags}",
    ),
    "condolence": (
        "Deeply saddened by the loss of lives in the floods in {host}. Our thoughts and "
        "prayers are with the families. {tags}",
        "The {kind} in {city} offers its heartfelt condolences to the people of {host}.",
    ),
}
_TOPIC_WEIGHTS = {
    "meeting": 30,
    "consular": 22,
    "national_day": 10,
    "trade": 16,
    "culture": 12,
    "community": 8,
    "condolence": 2,
}
_TOPIC_TAGS = {
    "meeting": ("#Diplomacy", "#{country}{host_tag}", "#BilateralRelations"),
    "consular": ("#ConsularServices", "#Overseas{demonym}s", "#Community"),
    "national_day": ("#NationalDay", "#{country}{host_tag}Friendship", "#{holiday_tag}"),
    "trade": ("#TradeDiplomacy", "#Invest{country}", "#Made{country}"),
    "culture": ("#Culture", "#Visit{country}", "#CulturalDiplomacy"),
    "community": ("#Diaspora", "#Overseas{demonym}s"),
    "condolence": ("#Solidarity",),
}

_UR_POSTS: dict[str, tuple[str, ...]] = {
    "meeting": (
        "{head_ur} نے آج {city} میں اعلیٰ حکام سے ملاقات کی اور دو طرفہ تعلقات پر بات چیت کی۔"
        " {tags}",
        "سفارتی ملاقات: تجارت، تعلیم اور عوامی روابط کے فروغ پر اتفاق۔ {tags}",
    ),
    "consular": (
        "اطلاع: عید کی تعطیلات کے باعث {weekday_ur} کو قونصلر سیکشن بند رہے گا۔ {tags}",
        "کھلی کچہری {weekday_ur} کو صبح گیارہ بجے منعقد ہوگی۔"
        " تمام ہم وطنوں کو شرکت کی دعوت ہے۔ {tags}",
        "پاسپورٹ اور شناختی کارڈ کی درخواستیں اب آن لائن جمع کروائی جا سکتی ہیں: {link}",
    ),
    "national_day": (
        "یومِ آزادی کے موقع پر پرچم کشائی کی پروقار تقریب۔ {flag} {tags}",
        "{city} میں مقیم ہم وطنوں کے ساتھ قومی دن کی تقریب منائی گئی۔ {tags}",
    ),
    "trade": (
        "{city} میں تجارتی نمائش، {n} کمپنیوں نے شرکت کی۔"
        " برآمدات کے فروغ کے لیے کوششیں جاری ہیں۔ {tags}",
    ),
    "culture": ("ثقافتی شام میں موسیقی اور روایتی کھانوں نے مہمانوں کے دل جیت لیے۔ {tags}",),
    "community": ("{head_ur} نے کمیونٹی کے نمائندوں سے ملاقات کی اور ان کے مسائل سنے۔ {tags}",),
    "condolence": ("سیلاب سے ہونے والے جانی نقصان پر گہرا دکھ ہے۔ متاثرہ خاندانوں سے دلی ہمدردی۔",),
}
_UR_HEADS = {
    "embassy": "سفیر",
    "high_commission": "ہائی کمشنر",
    "consulate_general": "قونصل جنرل",
    "consulate": "قونصل",
    "permanent_mission": "مستقل مندوب",
}
_UR_WEEKDAYS = ("پیر", "منگل", "بدھ", "جمعرات", "جمعہ", "ہفتہ")


def pick_topic(rng: random.Random) -> str:
    return rng.choices(list(_TOPIC_WEIGHTS), weights=list(_TOPIC_WEIGHTS.values()))[0]


def post_text(rng: random.Random, theme: Theme, mission: MissionContext, language: str) -> PostText:
    """One post by a mission, in English (``en``) or the home language (``ur``)."""
    topic = pick_topic(rng)
    holiday = rng.choice(_HOLIDAYS)
    slots = {
        "head": mission.head_title,
        "head_ur": _UR_HEADS.get(mission.mission_type, "سربراہ"),
        "official": rng.choice(_OFFICIALS).format(city=mission.city),
        "area": rng.choice(_AREAS),
        "city": mission.city,
        "host": mission.country,
        "kind": mission.kind,
        "country": theme.country,
        "demonym": theme.demonym,
        "flag": theme.flag,
        "weekday": rng.choice(_WEEKDAYS),
        "weekday_ur": rng.choice(_UR_WEEKDAYS),
        "holiday": holiday,
        "product": rng.choice(_PRODUCTS),
        "event": rng.choice(_EVENTS),
        "n": str(rng.randint(12, 85)),
        "link": theme.ministry_url + rng.choice(_LINK_PATHS),
    }
    slots["tags"] = _hashtags(rng, theme, mission, topic, holiday)
    bank = _UR_POSTS if language == "ur" else _EN_POSTS
    text = rng.choice(bank[topic]).format(**slots)
    return PostText(text=" ".join(text.split()), topic=topic, language=language)


def _hashtags(
    rng: random.Random, theme: Theme, mission: MissionContext, topic: str, holiday: str
) -> str:
    host_tag = "".join(word for word in mission.country.split() if word.isalpha())
    names = {
        "country": theme.country,
        "host_tag": host_tag,
        "demonym": theme.demonym,
        "holiday_tag": "".join(holiday.replace("-", " ").split()),
    }
    pool = _TOPIC_TAGS[topic]
    chosen = rng.sample(pool, k=rng.randint(0, min(2, len(pool))))
    return " ".join(tag.format(**names) for tag in chosen)


# ---------------------------------------------------------------- audience comments

# Intended languages of audience comments; "ur-Latn" is Urdu in Latin script (Roman Urdu),
# "zxx" a comment without words (emoji only).
LANGUAGES: tuple[str, ...] = ("en", "ur", "ur-Latn", "ar", "fr", "es", "de", "zh", "tr", "zxx")
# The languages audience members write in, and how common each is.
SPEAKER_WEIGHTS: dict[str, float] = {
    "en": 46,
    "ur": 12,
    "ur-Latn": 19,
    "ar": 6,
    "fr": 4,
    "es": 4,
    "de": 4,
    "zh": 2.5,
    "tr": 2.5,
}
# Host countries whose own language shows up more among a mission's audience.
HOST_LANGUAGES: dict[str, str] = {
    **dict.fromkeys(("SA", "AE", "QA", "KW", "OM", "BH", "IQ", "JO", "LB", "SY", "EG", "YE"), "ar"),
    **dict.fromkeys(("DZ", "MA", "TN", "LY", "SD"), "ar"),
    **dict.fromkeys(("FR", "BE", "SN", "CI", "DJ"), "fr"),
    **dict.fromkeys(("ES", "MX", "AR", "CL", "PE", "CU"), "es"),
    **dict.fromkeys(("DE", "AT", "CH"), "de"),
    **dict.fromkeys(("CN", "HK"), "zh"),
    **dict.fromkeys(("TR", "AZ"), "tr"),
}

_CORES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        POSITIVE: (
            "Great initiative, well done to the whole team",
            "Proud of our {kind} in {city}",
            "Wonderful event, thank you for organising it",
            "Excellent work by the {head}",
            "Very helpful staff, my passport was ready in a week",
            "Beautiful pictures, long live {country}-{host} friendship",
            "This is how diplomacy should be done",
            "Thank you for the quick response to my query",
            "So good to see our culture celebrated abroad",
            "Brilliant, keep it up",
        ),
        NEUTRAL: (
            "Is this open to everyone or only invited guests?",
            "Noted, thanks for sharing.",
            "Will there be a live stream?",
            "Please share the full press release.",
            "Who else attended the meeting?",
            "Same procedure as last year I think.",
            "Following",
            "Is the office open on Saturdays?",
        ),
        NEGATIVE: (
            "Nobody answers the phone at the {kind}, very disappointing",
            "I have been waiting three months for my passport",
            "Only photo sessions, no real work for the community",
            "Worst consular service I have ever experienced",
            "Emails go unanswered for weeks, this is unacceptable",
            "Appointments are never available, fix the booking system",
            "Such a waste of taxpayers money",
            "Staff were rude to the elderly applicants today",
        ),
    },
    "ur": {
        POSITIVE: (
            "بہت خوب، پوری ٹیم کو مبارکباد",
            "ماشاءاللہ، بہترین اقدام",
            "سفارتخانے کے عملے کا بہت شکریہ",
            "بہت اچھی خبر ہے",
            "اللہ آپ کو کامیاب کرے",
            "شاندار تقریب، دل خوش ہو گیا",
        ),
        NEUTRAL: (
            "معلومات کا شکریہ۔",
            "مزید تفصیلات کہاں سے ملیں گی؟",
            "یہ تقریب کس جگہ ہوگی؟",
            "کیا ہفتے کو دفتر کھلا ہوتا ہے؟",
        ),
        NEGATIVE: (
            "عملہ فون نہیں اٹھاتا، بہت مایوسی ہوئی",
            "تین مہینے سے پاسپورٹ کا انتظار کر رہا ہوں",
            "صرف تصویریں، کام کچھ نہیں",
            "کوئی جواب نہیں دیتا، یہ بہت افسوسناک ہے",
        ),
    },
    "ur-Latn": {
        POSITIVE: (
            "MashaAllah bohat zabardast",
            "Bohat acha kaam kar rahe hain aap log",
            "{country} zindabad, shukriya embassy team",
            "Allah aap ko kamyab kare",
            "Bohat khoob, mubarak ho",
            "Zabardast event tha, dil khush ho gaya",
        ),
        NEUTRAL: (
            "Ye event kahan ho raha hai?",
            "Shukriya information ke liye.",
            "Kal office ka timing kya hai?",
            "Details kahan milen gi?",
        ),
        NEGATIVE: (
            "Koi phone nahi uthata embassy mein",
            "3 mahine se passport ka intezar kar raha hoon",
            "Sirf photo session hota hai, kaam koi nahi",
            "Bohat bura experience tha consulate mein",
        ),
    },
    "ar": {
        POSITIVE: (
            "شكراً على هذه المبادرة الرائعة",
            "بالتوفيق دائماً",
            "علاقات أخوية متينة بين البلدين",
            "فعالية جميلة جداً، شكراً لكم",
        ),
        NEUTRAL: (
            "ما هي المستندات المطلوبة؟",
            "أين يقام الحدث؟",
            "شكراً للمعلومة.",
        ),
        NEGATIVE: (
            "الخدمة بطيئة جداً ولا أحد يرد على الهاتف",
            "للأسف لم أحصل على رد منذ أسابيع",
            "المواعيد غير متاحة دائماً",
        ),
    },
    "fr": {
        POSITIVE: (
            "Magnifique initiative, bravo à toute l'équipe",
            "Merci pour ce bel événement",
            "Très belle soirée culturelle",
        ),
        NEUTRAL: (
            "Où peut-on trouver plus d'informations ?",
            "Est-ce ouvert au public ?",
            "Merci pour l'information.",
        ),
        NEGATIVE: (
            "Toujours aucune réponse à mon courriel, c'est décevant",
            "Service consulaire très lent",
            "Impossible d'obtenir un rendez-vous",
        ),
    },
    "es": {
        POSITIVE: (
            "Excelente iniciativa, felicidades",
            "Gracias por compartir, muy interesante",
            "Qué bonito evento",
        ),
        NEUTRAL: (
            "¿Dónde será el evento?",
            "Gracias por la información.",
            "¿Está abierto al público?",
        ),
        NEGATIVE: (
            "Nadie contesta el teléfono en la embajada, muy mal servicio",
            "Llevo semanas esperando una respuesta",
            "Nunca hay citas disponibles",
        ),
    },
    "de": {
        POSITIVE: (
            "Tolle Veranstaltung, vielen Dank",
            "Großartige Initiative",
            "Sehr schöne Bilder, danke fürs Teilen",
        ),
        NEUTRAL: (
            "Wo findet die Veranstaltung statt?",
            "Danke für die Information.",
            "Ist das öffentlich?",
        ),
        NEGATIVE: (
            "Seit Wochen keine Antwort auf meine E-Mail, sehr enttäuschend",
            "Termine sind nie verfügbar",
            "Sehr langsamer Service",
        ),
    },
    "zh": {
        POSITIVE: ("友谊万岁", "非常精彩的活动，谢谢分享", "祝合作越来越好"),
        NEUTRAL: ("活动在哪里举行？", "谢谢分享信息。", "请问对公众开放吗？"),
        NEGATIVE: ("签证办理太慢了，一直没有回复", "电话一直打不通", "预约总是约不上"),
    },
    "tr": {
        POSITIVE: (
            "Kardeşliğimiz çok yaşa",
            "Harika bir etkinlik, tebrikler",
            "Emeği geçenlere teşekkürler",
        ),
        NEUTRAL: ("Etkinlik nerede yapılacak?", "Bilgi için teşekkürler.", "Herkese açık mı?"),
        NEGATIVE: (
            "Konsolosluk telefonlara hiç cevap vermiyor",
            "Randevu almak imkansız",
            "Çok yavaş hizmet",
        ),
    },
}
_QUESTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        NEUTRAL: (
            "When will passport appointments open?",
            "How can I renew my ID card from {city}?",
            "What documents are needed for a visa?",
            "Is the consular section open tomorrow?",
            "Where can I get my documents attested?",
            "How long does a passport renewal take?",
        ),
        NEGATIVE: (
            "Why is nobody answering the phone at the {kind}?",
            "I applied two months ago, why is my passport still not ready?",
            "Why are there never any appointments available?",
        ),
    },
    "ur": {
        NEUTRAL: (
            "پاسپورٹ کی اپائنٹمنٹ کب کھلے گی؟",
            "شناختی کارڈ کی تجدید کا کیا طریقہ ہے؟",
            "کیا ویزا کے لیے آن لائن درخواست دی جا سکتی ہے؟",
        ),
        NEGATIVE: ("دو مہینے ہو گئے، میرا پاسپورٹ ابھی تک کیوں نہیں آیا؟",),
    },
    "ur-Latn": {
        NEUTRAL: (
            "Passport appointment kab open hogi?",
            "ID card renewal ka kya tareeqa hai?",
            "Visa ke liye kaun se documents chahiye?",
        ),
        NEGATIVE: ("Do mahine ho gaye, mera passport abhi tak kyun nahi aaya?",),
    },
    "ar": {
        NEUTRAL: ("متى تفتح مواعيد التأشيرة؟", "ما هي المستندات المطلوبة للتأشيرة؟"),
        NEGATIVE: ("لماذا لا يرد أحد على الهاتف؟",),
    },
    "fr": {
        NEUTRAL: ("Quand ouvrent les rendez-vous pour les visas ?",),
        NEGATIVE: ("Pourquoi personne ne répond au téléphone ?",),
    },
    "es": {
        NEUTRAL: ("¿Cuándo abren las citas para visas?",),
        NEGATIVE: ("¿Por qué nadie contesta el teléfono?",),
    },
    "de": {
        NEUTRAL: ("Wann gibt es wieder Termine für Visa?",),
        NEGATIVE: ("Warum geht niemand ans Telefon?",),
    },
    "zh": {NEUTRAL: ("请问签证预约什么时候开放？",), NEGATIVE: ("为什么一直没人接电话？",)},
    "tr": {
        NEUTRAL: ("Vize randevuları ne zaman açılacak?",),
        NEGATIVE: ("Neden kimse telefona cevap vermiyor?",),
    },
}
_EMOJI = {
    POSITIVE: (
        "\U0001f44f",
        "\u2764\ufe0f",
        "\U0001f44d",
        "\U0001f64c",
        "\U0001f525",
        "\U0001f389",
    ),
    NEGATIVE: ("\U0001f621", "\U0001f44e", "\U0001f612", "\U0001f926"),
    NEUTRAL: ("\U0001f914", "\U0001f440"),
}
_LATIN_SCRIPT = frozenset({"en", "ur-Latn", "fr", "es", "de", "tr"})
_ENDINGS = {POSITIVE: ("!", "!!", "", "."), NEGATIVE: (".", "!", "...", ""), NEUTRAL: ("",)}
_OPENERS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        POSITIVE: ("Wow!", "Great!", "Amazing.", "Well done!"),
        NEGATIVE: ("Sad.", "Honestly,", "Seriously,"),
    },
    "ur-Latn": {POSITIVE: ("Wah!", "Zabardast!"), NEGATIVE: ("Afsos,", "Yaar,")},
}


def comment_text(
    rng: random.Random,
    theme: Theme,
    mission: MissionContext,
    language: str,
    label: str,
    question: bool,
) -> str:
    """An audience comment with the given language and sentiment (questions end with '?')."""
    if language == "zxx":
        return "".join(rng.choices(_EMOJI[label], k=rng.randint(1, 4)))
    if question:
        text = rng.choice(_QUESTIONS[language][label])
    else:
        latin = language in _LATIN_SCRIPT or label == NEUTRAL
        endings = _ENDINGS[label] if latin else ("", "!")
        text = rng.choice(_CORES[language][label]) + rng.choice(endings)
        openers = _OPENERS.get(language, {}).get(label, ())
        if openers and rng.random() < 0.25:
            text = f"{rng.choice(openers)} {text[0].lower()}{text[1:]}"
    if rng.random() < 0.3:
        text = f"{text} {''.join(rng.choices(_EMOJI[label], k=rng.randint(1, 3)))}"
    return text.format(
        kind=mission.kind,
        city=mission.city,
        head=mission.head_title,
        country=theme.country,
        host=mission.country,
    )


_MISSION_REPLIES = {
    "en": (
        "Thank you for reaching out. Please email the consular section with your application "
        "number and we will look into it.",
        "Appointments open every Monday at 10:00 on our website. Please check {link}",
        "Dear compatriot, please send us a direct message with your details.",
        "Thank you. The required documents are listed at {link}",
        "We have forwarded your query to the concerned section. You will hear from us shortly.",
        "Please visit the {kind} on any working day between 9:00 and 13:00 with your documents.",
    ),
    "ur": (
        "رابطہ کرنے کا شکریہ۔ براہ کرم اپنی درخواست نمبر کے ساتھ ای میل کریں۔",
        "محترم ہم وطن، براہ کرم اپنی تفصیلات ڈائریکٹ میسج میں بھیجیں۔",
        "آپ کی شکایت متعلقہ سیکشن کو بھیج دی گئی ہے۔",
    ),
}


def mission_reply_text(
    rng: random.Random, theme: Theme, mission: MissionContext
) -> tuple[str, str]:
    """A mission's answer to a question: (text, language)."""
    language = "ur" if rng.random() < 0.2 else "en"
    text = rng.choice(_MISSION_REPLIES[language])
    return text.format(
        link=theme.ministry_url + rng.choice(_LINK_PATHS), kind=mission.kind
    ), language


# ---------------------------------------------------------------- people

_FIRST_NAMES = {
    "en": (
        "James",
        "Sarah",
        "Michael",
        "Emma",
        "David",
        "Olivia",
        "Daniel",
        "Sophie",
        "Ryan",
        "Laura",
    ),
    "ur": (
        "Ahmed",
        "Ayesha",
        "Bilal",
        "Fatima",
        "Usman",
        "Sana",
        "Hamza",
        "Zainab",
        "Imran",
        "Hira",
    ),
    "ar": ("Mohammed", "Fatimah", "Khalid", "Noura", "Omar", "Maryam", "Saad", "Layla"),
    "fr": ("Jean", "Marie", "Pierre", "Camille", "Louis", "Chloé"),
    "es": ("Carlos", "María", "José", "Lucía", "Diego", "Sofía"),
    "de": ("Lukas", "Anna", "Jonas", "Lea", "Felix", "Mia"),
    "zh": ("Wei", "Li", "Jing", "Hao", "Min", "Yan"),
    "tr": ("Mehmet", "Ayşe", "Mustafa", "Elif", "Emre", "Zeynep"),
}
_LAST_NAMES = {
    "en": ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Clarke", "Walker", "Hughes"),
    "ur": ("Khan", "Ahmed", "Malik", "Qureshi", "Butt", "Chaudhry", "Sheikh", "Raza", "Iqbal"),
    "ar": ("Al-Harbi", "Al-Qahtani", "Haddad", "Nasser", "Saleh", "Mansour"),
    "fr": ("Martin", "Bernard", "Dubois", "Moreau", "Laurent"),
    "es": ("García", "Martínez", "López", "Sánchez", "Romero"),
    "de": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber"),
    "zh": ("Wang", "Zhang", "Liu", "Chen", "Yang"),
    "tr": ("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik"),
}
_NAME_POOLS = {"ur-Latn": "ur"}
_ASCII = str.maketrans("áéíóúñçüöäßışğéèêàâ", "aeiouncuoasisgeeeaa")


def person_name(rng: random.Random, language: str) -> tuple[str, str]:
    """A display name and a username stem (up to 9 ASCII letters) for an audience member."""
    pool = _NAME_POOLS.get(language, language)
    first, last = rng.choice(_FIRST_NAMES[pool]), rng.choice(_LAST_NAMES[pool])
    ascii_first, ascii_last = (_ascii_letters(name) for name in (first, last))
    style = rng.random()
    if style < 0.4:
        stem = f"{ascii_first}{ascii_last}"
    elif style < 0.7:
        stem = f"{ascii_first[0]}{ascii_last}".lower()
    else:
        stem = f"{ascii_first}{ascii_last[0]}".lower()
    display = f"{first} {last}"
    if rng.random() < 0.15:
        display = f"{display} {rng.choice(_EMOJI[POSITIVE])}"
    return display, stem[:9] or "user"


def _ascii_letters(name: str) -> str:
    return "".join(ch for ch in name.translate(_ASCII) if ch.isascii() and ch.isalpha())


# ---------------------------------------------------------------- profiles


def display_name(
    rng: random.Random, theme: Theme, mission: MissionContext, conforming: bool
) -> str:
    """The account's display name: the standard form, or one of the ad-hoc variants seen."""
    if conforming:
        if mission.mission_type == "permanent_mission":
            return f"{theme.country} Mission to the UN, {mission.city}"
        return f"{theme.country} {mission.kind} {mission.city}"
    variants = (
        mission.name,
        f"{theme.country} in {mission.country}",
        f"{theme.country[:3]} {mission.kind} {mission.city}",
        f"{mission.kind} of {theme.country} {theme.flag}".strip(),
    )
    return rng.choice(variants)


def bio(
    rng: random.Random, theme: Theme, mission: MissionContext, with_text: bool, with_link: bool
) -> str:
    """The account's description: with the required phrase and/or the ministry's link."""
    if with_text:
        template = rng.choice(
            (
                "{required} of the {name}. Retweets are not endorsements.",
                "{required} of the {name}, {host}.",
                "{required} | {kind} of {country} in {city}",
            )
        )
    else:
        template = rng.choice(
            (
                "The {name} serving the {demonym} community in {host}.",
                "{kind} of {country} in {city}. Consular queries: DM or email.",
            )
        )
    text = template.format(
        required=theme.bio_text,
        name=mission.name,
        host=mission.country,
        demonym=theme.demonym,
        kind=mission.kind,
        country=theme.country,
        city=mission.city,
    )
    return f"{text} {theme.ministry_url}" if with_link else text
