"""Tables (SQLAlchemy Core), the schema version, and the migrations that bring an older store up to date.

Version history:
1. images, classes, labels (full history), import runs with per-file outcomes.
2. labels.seconds_on_screen: how long the image was shown before a person labelled it (the labeling app).
3. embeddings (one vector per backbone and exact model input) and embedding_keys (which vector an image has
   under a backbone and a preprocess hash).
4. survey: pixel properties per image content (sha256), with the version of the code that computed them.
5. split_events (each assignment or reset: who, when, shares, seed) and splits (each image's split).
6. properties (the project's property sheet: user-defined fields, or buckets of survey measurements) and
   property_values (every value set, with author and time; the current value is the latest).
7. survey.fingerprint: a 16x16 luma thumbnail that confirms near-duplicates found by perceptual hash.
8. survey.edge_hash (a colour edge hash that finds recoloured variants) and recolour_checks (each candidate pair
   of contents checked, with how far one is from a recolouring of the other, and the version of that measure).
9. loop_snapshots: the labelling loop's latest probabilities and queue.
10. users (argon2 password hashes and roles), sessions (digests of the labeling app's session tokens), and
    loop_history (each retrain: labels learnt from and the validation accuracy, for the app's chart).

A store made by a newer tetsuban is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tetsuban.errors import SchemaError

SCHEMA_VERSION = 12

metadata = sa.MetaData()

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

import_runs = sa.Table(
    "import_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("options", sa.Text, nullable=False),  # JSON
    sa.Column("author", sa.String(128), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Column("status", sa.String(16), nullable=False),  # running / finished / interrupted
)

images = sa.Table(
    "images",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("location", sa.Text, nullable=False),  # absolute path (in place) or path relative to the project
    sa.Column("stored", sa.Boolean, nullable=False),  # True: a content-addressed copy inside the project
    sa.Column("origin", sa.Text, nullable=False),  # where it was first imported from (path, archive member, URL)
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger),  # in-place files only: to notice a change without hashing
    sa.Column("width", sa.Integer, nullable=False),  # as displayed, EXIF orientation applied
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("orientation", sa.SmallInteger, nullable=False),
    sa.Column("frames", sa.Integer, nullable=False),
    sa.Column("added_at", sa.Float, nullable=False),
    sa.Column("import_run_id", sa.Integer, sa.ForeignKey("import_runs.id")),
)
sa.Index("ix_images_location", images.c.location)

classes = sa.Table(
    "classes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("added_at", sa.Float, nullable=False),
    sa.Column("retired_at", sa.Float),  # since version 11: set when the class was renamed, merged or removed
)

labels = sa.Table(
    "labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id"), nullable=False),
    sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id")),  # NULL: the label was cleared
    sa.Column("source", sa.String(16), nullable=False),  # store.labels.LABEL_SOURCES
    sa.Column("author", sa.String(128), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("seconds_on_screen", sa.Float),  # since version 2
)
sa.Index("ix_labels_image", labels.c.image_id, labels.c.id)

import_outcomes = sa.Table(
    "import_outcomes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("import_runs.id"), nullable=False),
    sa.Column("item", sa.Text, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # added / duplicate / unchanged / relinked / skipped
    sa.Column("reason", sa.Text),
    sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id")),
    sa.Column("label", sa.Text),
)
sa.Index("ix_outcomes_run", import_outcomes.c.run_id, import_outcomes.c.outcome)
sa.Index("ix_outcomes_item", import_outcomes.c.item)

# A vector per backbone and model input: images whose preprocessed arrays are equal share one.
embeddings = sa.Table(
    "embeddings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("backbone", sa.String(128), nullable=False),  # name@weights-hash/input-size
    sa.Column("input_digest", sa.String(32), nullable=False),  # of the exact float32 model input
    sa.Column("vector", sa.LargeBinary, nullable=False),  # float32, native byte order
    sa.UniqueConstraint("backbone", "input_digest"),
)

# Which vector an image (by content) has under a backbone and a preprocess: the lookup that costs nothing.
embedding_keys = sa.Table(
    "embedding_keys",
    metadata,
    sa.Column("image_sha256", sa.String(64), primary_key=True),
    sa.Column("backbone", sa.String(128), primary_key=True),
    sa.Column("preprocess", sa.String(64), primary_key=True),  # Pipeline.preprocess_hash()
    sa.Column("embedding_id", sa.Integer, sa.ForeignKey("embeddings.id"), nullable=False),
)

# What the pixels of an image (by content) look like; recomputed when the survey code's version changes.
survey = sa.Table(
    "survey",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("brightness", sa.Float, nullable=False),
    sa.Column("contrast", sa.Float, nullable=False),
    sa.Column("colourfulness", sa.Float, nullable=False),
    sa.Column("greyscale", sa.Boolean, nullable=False),
    sa.Column("sharpness", sa.Float, nullable=False),
    sa.Column("tilt", sa.Float),  # NULL: no long straight lines to tell
    sa.Column("faces", sa.Integer, nullable=False),
    sa.Column("phash", sa.String(16), nullable=False),
    sa.Column("fingerprint", sa.LargeBinary),  # since version 7; NULL in rows of survey version 1
    sa.Column("edge_hash", sa.String(64)),  # since version 8; NULL in rows of survey versions 1 and 2
)

# Candidate pairs of image contents (sha_a < sha_b) checked for being a recolouring of each other, so that each
# pair is decoded and compared once; the residual is the share of local colour variation left unexplained.
recolour_checks = sa.Table(
    "recolour_checks",
    metadata,
    sa.Column("sha_a", sa.String(64), primary_key=True),
    sa.Column("sha_b", sa.String(64), primary_key=True),
    sa.Column("residual", sa.Float, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),  # of the residual's definition: other versions are dropped
)

# Every time splits were assigned or reset, with the shares and seed it used.
split_events = sa.Table(
    "split_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # assign / reset
    sa.Column("author", sa.String(128), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("test", sa.Float),
    sa.Column("val", sa.Float),
    sa.Column("seed", sa.Integer),
    sa.Column("images", sa.Integer, nullable=False),  # assigned, or cleared by a reset
)

# Each image's split; once written it moves only through a recorded reset.
splits = sa.Table(
    "splits",
    metadata,
    sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id"), primary_key=True),
    sa.Column("split", sa.String(8), nullable=False),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("split_events.id"), nullable=False),
)

# The property sheet: fields a user defines (bool, choice, number, text), or a rule over survey measurements.
properties = sa.Table(
    "properties",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(8), nullable=False),  # bool / choice / number / text
    sa.Column("choices", sa.Text),  # JSON list, for choice
    sa.Column("rule", sa.Text),  # "brightness < 40": computed from the survey, never set by hand
    sa.Column("added_at", sa.Float, nullable=False),
)

# Every value ever set; NULL value clears it. The current value is the latest row of an image and property.
property_values = sa.Table(
    "property_values",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id"), nullable=False),
    sa.Column("property_id", sa.Integer, sa.ForeignKey("properties.id"), nullable=False),
    sa.Column("value", sa.Text),  # JSON
    sa.Column("author", sa.String(128), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
sa.Index("ix_property_values", property_values.c.property_id, property_values.c.image_id, property_values.c.id)


# The labelling loop's latest retrain: every image's probabilities and the queue, so that suggestions and the next
# images survive a restart. One row: a new retrain replaces it.
loop_snapshots = sa.Table(
    "loop_snapshots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("backbone", sa.String(128), nullable=False),
    sa.Column("classes", sa.Text, nullable=False),  # JSON list, the probabilities' column order
    sa.Column("labels", sa.Integer, nullable=False),  # labelled images the head learnt from
    sa.Column("image_ids", sa.LargeBinary, nullable=False),  # int64 (N,)
    sa.Column("probabilities", sa.LargeBinary, nullable=False),  # float32 (N, K), row for row
    sa.Column("queue", sa.LargeBinary, nullable=False),  # int64 image ids, next first
)


# People who may log in to the labeling app. The password is kept only as an argon2 hash.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # annotator / reviewer / admin
    sa.Column("created_at", sa.Float, nullable=False),
)

# Logged-in sessions: the SHA-256 of the cookie's token (the token itself is never stored) and the CSRF token
# that every state change must carry.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_digest", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

# Each retrain of the labelling loop that had a head: how many labels it learnt from and how it scored on the
# labelled validation images then (NULL when none was labelled).
loop_history = sa.Table(
    "loop_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("labels", sa.Integer, nullable=False),
    sa.Column("val_images", sa.Integer, nullable=False),
    sa.Column("val_accuracy", sa.Float),
)


# Leases: an image handed to one annotator, not handed to another until labelled or expired (seconds since the
# epoch: every worker process of the app, and every machine, reads the same clock). Since version 12; before, each
# app process kept them in memory, and two processes could hand out the same image.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id"), primary_key=True, autoincrement=False),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)


def _v2_seconds_on_screen(conn: Connection) -> None:
    conn.execute(sa.text("ALTER TABLE labels ADD COLUMN seconds_on_screen FLOAT"))


def _v3_embeddings(conn: Connection) -> None:
    metadata.create_all(conn, tables=[embeddings, embedding_keys])


def _v4_survey(conn: Connection) -> None:
    metadata.create_all(conn, tables=[survey])


def _v5_splits(conn: Connection) -> None:
    metadata.create_all(conn, tables=[split_events, splits])


def _v6_properties(conn: Connection) -> None:
    metadata.create_all(conn, tables=[properties, property_values])


def _v7_fingerprint(conn: Connection) -> None:
    # A store upgraded from before version 4 got the survey table in its current shape, fingerprint included.
    if "fingerprint" not in {c["name"] for c in sa.inspect(conn).get_columns("survey")}:
        conn.execute(sa.text("ALTER TABLE survey ADD COLUMN fingerprint BLOB"))


def _v8_recolour(conn: Connection) -> None:
    if "edge_hash" not in {c["name"] for c in sa.inspect(conn).get_columns("survey")}:
        conn.execute(sa.text("ALTER TABLE survey ADD COLUMN edge_hash VARCHAR(64)"))
    metadata.create_all(conn, tables=[recolour_checks])


def _v9_loop(conn: Connection) -> None:
    metadata.create_all(conn, tables=[loop_snapshots])


def _v10_users(conn: Connection) -> None:
    metadata.create_all(conn, tables=[users, sessions, loop_history])


def _v11_retired_classes(conn: Connection) -> None:
    if "retired_at" not in {c["name"] for c in sa.inspect(conn).get_columns("classes")}:
        conn.execute(sa.text("ALTER TABLE classes ADD COLUMN retired_at FLOAT"))


def _v12_leases(conn: Connection) -> None:
    metadata.create_all(conn, tables=[leases])


# MIGRATIONS[v] upgrades a store of version v - 1 to version v.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    2: _v2_seconds_on_screen,
    3: _v3_embeddings,
    4: _v4_survey,
    5: _v5_splits,
    6: _v6_properties,
    7: _v7_fingerprint,
    8: _v8_recolour,
    9: _v9_loop,
    10: _v10_users,
    11: _v11_retired_classes,
    12: _v12_leases,
}


def stored_version(conn: Connection) -> int | None:
    """The schema version a store records, or None for an empty database."""
    if not sa.inspect(conn).has_table("meta"):
        return None
    value = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar_one_or_none()
    return None if value is None else int(value)


def create_schema(engine: Engine) -> None:
    """Create every table of the current version in an empty database; one that holds a project is refused."""
    with engine.begin() as conn:
        found = stored_version(conn)
        if found is not None:
            raise SchemaError(
                f"The database already holds a tetsuban project (schema {found}): give each project a database "
                "of its own, or open that project's folder."
            )
        metadata.create_all(conn)
        conn.execute(sa.insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION)))


def upgrade_schema(engine: Engine) -> list[int]:
    """Apply the migrations a store needs, each in its own transaction; return the versions applied."""
    applied: list[int] = []
    with engine.connect() as conn:
        version = stored_version(conn)
    if version is None:
        raise SchemaError("The project database has no schema version; it was not made by tetsuban.")
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"The project was written by a newer tetsuban (schema {version}; this one reads up to "
            f"{SCHEMA_VERSION}). Upgrade tetsuban to open it."
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        with engine.begin() as conn:
            MIGRATIONS[target](conn)
            conn.execute(sa.update(meta).where(meta.c.key == "schema_version").values(value=str(target)))
        applied.append(target)
    return applied
