"""Deployment packages: a ZipFile unpacked into its own directory, kept with the archive.

Blocking file work: the service calls these through `anyio.to_thread`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import stat
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from integrations.lambda_local.errors import LambdaApiError

#: AWS's limit for a ZipFile uploaded in the request (50 MB zipped).
MAX_ZIP_BYTES = 50 * 1024 * 1024
#: AWS's limit for the unpacked package (250 MB).
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
ARCHIVE_NAME = "package.zip"


@dataclass(frozen=True, kw_only=True)
class CodeArtifact:
    """One uploaded package: never changed after unpacking, so versions can share it."""

    directory: Path
    archive: Path
    #: base64 of the archive's SHA-256, as AWS reports CodeSha256.
    sha256: str
    size: int


def unpack(zip_bytes: bytes, parent: Path) -> CodeArtifact:
    """Unpack into a fresh directory under `parent`, refusing entries that escape it."""
    if len(zip_bytes) > MAX_ZIP_BYTES:
        raise LambdaApiError("RequestTooLargeException",
                             "Request must be smaller than 69905067 bytes for the "
                             "CreateFunction operation")
    home = parent / uuid.uuid4().hex
    directory = home / "code"
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            _check_entries(archive, directory)
            directory.mkdir(parents=True)
            archive.extractall(directory)
            _restore_modes(archive, directory)
    except (zipfile.BadZipFile, EOFError, ValueError):
        shutil.rmtree(home, ignore_errors=True)
        raise LambdaApiError("InvalidParameterValueException",
                             "Could not unzip uploaded file. Please check your file, then try "
                             "to upload again.") from None
    archive_path = home / ARCHIVE_NAME
    archive_path.write_bytes(zip_bytes)
    digest = base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    return CodeArtifact(directory=directory, archive=archive_path, sha256=digest,
                        size=len(zip_bytes))


def _check_entries(archive: zipfile.ZipFile, directory: Path) -> None:
    root = directory.resolve()
    total = 0
    for entry in archive.infolist():
        target = (root / entry.filename).resolve()
        if target != root and root not in target.parents:
            raise ValueError(f"zip entry outside the package: {entry.filename}")
        total += entry.file_size
    if total > MAX_UNZIPPED_BYTES:
        raise LambdaApiError("InvalidParameterValueException",
                             f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")


def _restore_modes(archive: zipfile.ZipFile, directory: Path) -> None:
    """ZipFile drops Unix permissions; executables in the package must stay executable."""
    for entry in archive.infolist():
        mode = entry.external_attr >> 16
        if mode and not entry.is_dir():
            (directory / entry.filename).chmod(stat.S_IMODE(mode) | stat.S_IRUSR)


def remove(artifact: CodeArtifact) -> None:
    shutil.rmtree(artifact.directory.parent, ignore_errors=True)
