"""The fixed demo world: three accounts an agency might really hold, with their sites.

The tokens are plain strings on purpose: `metrika-tui --demo` adds them as accounts.
"""

from __future__ import annotations

from metrika_tui.models import Counter

DEMO_SEED = 2024

#: token -> (login, counters as (id, name, site, time zone, created at local time with offset))
DEMO_ACCOUNTS: dict[str, tuple[str, tuple[tuple[int, str, str, str, str], ...]]] = {
    "demo-agency-alpha-token": (
        "alpha-digital-agency",
        (
            (51204117, "Цветочная лавка «Флора»", "flora-lavka.ru", "Europe/Moscow", "2019-03-14T11:20:05+03:00"),
            (
                51204562,
                "Автосервис на Ленинском",
                "autoservis-leninsky.ru",
                "Europe/Moscow",
                "2019-07-02T09:41:37+03:00",
            ),
            (53877210, "Стоматология «Улыбка»", "ulybka-dent.ru", "Europe/Moscow", "2020-02-18T16:05:12+03:00"),
            (56120394, "Школа английского Speak Up", "speakup-school.ru", "Europe/Moscow", "2021-09-01T08:00:44+03:00"),
            (
                61455023,
                "Пекарня «Хлебный дом», Санкт-Петербург",
                "hlebdom-spb.ru",
                "Europe/Moscow",
                "2022-11-23T13:37:09+03:00",
            ),
            (
                67301988,
                "Турагентство «Вокруг света»",
                "vokrug-sveta-tour.ru",
                "Europe/Moscow",
                "2024-04-05T10:12:51+03:00",
            ),
        ),
    ),
    "demo-agency-beta-token": (
        "beta-marketing",
        (
            (44718205, "Мебельная фабрика «Урал»", "ural-mebel.ru", "Asia/Yekaterinburg", "2017-05-22T12:30:00+05:00"),
            (
                47990316,
                "Сибирский фермер — доставка продуктов",
                "sibfermer.ru",
                "Asia/Novosibirsk",
                "2018-10-09T15:02:18+07:00",
            ),
            (52633481, "Интернет-магазин «ТехноМир»", "tehnomir-shop.ru", "Europe/Moscow", "2019-12-01T00:15:27+03:00"),
            (
                58841769,
                "Юридическая фирма «Право и дело»",
                "pravo-delo.ru",
                "Europe/Moscow",
                "2021-03-30T17:48:02+03:00",
            ),
            (
                63012877,
                "Отель «Янтарный берег»",
                "amber-coast-hotel.ru",
                "Europe/Kaliningrad",
                "2023-06-14T09:26:40+02:00",
            ),
        ),
    ),
    "demo-shop-gamma-token": (
        "gamma-store",
        (
            (39920114, "Gamma Store — основной сайт", "gamma-store.ru", "Europe/Moscow", "2016-08-17T14:00:00+03:00"),
            (39920871, "Gamma Store — блог", "blog.gamma-store.ru", "Europe/Moscow", "2016-08-17T14:22:31+03:00"),
            (60274456, "Gamma Store Казахстан", "gamma-store.kz", "Asia/Almaty", "2022-07-11T10:05:09+05:00"),
            (
                69518302,
                "Gamma Store — акция «Чёрная пятница»",
                "sale.gamma-store.ru",
                "Europe/Moscow",
                "2025-10-20T12:00:00+03:00",
            ),
        ),
    ),
}

#: the demo tokens, in the order the demo adds them
DEMO_TOKENS: tuple[str, ...] = tuple(DEMO_ACCOUNTS)

#: the account `--demo accounts login` logs in as (the simulator approves the code by itself)
DEMO_LOGIN_ACCOUNT: dict[str, tuple[str, tuple[tuple[int, str, str, str, str], ...]]] = {
    "demo-login-delta-token": (
        "Delta-Ads",
        (
            (
                70114563,
                "Delta Ads — лендинг «Весна»",
                "vesna.delta-ads.ru",
                "Europe/Moscow",
                "2025-02-03T09:15:00+03:00",
            ),
            (70114788, "Кондитерская «Мёд и корица»", "med-korica.ru", "Europe/Samara", "2025-05-19T11:02:41+04:00"),
            (70223901, "Delta Ads — портфолио", "delta-ads.ru", "Europe/Moscow", "2025-08-28T16:47:13+03:00"),
        ),
    ),
}


def demo_counters(token: str) -> tuple[Counter, ...]:
    login, rows = {**DEMO_ACCOUNTS, **DEMO_LOGIN_ACCOUNT}[token]
    return tuple(
        Counter(id=cid, name=name, site=site, time_zone=tz, owner_login=login, create_time=created)
        for cid, name, site, tz, created in rows
    )
