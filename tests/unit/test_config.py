"""Settings come from the INI file and BOPO_<SECTION>__<KEY>; bad ones are named at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from bopo.config import load_settings, parse_duration
from bopo.errors import ConfigError
from bopo.web.app import check_secret_key


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bopo.ini"
    path.write_text(text)
    return path


def test_defaults_keep_allocation_to_existing_pos_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.backorders.allocate_existing_pos is False
    assert settings.backorders.policy == "earliest_due"
    assert settings.database.url == "sqlite:///bopo.db"


def test_the_ini_file_sets_options(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[backorders]\nallocate_existing_pos = true\n"
        "default_po_line_status = ON ORDER\n[smtp]\nport = 2525\n",
    )
    settings = load_settings(path, env={})
    assert settings.backorders.allocate_existing_pos is True
    assert settings.backorders.default_po_line_status == "ON ORDER"
    assert settings.smtp.port == 2525
    assert settings.source == str(path)


def test_environment_variables_override_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[backorders]\nallocate_existing_pos = true\n")
    settings = load_settings(
        path, env={"BOPO_BACKORDERS__ALLOCATE_EXISTING_POS": "false", "BOPO_SERVER__PORT": "9000"}
    )
    assert settings.backorders.allocate_existing_pos is False
    assert settings.server.port == 9000


def test_bopo_config_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[email]\ncompany_name = Kettle & Co\n")
    assert load_settings(env={"BOPO_CONFIG": str(path)}).email.company_name == "Kettle & Co"


def test_every_bad_value_is_reported_by_section_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[backorders]\nallocate_existing_pos = maybe\npolicy = cheapest\n"
        "[smtp]\nport = seventy\n[nonsense]\nx = 1\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={"BOPO_SERVER__PROT": "1"})
    text = "\n".join(caught.value.problems)
    assert "[backorders] allocate_existing_pos" in text
    assert "'maybe'" in text
    assert "[backorders] policy: " in text
    assert "unknown policy 'cheapest'" in text
    assert "[smtp] port" in text
    assert "[nonsense]: unknown section" in text
    assert "[server] prot: unknown key" in text


def test_the_smtp_password_is_taken_only_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[smtp]\npassword = hunter2\n")
    with pytest.raises(ConfigError, match="BOPO_SMTP__PASSWORD"):
        load_settings(path, env={})
    settings = load_settings(env={"BOPO_SMTP__PASSWORD": "hunter2"})
    assert settings.smtp.password is not None
    assert settings.smtp.password.get_secret_value() == "hunter2"
    assert "hunter2" not in str(settings.masked())


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.ini", env={})


KEY = "s3cret-" + "x" * 40


def test_the_session_secret_comes_only_from_the_environment_and_is_masked(
    tmp_path: Path,
) -> None:
    settings = load_settings(env={"BOPO_SERVER__SECRET_KEY": KEY})
    assert settings.server.secret_key is not None
    assert settings.server.secret_key.get_secret_value() == KEY
    assert KEY not in str(settings.masked())
    path = write(tmp_path, f"[server]\nsecret_key = {KEY}\n")
    with pytest.raises(ConfigError, match="set BOPO_SERVER__SECRET_KEY instead"):
        load_settings(path, env={})


def test_a_short_session_secret_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"\[server\] secret_key: must be at least 32"):
        load_settings(env={"BOPO_SERVER__SECRET_KEY": "short"})


@pytest.mark.parametrize(
    ("url", "workers", "refused"),
    [
        ("sqlite:///bopo.db", 1, False),  # a laptop: a key per process will do
        ("sqlite:///bopo.db", 2, True),  # workers must share one key
        ("postgresql+psycopg://db/bopo", 1, True),  # production: sessions must outlive restarts
    ],
)
def test_serving_without_a_session_secret_is_refused_where_sessions_are_shared(
    url: str, workers: int, refused: bool
) -> None:
    settings = load_settings(env={"BOPO_DATABASE__URL": url})
    if refused:
        with pytest.raises(ConfigError, match="secret_key: not set"):
            check_secret_key(settings, workers=workers)
    else:
        check_secret_key(settings, workers=workers)
    with_key = load_settings(env={"BOPO_DATABASE__URL": url, "BOPO_SERVER__SECRET_KEY": KEY})
    check_secret_key(with_key, workers=workers)


def test_split_is_off_and_notices_wait_a_day_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_settings(env={}).backorders
    assert (cfg.allow_split, cfg.notify_delay_days, cfg.notify_min_interval_hours) == (
        False,
        1,
        24,
    )


def test_split_and_notice_settings_are_read_and_a_bad_one_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[backorders]\nallow_split = true\nnotify_min_interval_hours = 6\n")
    cfg = load_settings(path, env={"BOPO_BACKORDERS__NOTIFY_DELAY_DAYS": "3"}).backorders
    assert (cfg.allow_split, cfg.notify_delay_days, cfg.notify_min_interval_hours) == (True, 3, 6)
    with pytest.raises(ConfigError, match=r"\[backorders\] notify_delay_days"):
        load_settings(path, env={"BOPO_BACKORDERS__NOTIFY_DELAY_DAYS": "0"})


def test_trusted_proxies_are_addresses_or_networks_read_as_a_list(tmp_path: Path) -> None:
    assert load_settings(env={}).server.trusted_proxies == ("127.0.0.1",)  # as uvicorn's
    path = write(tmp_path, "[server]\ntrusted_proxies = 10.0.0.7, 10.1.2.3/16\n  ::1\n")
    assert load_settings(path, env={}).server.trusted_proxies == ("10.0.0.7", "10.1.0.0/16", "::1")
    none = load_settings(env={"BOPO_SERVER__TRUSTED_PROXIES": ""})
    assert none.server.trusted_proxies == ()


def test_a_trusted_proxy_that_is_not_an_address_is_refused_by_name_at_start() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(env={"BOPO_SERVER__TRUSTED_PROXIES": "10.0.0.7,*,proxy.internal"})
    (problem,) = refused.value.problems
    assert problem.startswith("[server] trusted_proxies: not an IP address or network: '*'")
    assert "'proxy.internal'" in problem


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), ("45", 45), (" 1.5m ", 90)],
)
def test_a_schedule_is_a_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["off", "OFF", "never", "0"])
def test_a_schedule_can_be_off(text: str) -> None:
    assert parse_duration(text) is None


def test_the_worker_and_metrics_sections_come_from_file_and_environment(tmp_path: Path) -> None:
    ini = tmp_path / "bopo.ini"
    ini.write_text("[worker]\nsend_emails_every = 1m\nnotices_every = off\n")
    settings = load_settings(
        ini, env={"BOPO_WORKER__WORKLIST_RETRY_EVERY": "1h", "BOPO_METRICS__TOKEN": "t" * 20}
    )
    assert (
        settings.worker.send_emails_every,
        settings.worker.notices_every,
        settings.worker.worklist_retry_every,
    ) == (60, None, 3600)
    assert settings.metrics.token is not None
    assert "t" * 20 not in str(settings.masked())


def test_the_metrics_token_is_never_read_from_the_file(tmp_path: Path) -> None:
    ini = tmp_path / "bopo.ini"
    ini.write_text("[metrics]\ntoken = " + "x" * 20 + "\n[server]\nlog_format = xml\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(ini, env={})
    assert caught.value.problems == [
        "[metrics] token: not read from the file; set BOPO_METRICS__TOKEN instead",
        "[server] log_format: Input should be 'text' or 'json' (got 'xml')",
    ]
