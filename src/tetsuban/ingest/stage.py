"""The import stage: bring images into a workspace from any source (a folder, image files, a CSV of paths and URLs,
a zip or tar archive, an IDX file), each as one recorded import run."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from tetsuban.errors import SourceError
from tetsuban.ingest.archive import archive_work
from tetsuban.ingest.engine import EarlyFn, ImportReport, ImportTarget, batched, file_batch_size, pooled, run_import
from tetsuban.ingest.folder import folder_tasks
from tetsuban.ingest.idx import idx_work, is_idx
from tetsuban.ingest.kinds import kind_by_name
from tetsuban.ingest.prepare import FileTask, Prepared, Task
from tetsuban.ingest.remote import fetch_objects, is_remote, list_objects, open_remote, too_large
from tetsuban.ingest.table import UrlItem, read_csv
from tetsuban.ingest.urls import fetch_prepared
from tetsuban.parallel import worker_count
from tetsuban.progress import ProgressFn
from tetsuban.store.runs import Outcome, known_items, run_outcomes
from tetsuban.workspace import Workspace


def import_path(
    ws: Workspace,
    source: str | Path,
    labels: str | Path | None = None,
    copy: bool = False,
    labels_from_folders: bool = True,
    class_names: Sequence[str] | None = None,
    on_progress: ProgressFn | None = None,
) -> ImportReport:
    """Import from ``source``, whatever its kind: a folder, an image, a CSV, an archive or an IDX file.

    A file's name decides its kind (kind_by_name): a JPEG that is also a zip is imported as the JPEG its name says,
    and a zip named .zip as an archive, never the other way round. A URL of object storage (s3://, gs://, ...)
    imports every object below it (:func:`import_remote`).
    """
    if isinstance(source, str) and is_remote(source):
        if labels is not None:
            raise SourceError("A separate labels file (--labels) goes only with an IDX images file.")
        return import_remote(ws, source, labels_from_folders, on_progress)
    path = Path(source).expanduser()
    if not path.exists():
        raise SourceError(f"{source} does not exist. Check the path.")
    if labels is not None and not (path.is_file() and is_idx(path)):
        raise SourceError("A separate labels file (--labels) goes only with an IDX images file.")
    if path.is_dir():
        return import_folder(ws, path, copy, labels_from_folders, on_progress)
    if not path.is_file():
        raise SourceError(f"{source} is not a regular file or a folder (a device, a FIFO?): nothing to import.")
    kind = kind_by_name(path)
    if kind == "csv":
        return import_csv(ws, path, copy, on_progress)
    if kind == "archive":
        return import_archive(ws, path, labels_from_folders, on_progress)
    if kind is None and is_idx(path):
        return import_idx(ws, path, None if labels is None else Path(labels), class_names, on_progress)
    return import_files(ws, [path], copy, on_progress)


def import_folder(
    ws: Workspace,
    folder: str | Path,
    copy: bool = False,
    labels_from_folders: bool = True,
    on_progress: ProgressFn | None = None,
) -> ImportReport:
    """Import every file below ``folder``; sub-folders name classes unless ``labels_from_folders`` is off."""
    root = Path(folder).expanduser()
    tasks = folder_tasks(root, copy, labels_from_folders, ws.root)
    options = {"copy": copy, "labels_from_folders": labels_from_folders}
    return _run_tasks(ws, str(root.resolve()), "folder", options, tasks, on_progress)


def import_files(
    ws: Workspace, files: Sequence[str | Path], copy: bool = False, on_progress: ProgressFn | None = None
) -> ImportReport:
    """Import the given image files, unlabelled."""
    paths = [Path(f).expanduser().resolve() for f in files]
    tasks: list[Task] = [FileTask(str(p), None, copy) for p in paths]
    source = str(paths[0]) if len(paths) == 1 else f"{len(paths)} files"
    return _run_tasks(ws, source, "files", {"copy": copy}, tasks, on_progress)


def import_csv(
    ws: Workspace, csv_path: str | Path, copy: bool = False, on_progress: ProgressFn | None = None
) -> ImportReport:
    """Import the files and URLs listed in a CSV (a path or URL column, an optional label column)."""
    path = Path(csv_path).expanduser()
    rows = read_csv(path, copy)
    target = _target(ws)
    files = pooled(target, _file_batches(ws, rows.files), len(rows.files))

    def produce(early: EarlyFn) -> Iterator[list[Prepared]]:
        if rows.bad_rows:
            early(rows.bad_rows)
        yield from files(early)
        yield from _fetch_new(ws, rows.urls, early)

    total = len(rows.files) + len(rows.urls) + len(rows.bad_rows)
    return run_import(target, str(path.resolve()), "csv", {"copy": copy}, produce, total, on_progress)


def import_archive(
    ws: Workspace, archive: str | Path, labels_from_folders: bool = True, on_progress: ProgressFn | None = None
) -> ImportReport:
    """Import a zip or tar archive; its images are always stored in the project."""
    path = Path(archive).expanduser()
    work = archive_work(path, labels_from_folders, ws.config.imports.max_bytes)
    target = _target(ws)

    def produce(early: EarlyFn) -> Iterator[list[Prepared]]:
        def tasks() -> Iterator[list[Task]]:
            for batch in work.batches:
                skipped = [b for b in batch if isinstance(b, Outcome)]
                if skipped:
                    early(skipped)
                kept: list[Task] = [b for b in batch if not isinstance(b, Outcome)]
                if kept:
                    yield kept

        yield from pooled(target, tasks(), work.total)(early)

    options = {"labels_from_folders": labels_from_folders}
    return run_import(target, str(path.resolve()), "archive", options, produce, work.total, on_progress)


def import_idx(
    ws: Workspace,
    images: str | Path,
    labels: str | Path | None = None,
    class_names: Sequence[str] | None = None,
    on_progress: ProgressFn | None = None,
) -> ImportReport:
    """Import an IDX images file (MNIST format), labelled by an IDX labels file; stored in the project."""
    images_path = Path(images).expanduser()
    labels_path = None if labels is None else Path(labels).expanduser()
    work = idx_work(images_path, labels_path, class_names)
    target = _target(ws)
    options = {
        "labels": None if labels_path is None else str(labels_path.resolve()),
        "class_names": None if class_names is None else list(class_names),
    }
    produce = pooled(target, work.batches, work.total)
    return run_import(target, str(images_path.resolve()), "idx", options, produce, work.total, on_progress)


def import_remote(
    ws: Workspace, url: str, labels_from_folders: bool = True, on_progress: ProgressFn | None = None
) -> ImportReport:
    """Import every object below ``url`` in object storage into the project (stored as blobs); objects imported
    before with the same ETag and size are reported unchanged without a fetch (:mod:`tetsuban.ingest.remote`)."""
    fs, root = open_remote(url)
    objects = list_objects(fs, root, labels_from_folders)
    limits = ws.config.imports
    target = _target(ws)

    def produce(early: EarlyFn) -> Iterator[list[Prepared]]:
        refused = too_large(objects, limits.max_bytes)
        if refused:
            early(refused)
        wanted = [o for o in objects if o.size <= limits.max_bytes]
        with ws.engine.connect() as conn:
            known = known_items(conn, [o.item for o in wanted])
        if known:
            early([Outcome(o.item, "unchanged", None, known[o.item], o.label) for o in wanted if o.item in known])
        todo = [o for o in wanted if o.item not in known]
        yield from fetch_objects(target.context(), fs, todo, ws.config.fetch.concurrency)

    options = {"labels_from_folders": labels_from_folders}
    return run_import(target, url, "remote", options, produce, len(objects), on_progress)


def import_outcomes(ws: Workspace, run_id: int, outcome: str | None = None) -> list[Outcome]:
    """What happened to each item of an import run (only one kind of outcome, with ``outcome``)."""
    with ws.engine.connect() as conn:
        return run_outcomes(conn, [run_id], outcome)


def _target(ws: Workspace) -> ImportTarget:
    return ImportTarget(ws.root, ws.engine, ws.config)


def _run_tasks(
    ws: Workspace,
    source: str,
    kind: str,
    options: Mapping[str, object],
    tasks: Sequence[Task],
    on_progress: ProgressFn | None,
) -> ImportReport:
    target = _target(ws)
    produce = pooled(target, _file_batches(ws, tasks), len(tasks))
    return run_import(target, source, kind, options, produce, len(tasks), on_progress)


def _file_batches(ws: Workspace, tasks: Sequence[Task]) -> Iterator[list[Task]]:
    size = file_batch_size(len(tasks), worker_count(ws.config.imports.workers))
    return batched(tasks, size)


def _fetch_new(ws: Workspace, urls: list[UrlItem], early: EarlyFn) -> Iterator[list[Prepared]]:
    """The URLs not fetched before, fetched; those known are reported unchanged at once."""
    with ws.engine.connect() as conn:
        known = known_items(conn, [u.url for u in urls])
    if known:
        early([Outcome(u.url, "unchanged", None, known[u.url], u.label) for u in urls if u.url in known])
    todo = [u for u in urls if u.url not in known]
    yield from fetch_prepared(_target(ws).context(), ws.config.fetch, todo)
