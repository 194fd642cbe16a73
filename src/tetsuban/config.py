"""The project configuration, ``tetsuban.toml``: frozen dataclasses, defaults and validation."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from tetsuban.errors import ConfigError
from tetsuban.files import read_bounded
from tetsuban.imaging.decode import DEFAULT_MAX_PIXELS
from tetsuban.params import check_float, check_int, check_str
from tetsuban.pipeline.spec import Pipeline, default_pipeline
from tetsuban.pipeline.transforms import TRANSFORMS

CONFIG_NAME = "tetsuban.toml"
MAX_CONFIG_BYTES = 1024 * 1024

# Pillow refuses images above twice its MAX_IMAGE_PIXELS (178,956,970) whatever we ask; our limit stays below it.
PILLOW_HARD_LIMIT = 178_956_970


@dataclass(frozen=True)
class ImportConfig:
    """Limits that protect an import from hostile input."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = 256 * 1024 * 1024  # the largest file (or archive member) read
    workers: int = 0  # 0: one per core


@dataclass(frozen=True)
class FetchConfig:
    """How images named by URL are fetched."""

    max_bytes: int = 50_000_000
    timeout_s: float = 20.0
    retries: int = 3
    concurrency: int = 8
    per_host_per_s: float = 4.0
    allow_private: bool = False  # fetch loopback, private and link-local addresses too


@dataclass(frozen=True)
class ModelConfig:
    """The backbone that embeds the images, and where its weights come from ("" for its own)."""

    backbone: str = "efficientnet_lite0"
    weights: str = ""  # a state-dict file for the same architecture; relative paths are from the project folder
    workers: int = 0  # processes that embed and predict; 0 means one per core


def weights_file(project_dir: Path, model: ModelConfig) -> Path | None:
    """The state-dict file ``[model] weights`` names (relative to the project folder; an absolute path stays
    absolute), or None for the backbone's own weights."""
    return None if not model.weights else project_dir / Path(model.weights).expanduser()


@dataclass(frozen=True)
class ServerConfig:
    """Who may reach the labeling app: the host names it answers to beyond this machine's own, and the proxies
    whose X-Forwarded-For it believes."""

    hosts: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreConfig:
    """Where the project's tables live: "" for the SQLite file in the project folder, or a PostgreSQL URL."""

    url: str = ""


