"""`LocalFiles`: a Distributed Map's items from a local file, for embedding and for tests
without S3 (our extension of the ItemReader):

    "ItemReader": {"Resource": "arn:aws:states:::stepline:readFile",
                   "ReaderConfig": {"InputType": "CSV"}, "Parameters": {"Path": "data/in.csv"}}

The file is answered as S3 answers `getObject` (`{"Body": text}`), so the Map parses it as it
parses an S3 object (JSON, JSONL, CSV; `.gz` files are unpacked first).

Rule: a definition never reads outside the root directory the source was given. The path is
resolved with every symlink followed before the check, so `..`, an absolute path elsewhere and
a symlink pointing out are all refused.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import anyio.to_thread

from integrations._base import JSON, Integration, TaskCall, TaskError
from runtime.dataflow.items import READ_FILE
from runtime.errors import ITEM_READER_FAILED as _FAILED


class LocalFiles:
    """Serves `arn:aws:states:::stepline:readFile` with Parameters `{"Path": <file>}`, a path
    relative to `root` (or absolute, inside it).

    Args:
        root: the directory a definition may read from; resolved once, here (the process's
            current directory by default).
    """

    def __init__(self, root: str | os.PathLike[str] = ".") -> None:
        self.root = Path(root).resolve()

    def resolve_call(self, resource: str, parameters: JSON) -> Integration | None:
        return self if resource == READ_FILE else None

    async def invoke(self, call: TaskCall) -> JSON:
        """Read the file.

        Raises:
            TaskError: States.ItemReaderFailed when Path is missing, escapes the root, names
                no readable file, or the file is not UTF-8 text.
        """
        path = call.parameters.get("Path") if isinstance(call.parameters, dict) else None
        if not isinstance(path, str) or not path:
            raise TaskError(_FAILED, "The ItemReader's Parameters must give the file's Path "
                                     "as a non-empty string.")
        return {"Body": await anyio.to_thread.run_sync(self._read, path)}

    def _read(self, path: str) -> str:
        target = (self.root / path).resolve()
        if not target.is_relative_to(self.root):
            raise TaskError(_FAILED, f"The path '{path}' is outside the directory the "
                                     f"ItemReader may read ({self.root}).")
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            raise TaskError(_FAILED, f"No file '{path}' in {self.root}.") from None
        except OSError as error:
            raise TaskError(_FAILED, f"Cannot read '{path}': {error.strerror}.") from None
        try:
            if target.suffix == ".gz":
                data = gzip.decompress(data)
            return data.decode("utf-8")
        except (OSError, EOFError, zlib.error):
            raise TaskError(_FAILED, f"The file '{path}' is not valid gzip data.") from None
        except UnicodeDecodeError:
            raise TaskError(_FAILED, f"The file '{path}' is not UTF-8 text.") from None
