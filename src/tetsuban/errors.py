"""Errors that tetsuban raises on purpose.

Every error a user can cause derives from one root, so that the CLI prints one clear line for any of them and
library users can catch them all at once::

    TetsubanError
    ├── ConfigError            tetsuban.toml or a parameter is invalid
    ├── ProjectError           the folder is not a project, already is one, or its store is unusable
    │   └── SchemaError        the store was made by a newer tetsuban
    ├── SourceError            an import source cannot be read at all (missing folder, CSV without a path column)
    ├── FileRefused            a file is not a regular file, or is larger than the limit: it is not read
    │   └── ContentChanged     an image's file no longer holds the content that was imported
    └── ImageError             one image cannot be used; ingest records it per file and goes on
        ├── EmptyFile
        ├── NotAnImage
        ├── UnsupportedFormat
        ├── CorruptImage
        └── ImageTooLarge

Messages say what was wrong, what was given and what to do.
"""

from __future__ import annotations


class TetsubanError(Exception):
    """The root of every error tetsuban raises on purpose."""


class ConfigError(TetsubanError):
    """A configuration value or a parameter is invalid."""


class TooFewLabels(ConfigError):
    """There are too few labels (in all or in some class) for what was asked."""


class ProjectError(TetsubanError):
    """The project folder or its store cannot be used as asked."""


class SchemaError(ProjectError):
    """The store's schema cannot be used by this version of tetsuban."""


class SourceError(TetsubanError):
    """An import source cannot be read at all."""


class FileRefused(TetsubanError):
    """A file that is not a regular file (a device, a FIFO, a socket) or is larger than allowed; nothing was read
    past the limit."""


class ContentChanged(FileRefused):
    """An image's file no longer holds the bytes that were imported (changed, replaced, or swapped for a link)."""


class ImageError(TetsubanError):
    """One image cannot be used. Ingest records the message as the file's reason and goes on."""


class EmptyFile(ImageError):
    """The file has zero bytes."""


class NotAnImage(ImageError):
    """The bytes are not an image format that Pillow recognises."""


class UnsupportedFormat(ImageError):
    """The bytes are an image, but of a format tetsuban does not accept."""


class CorruptImage(ImageError):
    """The header is readable but the pixel data is truncated or broken."""


class ImageTooLarge(ImageError):
    """The image has more pixels than the configured limit (a decompression bomb guard)."""
