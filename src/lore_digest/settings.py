"""The TOML config file, validated once; every bad key is named in the error.

    db = "~/.local/share/lore-digest/lore-digest.sqlite3"   # optional

    [summarizer]                  # default for every list (and for `report`)
    backend = "openai"            # offline | openai | anthropic
    model = "qwen2.5:14b"
    base_url = "http://localhost:11434/v1"
    concurrency = 4
    budget_tokens = 12000         # input tokens per call before map-reduce
    max_tokens_run = 2000000      # stop calling the model past this many tokens per run
    fallback = "none"             # none: a backend that cannot work fails the report;
                                  # offline: facts-only summaries, said once per list

    [smtp]                        # optional: only needed to mail digests
    host = "smtp.example.org"
    port = 587                    # default: 587 starttls, 465 ssl, 25 none
    security = "starttls"         # starttls | ssl | none (a local relay)
    username = "digest@example.org"   # the password comes from $LORE_DIGEST_SMTP_PASSWORD
    from = "lore-digest <digest@example.org>"

    [channels.team]               # optional: a chat channel digests are posted to
    kind = "feishu"               # feishu | dingtalk | wecom | slack | matrix | telegram | webhook
    url = "https://open.feishu.cn/open-apis/bot/v2/hook/..."
    secret_env = "FEISHU_SECRET"  # the signing secret's environment variable
    site_url = "https://digest.example.org/kvmarm"   # links to the full report
    lang = "zh"                   # default: the list's first language

    [lists.kvmarm]                # what `lore-digest run` keeps up to date
    mirror = "https://lore.kernel.org/kvmarm"   # exactly one of mirror, lore, mbox
    url_base = "https://lore.kernel.org/kvmarm/"
    languages = ["zh", "en"]
    timezone = "Asia/Shanghai"
    output = "/srv/digest/kvmarm"   # OUTPUT/reports, OUTPUT/site
    db = "kvmarm.sqlite3"         # optional: the list's own store (else the shared one);
                                  # lists with their own stores run at once: run --jobs N
    recipients = ["kvmarm-digest@example.org"]
    channels = ["team"]           # posted after the site is built, once per week
    since = 2024-01-01            # optional: no reports of weeks before this day's week;
                                  # a lore source's first fetch starts here (else 4 weeks back)

    [lists.kvmarm.summarizer]     # optional: overrides keys of [summarizer] for this list
    model = "qwen2.5:14b"

Relative paths (db, a list's db, output, mbox, a local mirror) are taken relative to the directory of
the config file, so a config checked into a repository works from any working directory
(a CI job, a systemd unit). Command-line options override the file; secrets (API keys,
the SMTP password) only ever come from the environment, and a password in the file is
refused rather than silently ignored.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date
from email import policy
from email.headerregistry import Address
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lore_digest.config import DB_ENV, resolve_db_path
from lore_digest.errors import UsageError
from lore_digest.sources.base import Source
from lore_digest.sources.registry import SOURCES, make_source
from lore_digest.vocabulary import check_list_name

SMTP_PASSWORD_ENV = "LORE_DIGEST_SMTP_PASSWORD"
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
SOURCE_KEYS = tuple(SOURCES)  # one key per kind of source: mirror, mbox, lore
_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[\w.-]+@[\w.-]+:")

Language = Literal["zh", "en"]


def parse_mailbox(value: str) -> Address:
    """One mail address (optionally with a display name), or ValueError saying why not.

    The email package's own parser is used so that what passes here is exactly what
    the From/To headers will carry; CR/LF and lists of addresses are refused, because
    either would let a config value add headers or recipients to a mail.
    """
    if any(ch in value for ch in "\r\n\0"):
        raise ValueError("must not contain line breaks")
    header = policy.default.header_factory("to", value)
    addresses = header.addresses  # type: ignore[attr-defined]
    if header.defects or len(addresses) != 1:
        raise ValueError(f"{value!r} is not one mail address")
    address: Address = addresses[0]
    if not address.username or not address.domain or "." not in address.domain:
        raise ValueError(f"{value!r} is not a mail address like name@example.org")
    return address


ListName = Annotated[str, AfterValidator(check_list_name)]


def _local_path(value: str | Path, info: ValidationInfo) -> Path:
    """`~` expanded; relative paths anchored at the config file's directory."""
    path = Path(value).expanduser()
    base = (info.context or {}).get("base")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path


