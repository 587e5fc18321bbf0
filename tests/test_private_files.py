"""Files only their owner reads, whatever the umask: the database, the log, their folders, the
shared request pace. And the log is never appended through a symlink put in its place."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from metrika_tui.private import NotPrivate, make_private_dir, open_private

COMMAND = [sys.executable, "-m", "metrika_tui"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def run_with_umask(env: dict, umask: int, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    proc = subprocess.run(
        COMMAND + list(args),
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        preexec_fn=lambda: os.umask(umask),
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


@pytest.mark.slow
@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_every_file_is_private_whatever_the_umask(cli, tmp_path, umask):
    data = tmp_path / "fresh" / "data"  # nothing of it exists yet
    env = {
        **cli.env,
        "METRIKA_DATA_DIR": str(data),
        "METRIKA_DB": str(tmp_path / "fresh" / "db" / "metrika.db"),
        "METRIKA_CACHE_DIR": str(tmp_path / "fresh" / "cache"),
    }
    added = run_with_umask(env, umask, "accounts", "add", stdin=cli.world.tokens[0] + "\n")
    assert added.returncode == 0, added.stderr
    once = run_with_umask(env, umask, "--headless", "--once")
    assert once.returncode == 0, once.stderr
    db = Path(env["METRIKA_DB"])
    # a daemon keeps the database open: its -wal and -shm files exist while it runs
    daemon = subprocess.Popen(
        COMMAND + ["--headless"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.umask(umask),
    )
    try:
        assert any("daemon started" in daemon.stdout.readline() for _ in range(20))
        sidecars = {str(f): oct(mode(f)) for f in (db.with_name("metrika.db-wal"), db.with_name("metrika.db-shm"))}
    finally:
        daemon.terminate()
        daemon.communicate(timeout=40)
    assert set(sidecars.values()) == {"0o600"}, sidecars
    folders = [data, data / "logs", db.parent, tmp_path / "fresh" / "cache", tmp_path / "fresh"]
    files = [data / "logs" / "sync.log", db, tmp_path / "fresh" / "cache" / "pace"]
    assert {str(f): oct(mode(f)) for f in folders} == {str(f): "0o700" for f in folders}
    assert {str(f): oct(mode(f)) for f in files} == {str(f): "0o600" for f in files}
    assert (data / "logs" / "sync.log").stat().st_size > 0


def test_a_symlink_in_place_of_the_log_is_refused_and_its_target_untouched(cli, tmp_path):
    victim = tmp_path / "someone-elses-file"
    victim.write_text("precious\n")
    log = tmp_path / "logs" / "sync.log"
    log.parent.mkdir()
    log.symlink_to(victim)
    proc = cli.run("--headless", "--once", extra_env={"METRIKA_LOG_FILE": str(log)})
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "symbolic link" in proc.stderr and str(log) in proc.stderr
    assert victim.read_text() == "precious\n"


def test_an_existing_log_readable_by_others_is_made_private(tmp_path):
    log = tmp_path / "sync.log"
    log.write_text("old line\n")
    log.chmod(0o644)
    os.close(open_private(log, os.O_WRONLY | os.O_APPEND))
    assert mode(log) == 0o600 and log.read_text() == "old line\n"


def test_a_fifo_is_not_a_log(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NotPrivate, match="not a regular file"):
        open_private(fifo, os.O_WRONLY | os.O_APPEND)


def test_folders_made_private_even_with_the_owner_masked_out(tmp_path):
    old = os.umask(0o777)
    try:
        make_private_dir(tmp_path / "a" / "b")
    finally:
        os.umask(old)
    assert mode(tmp_path / "a") == mode(tmp_path / "a" / "b") == 0o700
