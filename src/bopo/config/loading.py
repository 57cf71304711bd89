"""Settings read from the INI file and the environment, every problem reported at once."""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from bopo.config.profiles import FORMAT_SECTION, FormatProfile
from bopo.config.sections import _Section
from bopo.config.settings import _ATTRS, _SECTIONS, Settings
from bopo.errors import ConfigError

CONFIG_ENV = "BOPO_CONFIG"
DEFAULT_FILE = "bopo.ini"
_ENV_KEY = re.compile(r"^BOPO_([A-Z0-9_]+?)__([A-Z0-9_]+)$")


_SECRETS = {
    ("smtp", "password"),
    ("server", "secret_key"),
    ("shopify", "webhook_secret"),
    ("metrics", "token"),
}


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the INI (explicit path, else $BOPO_CONFIG, else ./bopo.ini if present) and env."""
    env = os.environ if env is None else env
    raw: dict[str, dict[str, str]] = {name: {} for name in _SECTIONS}
    problems: list[str] = []
    profiles: dict[str, dict[str, str]] = {}
    chosen = path or env.get(CONFIG_ENV)
    source = "(defaults)"
    if chosen is None and Path(DEFAULT_FILE).is_file():
        chosen = DEFAULT_FILE
    if chosen is not None:
        source = _read_file(Path(chosen), raw, profiles, problems)
    _read_env(env, raw, problems)
    sections = _sections(raw, problems)
    formats = _formats(profiles, problems)
    if problems:
        raise ConfigError(problems)
    return Settings(
        **{_ATTRS.get(k, k): v for k, v in sections.items()}, formats=formats, source=source
    )


def _read_file(
    file: Path,
    raw: dict[str, dict[str, str]],
    profiles: dict[str, dict[str, str]],
    problems: list[str],
) -> str:
    """The INI file's keys into `raw`, its [format:NAME] sections into `profiles`; its name."""
    if not file.is_file():
        raise ConfigError([f"config file {str(file)!r} does not exist"])
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(file, encoding="utf-8")
    except configparser.Error as exc:
        raise ConfigError([f"{file}: {exc}"]) from exc
    for section in parser.sections():
        if section.startswith(FORMAT_SECTION):
            profiles[section[len(FORMAT_SECTION) :].strip()] = dict(parser.items(section))
            continue
        if section not in raw:
            problems.append(f"[{section}]: unknown section")
            continue
        for key, value in parser.items(section):
            if (section, key) in _SECRETS:
                problems.append(
                    f"[{section}] {key}: not read from the file; "
                    f"set BOPO_{section.upper()}__{key.upper()} instead"
                )
                continue
            raw[section][key] = value
    return str(file)


def _read_env(env: Mapping[str, str], raw: dict[str, dict[str, str]], problems: list[str]) -> None:
    """BOPO_<SECTION>__<KEY> variables into `raw`, over the file's keys."""
    for name, value in env.items():
        match = _ENV_KEY.match(name)
        if not match:
            continue
        section, key = match.group(1).lower(), match.group(2).lower()
        if section not in raw:
            problems.append(f"{name}: unknown section [{section}]")
            continue
        raw[section][key] = value


def _error_words(err: ErrorDetails) -> tuple[str, str]:
    """The key a validation error is about, and what is wrong with it, in words."""
    key = ".".join(str(p) for p in err["loc"]) or "?"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "value_error":
        msg = str(err.get("ctx", {}).get("error", msg))
    return key, msg


def _sections(raw: dict[str, dict[str, str]], problems: list[str]) -> dict[str, _Section]:
    sections: dict[str, _Section] = {}
    for name, model in _SECTIONS.items():
        try:
            sections[name] = model.model_validate(raw[name])
        except ValidationError as exc:
            for err in exc.errors():
                key, msg = _error_words(err)
                shown = raw[name].get(key)
                value = "" if shown is None or (name, key) in _SECRETS else f" (got {shown!r})"
                problems.append(f"[{name}] {key}: {msg}{value}")
    return sections


def _formats(profiles: dict[str, dict[str, str]], problems: list[str]) -> dict[str, FormatProfile]:
    formats: dict[str, FormatProfile] = {}
    for name, values in profiles.items():
        try:
            formats[name] = FormatProfile.for_section(name, values)
        except ValidationError as exc:
            for err in exc.errors():
                key, msg = _error_words(err)
                problems.append(f"[{FORMAT_SECTION}{name}] {key}: {msg}")
    return formats