def _http_url(value: str) -> str:
    if not value.lower().startswith(("http://", "https://")) or any(c.isspace() for c in value):
        # The value is not repeated: a webhook URL carries its access token.
        raise ValueError("is not an http(s) URL")
    return value


class SummarizerSettings(BaseModel):
    """The [summarizer] table."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["offline", "openai", "anthropic"] = "offline"
    model: str | None = None
    base_url: str | None = None
    concurrency: int = Field(default=4, ge=1, le=64)
    budget_tokens: int = Field(default=12_000, ge=1_000)
    max_tokens_run: int | None = Field(default=None, ge=1)
    timeout: float = Field(default=120.0, gt=0)
    # A backend that cannot work (no key, refused, no such model): "none" fails the
    # report with one line, "offline" writes facts-only summaries and says so once.
    fallback: Literal["none", "offline"] = "none"
    # Through the provider's batch API (half price, answers within 24 hours): for
    # backfills. `batch_wait` seconds of waiting before the run stops and says how to
    # resume; `batch_poll` seconds between two looks at a running batch.
    batch: bool = False
    batch_wait: float = Field(default=24 * 3600.0, ge=0)
    batch_poll: float = Field(default=30.0, gt=0)


class SummarizerOverride(BaseModel):
    """A list's [lists.NAME.summarizer]: only the keys it sets replace the global ones."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["offline", "openai", "anthropic"] | None = None
    model: str | None = None
    base_url: str | None = None
    concurrency: int | None = Field(default=None, ge=1, le=64)
    budget_tokens: int | None = Field(default=None, ge=1_000)
    max_tokens_run: int | None = Field(default=None, ge=1)
    timeout: float | None = Field(default=None, gt=0)
    fallback: Literal["none", "offline"] | None = None
    batch: bool | None = None
    batch_wait: float | None = Field(default=None, ge=0)
    batch_poll: float | None = Field(default=None, gt=0)

    def over(self, base: SummarizerSettings) -> SummarizerSettings:
        """`base` with this table's keys applied."""
        return base.model_copy(update=self.model_dump(exclude_unset=True))


