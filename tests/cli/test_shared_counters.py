"""`accounts add` and `counters list` with a counter two accounts see: listed for both, which
accounts see it said, synced once."""

from __future__ import annotations


def test_a_shared_counter_is_listed_for_every_account_that_sees_it(cli):
    first, second, _third = cli.world.accounts
    shared = first.counter_ids[0]
    cli.world.share(shared, second.token)
    cli.run("accounts", "add", stdin=first.token + "\n", check_code=0)
    added = cli.run("accounts", "add", stdin=second.token + "\n", check_code=0)
    assert "4 counter(s) discovered" in added.stdout

    accounts = {a["login"]: a for a in cli.json("accounts", "list", "--json")}
    a, b = accounts[first.login]["id"], accounts[second.login]["id"]
    assert (accounts[first.login]["counters"], accounts[second.login]["counters"]) == (3, 4)
    seen = {c["counter_id"]: c for c in cli.json("counters", "list", "--account-id", str(b), "--json")}
    assert set(seen) == {shared, *second.counter_ids}
    assert (seen[shared]["account_id"], seen[shared]["accounts"]) == (a, [a, b])
    table = cli.run("counters", "list", "--account-id", str(b), check_code=0).stdout
    line = next(row for row in table.splitlines() if row.strip().startswith(str(shared)))
    assert f"{a},{b}" in line

    synced = cli.run("sync", check_code=0).stdout
    assert synced.count(f"Counter {shared} ") == 1  # planned once, through the first account
