"""The simulated Metrika world: accounts (tokens), their counters, and every counter's figures.

Nothing per day is stored: figures come from `traffic` as pure functions of the seed, so the
answers are the same in every run and a world of 100,000 counters costs only its index.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from metrika_tui.clock import Clock, SystemClock
from metrika_tui.models import Counter, DailyStat, month_end, month_start
from metrika_tui.simulator import names
from metrika_tui.simulator.demo_world import DEMO_ACCOUNTS, DEMO_LOGIN_ACCOUNT, DEMO_SEED, demo_counters
from metrika_tui.simulator.hashing import mix
from metrika_tui.simulator.traffic import (
    OUTAGE_SHARE,
    TrafficProfile,
    full_day,
    make_profile,
    new_users,
    partial_day,
    period_users,
)

#: generated counters were created between these days (all safely in the past)
_CREATED_FROM = dt.date(2016, 1, 1).toordinal()
_CREATED_SPAN = dt.date(2026, 1, 31).toordinal() - _CREATED_FROM


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class Account:
    """A token and the login owning it. `counter_ids` is a range in generated worlds;
    `uid` is the Yandex user id `login.yandex.ru/info` answers with."""

    token: str
    login: str
    counter_ids: Sequence[int]
    uid: str = ""


def user_id_of(seed: int, index: int) -> str:
    """A stable Yandex-like user id (nine or ten digits) for the world's index-th account."""
    return str(100_000_000 + mix(seed, index, 9) % 1_900_000_000)