class SmtpSettings(BaseModel):
    """The [smtp] table: how digests leave (the password is only read from the env)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    sender: str = Field(alias="from")
    timeout: float = Field(default=60.0, gt=0)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if any(c.isspace() for c in value) or "/" in value:
            raise ValueError(f"{value!r} is not a host name")
        return value

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        parse_mailbox(value)
        return value

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(ch in value for ch in "\r\n\0")):
            raise ValueError("must be a non-empty single line")
        return value

    @property
    def effective_port(self) -> int:
        """The configured port, else the usual one for the security mode."""
        return self.port or DEFAULT_PORTS[self.security]

    @property
    def sender_address(self) -> Address:
        """The From address, parsed."""
        return parse_mailbox(self.sender)


ChannelKind = Literal["feishu", "dingtalk", "wecom", "slack", "matrix", "telegram", "webhook"]
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# What each kind needs besides `kind` (the others are refused: a key a kind does not use
# is a misunderstanding worth saying).
_CHANNEL_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "feishu": ({"url"}, {"secret_env"}),
    "dingtalk": ({"url"}, {"secret_env"}),
    "wecom": ({"url"}, set()),
    "slack": ({"url"}, set()),
    "matrix": ({"homeserver", "room", "token_env"}, set()),
    "telegram": ({"chat_id", "token_env"}, {"api_url"}),
    "webhook": ({"url"}, {"secret_env"}),
}
_CHANNEL_OPTIONAL = {"lang", "site_url"}


class ChannelSettings(BaseModel):
    """A [channels.NAME] table: a chat channel the digest is posted to (channels.send).

    Secrets never sit in the file: `secret_env` / `token_env` name the environment
    variables that hold them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ChannelKind
    url: str | None = None
    homeserver: str | None = None
    room: str | None = None
    api_url: str | None = None
    chat_id: str | None = None
    secret_env: str | None = None
    token_env: str | None = None
    lang: Language | None = None
    site_url: str | None = None

    @field_validator("url", "homeserver", "api_url", "site_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("secret_env", "token_env")
    @classmethod
    def _env_names(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value

    @field_validator("room", "chat_id")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(c in value for c in "\r\n\0")):
            raise ValueError("must be a non-empty single line")
        return value

    @model_validator(mode="after")
    def _keys_of_kind(self) -> ChannelSettings:
        required, optional = _CHANNEL_KEYS[self.kind]
        given = {k for k in self.model_fields_set if k != "kind"} - _CHANNEL_OPTIONAL
        missing = sorted(required - given)
        unused = sorted(given - required - optional)
        if missing or unused:
            what = []
            if missing:
                what.append(f"needs {', '.join(missing)}")
            if unused:
                what.append(f"does not use {', '.join(unused)}")
            raise PydanticCustomError(
                "channel_keys",
                "a {kind} channel {what}",
                {"kind": self.kind, "what": " and ".join(what)},
            )
        return self


def _default_languages() -> list[Language]:
    return ["zh"]


# A week with more mail than this is "busy": its threads are listed brief (detail "auto").
BRIEF_OVER = 500


class ListSettings(BaseModel):
    """One [lists.NAME] table: where its mail comes from and where its digests go."""

    model_config = ConfigDict(extra="forbid")

    mirror: str | None = None
    lore: str | None = None
    mbox: Path | None = None
    url_base: str | None = None
    languages: list[Language] = Field(default_factory=_default_languages, min_length=1)
    timezone: str = "UTC"
    output: Path
    # The list's own store, as public-inbox keeps one inbox each (None: the shared store,
    # --db or the top-level `db`); `run --jobs N` runs lists of different stores at once.
    db: Path | None = None
    recipients: list[str] = Field(default_factory=list)
    since: date | None = None
    summarizer: SummarizerOverride | None = None
    maintainers: Path | None = None  # a file in the kernel's MAINTAINERS format
    # Other projects' files in that format, by the project's subject prefix:
    # {"kvm-unit-tests" = "~/src/kvm-unit-tests/MAINTAINERS", qemu = "..."}
    project_maintainers: dict[str, Path] = Field(default_factory=dict)
    trees: list[str] = Field(default_factory=list)  # "URL_OR_PATH[@BRANCH]" of maintainer trees
    tree_grace_days: int = Field(default=14, ge=0)  # "applied" in mail, not in a tree after this
    stable_waits: bool = False  # stable/AUTOSEL postings listed as waiting for review
    # How much each thread shows in Markdown, text and mail: "brief" is one line and the
    # summary, "full" everything; "auto" is brief for weeks of more than brief_over mails.
    detail: Literal["auto", "full", "brief"] = "auto"
    brief_over: int = Field(default=BRIEF_OVER, ge=0)
    # Subsystem names by MAINTAINERS-style path patterns: {VGIC = ["arch/arm64/kvm/vgic/"]}
    path_groups: dict[str, list[str]] = Field(default_factory=dict)
    # Only threads touching these subsystems (names as facts.subsystems gives them;
    # case-insensitive, part of a name is enough): the list's reports, site and mail.
    subsystems: list[str] = Field(default_factory=list)
    # Addresses whose view of the week opens the report (report.people): their series,
    # what waits for them, the reviews they gave.
    people: list[str] = Field(default_factory=list)
    # Bracket prefixes of other projects' patches on this list ("[PATCH kvmtool]"); None:
    # kvmarm's (kvm-unit-tests, kvmtool, qemu, ...). nvdimm would say ["ndctl"].
    other_projects: list[str] | None = None
    # Chat channels ([channels.NAME]) that `run` posts each completed week to, once.
    channels: list[str] = Field(default_factory=list)

    @field_validator("mirror")
    @classmethod
    def _mirror(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or _URL_LIKE.match(value):
            return value
        return str(_local_path(value, info))

    @field_validator("lore", "url_base")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("trees")
    @classmethod
    def _trees(cls, value: list[str], info: ValidationInfo) -> list[str]:
        from lore_digest.trees.spec import parse_tree_spec

        out = []
        for index, item in enumerate(value):
            try:
                spec = parse_tree_spec(item)
            except UsageError as exc:
                raise PydanticCustomError(
                    "tree", "trees[{index}]: {reason}", {"index": index, "reason": str(exc)}
                ) from exc
            if not _URL_LIKE.match(spec.location):
                local = str(_local_path(spec.location, info))
                item = local + (f"@{spec.branch}" if spec.branch else "")
            out.append(item)
        return list(dict.fromkeys(out))

    @field_validator("mbox", "output", "maintainers", "db")
    @classmethod
    def _paths(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _local_path(value, info)

    @field_validator("project_maintainers")
    @classmethod
    def _project_paths(cls, value: dict[str, Path], info: ValidationInfo) -> dict[str, Path]:
        return {name: _local_path(path, info) for name, path in value.items()}

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[Language]) -> list[Language]:
        return list(dict.fromkeys(value))  # the first one is the site's and the mail's

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Asia/Shanghai)"
            ) from exc
        return value

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        for index, item in enumerate(value):
            try:
                parse_mailbox(item)
            except ValueError as exc:
                raise PydanticCustomError(
                    "recipient", "recipients[{index}]: {reason}", {"index": index, "reason": exc}
                ) from exc
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _known_projects(self) -> ListSettings:
        """A project_maintainers key names one of the list's other projects, each once:
        under another name a file would never judge the postings that carry the
        project's prefix (only, as a last resort, unprefixed ones its sections cover),
        which is what a mistyped key would silently do."""
        from lore_digest.facts.classify import known_projects, project_name

        known = known_projects(self.other_projects)
        seen: dict[str, str] = {}
        for key in self.project_maintainers:
            name = project_name(key)
            if name not in known:
                raise PydanticCustomError(
                    "project",
                    "project_maintainers: {key} is not one of this list's other projects "
                    "({known}); add it to other_projects, or correct the name",
                    {"key": repr(key), "known": ", ".join(sorted(known)) or "none named"},
                )
            if name in seen:
                raise PydanticCustomError(
                    "project",
                    "project_maintainers: {first} and {key} name the same project",
                    {"first": repr(seen[name]), "key": repr(key)},
                )
            seen[name] = key
        return self

    @model_validator(mode="after")
    def _one_source(self) -> ListSettings:
        given = [key for key in SOURCE_KEYS if getattr(self, key) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "source",
                "give exactly one source key of mirror, lore, mbox (found: {found})",
                {"found": ", ".join(given) or "none"},
            )
        return self

    @property
    def source_kind(self) -> str:
        """ "mirror", "lore" or "mbox"."""
        return next(key for key in SOURCE_KEYS if getattr(self, key) is not None)

    def source(self, name: str, **options: object) -> Source:
        """The list's source, made by the registry like the CLI's (`since` starts a lore
        list's first fetch; later ones resume where the last ended)."""
        kind = self.source_kind
        extra: dict[str, object] = dict(options)
        if self.since is not None and "first_since" in SOURCES[kind].options:
            extra["first_since"] = self.since
        return make_source(kind, getattr(self, kind), name, url_base=self.url_base, **extra)  # type: ignore[arg-type]

    @property
    def reports_dir(self) -> Path:
        """Where Markdown and JSON reports are written."""
        return self.output / "reports"

    @property
    def site_dir(self) -> Path:
        """Where the static site is built (the directory to publish)."""
        return self.output / "site"


