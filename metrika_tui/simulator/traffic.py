"""What a counter's traffic looks like: a profile per counter and figures per day.

Real sites have a weekly rhythm (offices browse on weekdays, shoppers at weekends), grow
or shrink over the years, dip over the New Year holidays, ramp up after the code is
installed, and are noisy from day to day. Each counter draws its own parameters from a
hash of (seed, counter id); each day draws its noise from a hash of (seed, counter id, day).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from metrika_tui.models import DailyStat
from metrika_tui.simulator.hashing import between, fields16, mix, splitmix, unit, wobble

#: multipliers Monday..Friday; Saturday and Sunday come from the profile
_WORKDAYS = (1.0, 1.04, 1.03, 1.0, 0.93)
#: the reference day growth is measured from (figures there equal the base)
_GROWTH_ORIGIN = dt.date(2024, 1, 1).toordinal()
_RAMP_DAYS = 45
#: ordinal of 31 December of the year before, by year (day of year = ordinal - this)
_YEAR_START = {year: dt.date(year, 1, 1).toordinal() - 1 for year in range(2000, 2101)}
#: share of days the tracking code is broken: no visits at all (the API then has no row)
OUTAGE_SHARE = 0.004


@dataclass(frozen=True, slots=True)
class TrafficProfile:
    """The per-counter parameters every daily figure is derived from."""

    key: int  # mix(seed, counter id): the root of every draw for this counter
    first_day: int  # ordinal of the first day with data (the counter's creation, local)
    base_visits: float
    weekend: float  # Saturday multiplier (Sunday is 5 % more)
    growth: float  # per year, continuous
    season: float  # amplitude of the yearly wave
    noise: float  # amplitude of day-to-day noise
    users_per_visit: float
    new_user_share: float
    page_depth: float
    bounce_rate: float
    visit_duration: float
    loyalty: float  # share of a period's daily users who came back on another day
    outage_share: float = OUTAGE_SHARE


def make_profile(seed: int, counter_id: int, first_day: dt.date, outage_share: float = OUTAGE_SHARE) -> TrafficProfile:
    key = mix(seed, counter_id)
    office = unit(key, 2) < 0.55
    return TrafficProfile(
        key=key,
        first_day=first_day.toordinal(),
        base_visits=math.exp(between(math.log(12), math.log(25_000), key, 1)),
        weekend=between(0.42, 0.75, key, 3) if office else between(1.0, 1.25, key, 3),
        growth=between(-0.2, 0.6, key, 4),
        season=between(0.0, 0.18, key, 5),
        noise=between(0.08, 0.22, key, 6),
        users_per_visit=between(0.72, 0.92, key, 7),
        new_user_share=between(0.45, 0.82, key, 8),
        page_depth=between(1.4, 5.5, key, 9),
        bounce_rate=between(8.0, 55.0, key, 10),
        visit_duration=between(35.0, 420.0, key, 11),
        loyalty=between(0.12, 0.45, key, 12),
        outage_share=outage_share,
    )


def full_day(p: TrafficProfile, day: dt.date) -> DailyStat:
    """The day's final figures (what the API shows once the day is over).

    Three hashes of (counter, day) give the twelve 16-bit draws a day needs: this runs for
    every day of every report, so it is kept to a handful of integer operations.
    """
    ordinal = day.toordinal()
    h = mix(p.key, ordinal)
    a1, a2, b1, b2 = fields16(h)
    h = splitmix(h)
    c1, c2, d1, d2 = fields16(h)
    e1, e2, outage, _ = fields16(splitmix(h))
    if ordinal < p.first_day or outage < p.outage_share:
        return DailyStat(day, 0, 0, 0, 0.0, 0.0)
    weekday = day.weekday()
    rhythm = _WORKDAYS[weekday] if weekday < 5 else p.weekend * (1.0 if weekday == 5 else 1.05)
    growth = math.exp(p.growth * (ordinal - _GROWTH_ORIGIN) / 365.0)
    day_of_year = ordinal - (_YEAR_START.get(day.year) or dt.date(day.year, 1, 1).toordinal() - 1)
    season = 1.0 + p.season * math.cos(2 * math.pi * (day_of_year - 30) / 365.0)
    holidays = 0.6 if day_of_year <= 8 else 1.0
    age = ordinal - p.first_day
    ramp = 0.25 + 0.75 * age / _RAMP_DAYS if age < _RAMP_DAYS else 1.0
    noise = 1.0 + p.noise * (a1 + a2 - 1.0)
    visits = int(p.base_visits * rhythm * growth * season * holidays * ramp * noise + 0.5)
    if visits == 0:
        return DailyStat(day, 0, 0, 0, 0.0, 0.0)
    users = min(visits, max(1, round(visits * (p.users_per_visit + 0.03 * (b1 + b2 - 1.0)))))
    depth = p.page_depth * (1.0 + 0.08 * (c1 + c2 - 1.0))
    bounce = p.bounce_rate * (1.0 + 0.1 * (d1 + d2 - 1.0))
    duration = p.visit_duration * (1.0 + 0.15 * (e1 + e2 - 1.0))
    return DailyStat(
        date=day,
        visits=visits,
        users=users,
        pageviews=max(visits, round(visits * depth)),
        bounce_rate=round(min(100.0, max(0.0, bounce)), 6),
        avg_visit_duration=round(duration, 6),
    )


def partial_day(full: DailyStat, share_of_day: float) -> DailyStat:
    """The same day seen while it is still going: counts scaled by the part elapsed."""
    visits = int(full.visits * share_of_day)
    if visits == 0:
        return DailyStat(full.date, 0, 0, 0, 0.0, 0.0)
    return DailyStat(
        date=full.date,
        visits=visits,
        users=min(visits, max(1, int(full.users * share_of_day))),
        pageviews=max(visits, int(full.pageviews * share_of_day)),
        bounce_rate=full.bounce_rate,
        avg_visit_duration=full.avg_visit_duration,
    )


def new_users(p: TrafficProfile, day: DailyStat) -> int:
    return min(day.users, round(day.users * p.new_user_share))


def period_users(p: TrafficProfile, days: list[DailyStat]) -> int:
    """Distinct users over several days: fewer than the sum, because people come back.

    At least the busiest day's users; strictly less than the sum whenever two or more days
    had users (every day has at least one, so the busiest day is below the sum).
    """
    users = [d.users for d in days if d.users]
    if len(users) < 2:
        return sum(users)
    total = sum(users)
    first = days[0].date.toordinal()
    returning = p.loyalty * (1.0 - 1.0 / len(users)) * (1.0 + 0.05 * wobble(p.key, first, len(days), 19))
    return max(max(users), min(total - 1, round(total * (1.0 - returning))))