class World:
    """Accounts, counters and figures. Build one with `generate()` or `demo()`."""

    def __init__(
        self,
        seed: int,
        accounts: list[Account],
        make_counter: Callable[[Account, int], Counter],
        locate: Callable[[int], Account | None],
        clock: Clock | None = None,
        outage_share: float = OUTAGE_SHARE,
    ) -> None:
        self.seed = seed
        self.outage_share = outage_share
        self.accounts = accounts
        self.tokens = [a.token for a in accounts]
        self.clock: Clock = clock or SystemClock()
        self._by_token = {a.token: a for a in accounts}
        self._make_counter = make_counter
        self._locate = locate
        self._shared: dict[str, list[int]] = {}  # token -> counters others own that it may read
        self._counter = lru_cache(maxsize=65536)(self._build_counter)
        self._profile = lru_cache(maxsize=65536)(self._build_profile)

    # construction -------------------------------------------------------------------------

    @classmethod
    def generate(
        cls,
        seed: int = 0,
        accounts: int = 5,
        counters_per_account: int = 10,
        *,
        first_counter_id: int | None = None,
        moscow_share: float = 0.85,
        outage_share: float = OUTAGE_SHARE,
        logins: int | None = None,
        clock: Clock | None = None,
    ) -> World:
        """A world of `accounts` tokens with `counters_per_account` counters each.

        `outage_share`: days without any visit (broken tracking code); 0 gives every day a row.
        `logins`: how many Yandex logins hold the tokens (token i belongs to login i % logins),
        so several tokens share one login's quotas; default one login per token.
        """
        if accounts < 1 or counters_per_account < 1:
            raise ValueError("a world needs at least one account with one counter")
        if logins is not None and not 1 <= logins <= accounts:
            raise ValueError("a world has between one login and one login per account")
        first = first_counter_id or 20_000_000 + mix(seed, 1) % 40 * 1_000_000
        per = counters_per_account
        people = [
            Account(
                token=f"y0_sim{seed}_{i:05d}_{mix(seed, i, 2) & 0xFFFFFFFF:08x}",
                login=names.login(i % (logins or accounts), mix(seed, i % (logins or accounts), 3)),
                counter_ids=range(first + i * per, first + (i + 1) * per),
                uid=user_id_of(seed, i),
            )
            for i in range(accounts)
        ]

        def make_counter(account: Account, counter_id: int) -> Counter:
            key = mix(seed, counter_id, 4)
            name, site = names.counter_name_and_site(key)
            tz = names.time_zone(key, moscow_share)
            created = dt.datetime.combine(
                dt.date.fromordinal(_CREATED_FROM + mix(key, 5) % _CREATED_SPAN),
                dt.time(mix(key, 6) % 24, mix(key, 7) % 60, mix(key, 8) % 60),
                tzinfo=zone(tz),
            )
            return Counter(counter_id, name, site, tz, "Active", account.login, "own", created.isoformat())

        def locate(counter_id: int) -> Account | None:
            index, _ = divmod(counter_id - first, per)
            return people[index] if counter_id >= first and index < len(people) else None

        return cls(seed, people, make_counter, locate, clock, outage_share)

    @classmethod
    def demo(cls, clock: Clock | None = None, *, login_account: bool = False) -> World:
        """The small fixed world `--demo` shows: three accounts, 4-6 counters each.

        `login_account`: also the account `--demo accounts login` adds (not seeded)."""
        accounts = dict(DEMO_ACCOUNTS)
        if login_account:
            accounts.update(DEMO_LOGIN_ACCOUNT)
        counters = {c.id: c for token in accounts for c in demo_counters(token)}
        people = [
            Account(token, login, tuple(cid for cid, *_ in rows), uid=user_id_of(DEMO_SEED, i))
            for i, (token, (login, rows)) in enumerate(accounts.items())
        ]
        owners = {cid: a for a in people for cid in a.counter_ids}
        return cls(DEMO_SEED, people, lambda _account, cid: counters[cid], owners.get, clock)

    # lookups -------------------------------------------------------------------------------

    def account(self, token: str) -> Account | None:
        return self._by_token.get(token)

    def account_by_login(self, login: str) -> Account | None:
        return next((a for a in self.accounts if a.login.casefold() == login.casefold()), None)

    def add_token(self, token: str, account: Account) -> None:
        """Another token of the same login (the OAuth server issued it): it sees the same counters."""
        self._by_token[token] = account

    def owner(self, counter_id: int) -> Account | None:
        return self._locate(counter_id)

    def counter(self, counter_id: int) -> Counter | None:
        return self._counter(counter_id)

    def counters_of(self, token: str) -> list[Counter]:
        """Every counter the token sees: its own, then those shared with it (permission view)."""
        account = self._by_token.get(token)
        if account is None:
            raise KeyError("no account has this token")
        return [self._known(cid) for cid in account.counter_ids] + [
            dataclasses.replace(self._known(cid), permission="view") for cid in self._shared.get(token, ())
        ]

    def _known(self, counter_id: int) -> Counter:
        """A counter an account holds or shares: the world built it."""
        counter = self._counter(counter_id)
        if counter is None:
            raise KeyError(f"counter {counter_id} is not in this world")
        return counter

    def share(self, counter_id: int, token: str) -> None:
        """Let another account read a counter (delegated access, as Metrika's "view" permission)."""
        if self._counter(counter_id) is None or token not in self._by_token:
            raise KeyError("share a counter of this world with an account of this world")
        if counter_id not in (shared := self._shared.setdefault(token, [])):
            shared.append(counter_id)

    def can_read(self, account: Account, counter_id: int) -> bool:
        return self.owner(counter_id) is account or counter_id in self._shared.get(account.token, ())

    def counter_count(self) -> int:
        return sum(len(a.counter_ids) for a in self.accounts)

    def _build_counter(self, counter_id: int) -> Counter | None:
        account = self._locate(counter_id)
        return None if account is None else self._make_counter(account, counter_id)

    def _build_profile(self, counter_id: int) -> TrafficProfile:
        counter = self._require(counter_id)
        created = dt.date.fromisoformat(counter.create_time[:10])
        return make_profile(self.seed, counter_id, created, self.outage_share)

    def _require(self, counter_id: int) -> Counter:
        counter = self._counter(counter_id)
        if counter is None:
            raise KeyError(f"no counter {counter_id} in this world")
        return counter

    # figures -------------------------------------------------------------------------------

    def local_now(self, counter_id: int, now: dt.datetime | None = None) -> dt.datetime:
        """The wall clock in the counter's own time zone (its reports' dates are local)."""
        return (now or self.clock.now()).astimezone(zone(self._require(counter_id).time_zone))

    def daily(self, counter_id: int, day: dt.date, now: dt.datetime | None = None) -> DailyStat:
        """The figures the API shows for one local day; zeros for a day without visits.

        Today is partial (scaled by the part of the day gone), the future is empty.
        """
        local = self.local_now(counter_id, now)
        today = local.date()
        if day > today:
            return DailyStat(day, 0, 0, 0, 0.0, 0.0)
        full = full_day(self._profile(counter_id), day)
        if day < today:
            return full
        elapsed = local.hour * 3600 + local.minute * 60 + local.second
        return partial_day(full, elapsed / 86400)

    def days(self, counter_id: int, first: dt.date, last: dt.date, now: dt.datetime | None = None) -> list[DailyStat]:
        """Every day of the window, days without visits included (as zeros)."""
        now = now or self.clock.now()
        return [self.daily(counter_id, first + dt.timedelta(n), now) for n in range((last - first).days + 1)]

    def period_users(self, counter_id: int, first: dt.date, last: dt.date, now: dt.datetime | None = None) -> int:
        """Distinct users over the window, as the API counts them at a coarser grain."""
        return self.users_of_days(counter_id, self.days(counter_id, first, last, now))

    def users_of_days(self, counter_id: int, days: list[DailyStat]) -> int:
        """Distinct users over the given consecutive days (see `period_users`)."""
        return period_users(self._profile(counter_id), days)

    def month_users(self, counter_id: int, month_first_day: dt.date, now: dt.datetime | None = None) -> int:
        """Users of the whole month at month grain: below the sum of its days' users."""
        return self.period_users(counter_id, month_start(month_first_day), month_end(month_first_day), now)

    def new_users(self, counter_id: int, day: DailyStat) -> int:
        """First-time users of that day (a share of its users)."""
        return new_users(self._profile(counter_id), day)