class Settings(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid")

    db: Path | None = None
    summarizer: SummarizerSettings = SummarizerSettings()
    smtp: SmtpSettings | None = None
    channels: dict[ListName, ChannelSettings] = Field(default_factory=dict)
    lists: dict[ListName, ListSettings] = Field(default_factory=dict)

    @field_validator("db")
    @classmethod
    def _db(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _local_path(value, info)

    @model_validator(mode="after")
    def _one_output_per_list(self) -> Settings:
        seen: dict[Path, str] = {}
        for name, conf in self.lists.items():
            where = conf.output.resolve()
            if where in seen:
                raise PydanticCustomError(
                    "shared_output",
                    "lists.{name}.output: the same directory as lists.{other}.output "
                    "(each list needs its own: the site's index and feed are per list)",
                    {"name": name, "other": seen[where]},
                )
            seen[where] = name
        return self

    @model_validator(mode="after")
    def _smtp_for_recipients(self) -> Settings:
        mailing = [name for name, conf in self.lists.items() if conf.recipients]
        if mailing and self.smtp is None:
            raise PydanticCustomError(
                "smtp_missing",
                "lists.{name}.recipients: mailing digests needs an [smtp] table",
                {"name": mailing[0]},
            )
        return self

    @model_validator(mode="after")
    def _known_channels(self) -> Settings:
        for name, conf in self.lists.items():
            for index, channel in enumerate(conf.channels):
                if channel not in self.channels:
                    known = ", ".join(self.channels) or "none: add a [channels.NAME] table"
                    raise PydanticCustomError(
                        "unknown_channel",
                        "lists.{name}.channels[{index}]: no channel '{channel}' (known: {known})",
                        {"name": name, "index": index, "channel": channel, "known": known},
                    )
        return self

    def summarizer_for(self, list_name: str) -> SummarizerSettings:
        """The global [summarizer] with the list's own overrides applied."""
        listed = self.lists.get(list_name)
        if listed is None or listed.summarizer is None:
            return self.summarizer
        return listed.summarizer.over(self.summarizer)

    def select(self, names: list[str] | tuple[str, ...] | None = None) -> dict[str, ListSettings]:
        """The configured lists, or only `names` (an unknown name is a usage error)."""
        if not names:
            return dict(self.lists)
        unknown = [n for n in names if n not in self.lists]
        if unknown:
            known = ", ".join(self.lists) or "none: add a [lists.NAME] table"
            raise UsageError(f"list {', '.join(unknown)} is not in the config (known: {known})")
        return {n: self.lists[n] for n in names}


def effective_db_path(option: str | os.PathLike[str] | None, settings: Settings) -> Path:
    """The store: --db, else $LORE_DIGEST_DB, else the config's `db`, else the XDG default."""
    if option or os.environ.get(DB_ENV):
        return resolve_db_path(option)
    return settings.db if settings.db is not None else resolve_db_path(None)


def _where(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as the key path a user sees in TOML: lists.x.languages[1]."""
    text = ""
    for part in loc:
        if part == "[key]":
            continue  # the key itself is the last part already named
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if part else '""'  # an empty table name, as TOML writes it
            text += f".{name}" if text else name
    return text


def _describe(err: Any) -> str:
    where = _where(tuple(err["loc"]))
    message = str(err["msg"])
    if err["type"] == "extra_forbidden":
        message = "unknown key (misspelt, or not valid in this table)"
    elif err["type"] in ("model_type", "model_attributes_type", "dict_type"):
        message = "must be a table ([name] or {key = value})"
    elif err["type"] == "path_type":
        message = "must be a path (a string)"
    elif err["type"] == "value_error":
        message = str(err.get("ctx", {}).get("error", message))
    if err["type"] == "recipient":  # the index belongs to the key path, not the message
        where += f"[{err['ctx']['index']}]"
        message = str(err["ctx"]["reason"])
    return f"{where}: {message}" if where else message


def _refuse_secrets(data: dict[str, Any]) -> None:
    """A password in the file is an error, not a silently ignored key."""
    smtp = data.get("smtp")
    if isinstance(smtp, dict) and "password" in smtp:
        raise UsageError(
            f"smtp.password: passwords are never read from the config file; "
            f"set ${SMTP_PASSWORD_ENV} in the environment instead"
        )


def parse_settings(data: dict[str, Any], *, base: Path | None = None, source: str = "") -> Settings:
    """Validate already-parsed TOML; `base` anchors relative paths."""
    _refuse_secrets(data)
    try:
        return Settings.model_validate(data, context={"base": base})
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise UsageError(f"invalid config{f' {source}' if source else ''}: {problems}") from exc


def load_settings(path: Path, *, required: bool = False) -> Settings:
    """Read and validate the config file; a missing default file means defaults."""
    if not path.exists():
        if required:
            raise UsageError(f"config file {path} does not exist")
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read config {path}: {exc}") from exc
    return parse_settings(data, base=path.parent.resolve(), source=str(path))
