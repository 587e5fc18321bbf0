"""Plausible counter names and sites for generated worlds (Russian small business, agencies)."""

from __future__ import annotations

from metrika_tui.simulator.hashing import mix

#: (what the business is, its slug in a domain)
_KINDS = (
    ("Цветочный магазин", "flowers"),
    ("Автосервис", "autoservice"),
    ("Стоматология", "dental"),
    ("Школа английского", "english"),
    ("Пекарня", "bakery"),
    ("Турагентство", "travel"),
    ("Мебельная фабрика", "mebel"),
    ("Юридическая фирма", "law"),
    ("Фитнес-клуб", "fitness"),
    ("Интернет-магазин", "shop"),
    ("Салон красоты", "beauty"),
    ("Ветклиника", "vet"),
    ("Строительная компания", "stroy"),
    ("Кофейня", "coffee"),
    ("Детский центр", "kids"),
    ("Доставка еды", "food"),
    ("Агентство недвижимости", "realty"),
    ("Типография", "print"),
)
_BRANDS = (
    ("Лето", "leto"),
    ("Север", "sever"),
    ("Радуга", "raduga"),
    ("Вектор", "vector"),
    ("Уют", "uyut"),
    ("Альфа", "alfa"),
    ("Берёзка", "berezka"),
    ("Гранит", "granit"),
    ("Восход", "voskhod"),
    ("Причал", "prichal"),
    ("Сфера", "sfera"),
    ("Орион", "orion"),
    ("Ладья", "ladya"),
    ("Меридиан", "meridian"),
    ("Пчёлка", "pchelka"),
    ("Кедр", "kedr"),
)
_CITIES = (
    ("", ""),
    ("Москва", "msk"),
    ("Санкт-Петербург", "spb"),
    ("Казань", "kzn"),
    ("Екатеринбург", "ekb"),
    ("Новосибирск", "nsk"),
    ("Самара", "smr"),
    ("Краснодар", "krd"),
)
_ZONES = (
    "Asia/Yekaterinburg",
    "Asia/Novosibirsk",
    "Europe/Kaliningrad",
    "Europe/Samara",
    "Asia/Vladivostok",
    "Asia/Almaty",
    "Europe/Minsk",
    "Asia/Omsk",
)


def counter_name_and_site(key: int) -> tuple[str, str]:
    """A name like «Пекарня «Уют», Казань» and a site like uyut-bakery-kzn.ru."""
    kind, kind_slug = _KINDS[mix(key, 101) % len(_KINDS)]
    brand, brand_slug = _BRANDS[mix(key, 102) % len(_BRANDS)]
    city, city_slug = _CITIES[mix(key, 103) % len(_CITIES)]
    number = mix(key, 104) % 100
    name = f"{kind} «{brand}»" + (f", {city}" if city else "")
    site = "-".join(part for part in (brand_slug, kind_slug, city_slug) if part)
    return name, f"{site}{number if number > 60 else ''}.ru"


def time_zone(key: int, moscow_share: float) -> str:
    if (mix(key, 105) >> 11) / float(1 << 53) < moscow_share:
        return "Europe/Moscow"
    return _ZONES[mix(key, 106) % len(_ZONES)]


def login(index: int, key: int) -> str:
    brand = _BRANDS[mix(key, 107) % len(_BRANDS)][1]
    return f"{brand}-agency-{index:05d}"