@dataclass(frozen=True)
class ProjectConfig:
    """Everything in tetsuban.toml, resolved with defaults."""

    name: str
    imports: ImportConfig = field(default_factory=ImportConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    pipeline: Pipeline = field(default_factory=default_pipeline)
    model: ModelConfig = field(default_factory=ModelConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    store: StoreConfig = field(default_factory=StoreConfig)


def config_from_dict(data: dict[str, object], default_name: str) -> ProjectConfig:
    """Validate a parsed tetsuban.toml and fill in defaults."""
    project = _table(data, "project")
    imports = _table(data, "import")
    fetch = _table(data, "fetch")
    pipeline = _table(data, "pipeline")
    model = _table(data, "model")
    server = _table(data, "server")
    store = _table(data, "store")
    defaults_i, defaults_f, defaults_m = ImportConfig(), FetchConfig(), ModelConfig()
    _reject_unknown("import", imports, ImportConfig)
    _reject_unknown("fetch", fetch, FetchConfig)
    _reject_unknown("model", model, ModelConfig)
    _reject_unknown("server", server, ServerConfig)
    _reject_unknown("store", store, StoreConfig)
    return ProjectConfig(
        name=check_str("project.name", project.get("name", default_name)),
        imports=ImportConfig(
            max_pixels=check_int(
                "import.max_pixels", imports.get("max_pixels", defaults_i.max_pixels), 1, PILLOW_HARD_LIMIT
            ),
            max_bytes=check_int("import.max_bytes", imports.get("max_bytes", defaults_i.max_bytes), 1, 2**34),
            workers=check_int("import.workers", imports.get("workers", defaults_i.workers), 0, 256),
        ),
        fetch=FetchConfig(
            max_bytes=check_int("fetch.max_bytes", fetch.get("max_bytes", defaults_f.max_bytes), 1, 2**34),
            timeout_s=check_float("fetch.timeout_s", fetch.get("timeout_s", defaults_f.timeout_s), 0.01, 3600),
            retries=check_int("fetch.retries", fetch.get("retries", defaults_f.retries), 0, 20),
            concurrency=check_int("fetch.concurrency", fetch.get("concurrency", defaults_f.concurrency), 1, 64),
            per_host_per_s=check_float(
                "fetch.per_host_per_s", fetch.get("per_host_per_s", defaults_f.per_host_per_s), 0.01, 1000
            ),
            allow_private=_bool("fetch.allow_private", fetch.get("allow_private", defaults_f.allow_private)),
        ),
        pipeline=Pipeline.from_dict(pipeline) if "pipeline" in data else default_pipeline(),
        model=ModelConfig(
            backbone=check_str("model.backbone", model.get("backbone", defaults_m.backbone)),
            weights=_string("model.weights", model.get("weights", defaults_m.weights)),
            workers=check_int("model.workers", model.get("workers", defaults_m.workers), 0, 256),
        ),
        server=ServerConfig(
            hosts=_strings("server.hosts", server.get("hosts", [])),
            trusted_proxies=_strings("server.trusted_proxies", server.get("trusted_proxies", [])),
        ),
        store=StoreConfig(url=_string("store.url", store.get("url", ""))),
    )


def load_config(project_dir: Path) -> ProjectConfig:
    """Read and validate ``project_dir/tetsuban.toml``."""
    path = project_dir / CONFIG_NAME
    try:
        data = tomllib.loads(read_bounded(path, MAX_CONFIG_BYTES).decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}. Fix the file or restore it from version control.") from exc
    return config_from_dict(data, default_name=project_dir.name)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def default_config_text(name: str, database: str = "") -> str:
    """The tetsuban.toml that ``init`` writes: every setting with its default, commented; ``database``: the
    PostgreSQL URL of the project's tables ("" for the SQLite file in the folder)."""
    i, f, m = ImportConfig(), FetchConfig(), ModelConfig()
    return f"""# tetsuban project configuration
[project]
name = {_toml_string(name)}

[store]
# The database that holds the labels and all else: "" for the SQLite file tetsuban.db in this folder, or a
# PostgreSQL URL (postgresql+psycopg://USER@HOST:PORT/DATABASE), one database per project, for a team. Keep its
# password out of this file: PostgreSQL reads it from ~/.pgpass or PGPASSWORD.
url = {_toml_string(database)}

[import]
# Images with more pixels than this are refused (decompression-bomb guard; at most {PILLOW_HARD_LIMIT}).
max_pixels = {i.max_pixels}
# Files (and archive members) larger than this many bytes are refused unread.
max_bytes = {i.max_bytes}
# Worker processes for hashing and header reading; 0 means one per core.
workers = {i.workers}

[fetch]
# Images named by URL in a CSV: size limit, timeout, retries, parallel requests and requests per second per host.
max_bytes = {f.max_bytes}
timeout_s = {f.timeout_s}
retries = {f.retries}
concurrency = {f.concurrency}
per_host_per_s = {f.per_host_per_s}
# URLs that lead to this machine, a private network or a link-local address are refused unless this is true.
allow_private = false

[model]
# The backbone that embeds images: "efficientnet_lite0" (weights ship with tetsuban) or any timm model name,
# whose weights come from a model hub or from a state-dict file named in weights.
backbone = "{m.backbone}"
weights = "{m.weights}"
# Worker processes that embed and predict; 0 means one per core.
workers = {m.workers}

[server]
# Host names the labeling app answers to besides this machine's own (a proxy's public name, say).
hosts = []
# Addresses of reverse proxies whose X-Forwarded-For is believed; nobody's is by default.
trusted_proxies = []

{pipeline_toml(default_pipeline())}"""


def pipeline_toml(pipeline: Pipeline) -> str:
    """The [pipeline] table of tetsuban.toml for ``pipeline``, one step per line."""
    lines = [
        "# preprocess: always, at training and at prediction. augment: training only, drawn anew for every image.",
        "# Steps: " + ", ".join(sorted(TRANSFORMS)) + ".",
        '# To keep digits or text from flipping, drop hflip or list the classes: never = ["6", "9"].',
        "[pipeline]",
    ]
    for part, steps in pipeline.to_dict().items():
        lines.append(f"{part} = [")
        lines += ["    { " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in step.items()) + " }," for step in steps]
        lines.append("]")
    return "\n".join(lines) + "\n"


def _toml_value(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def _string(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"The '{name}' setting must be a string. Got {value!r}.")
    return value


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"The '{name}' setting must be true or false. Got {value!r}.")
    return value


def _strings(name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 253 for v in value):
        raise ConfigError(
            f"The '{name}' setting must be a list of names, like [\"labels.example.org\"]. Got {value!r}."
        )
    return tuple(value)


def _table(data: dict[str, object], key: str) -> dict[str, object]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"The '[{key}]' entry of {CONFIG_NAME} must be a table. Got {value!r}.")
    return value


def _reject_unknown(table: str, values: dict[str, object], settings: type) -> None:
    known = sorted(f.name for f in fields(settings))
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(
            f"Unknown setting(s) in [{table}] of {CONFIG_NAME}: {', '.join(unknown)}. Known: {', '.join(known)}."
        )
