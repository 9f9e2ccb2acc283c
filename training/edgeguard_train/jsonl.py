"""JSONL files as the pipeline's interchange: streamed reads, append-only writes, resume by key."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, Iterator, Optional, Set


class JsonlError(ValueError):
    """A line of a JSONL file is not a JSON object; the message names the file and line."""


def read_jsonl(path: str, *, skip_bad: bool = False) -> Iterator[Dict[str, Any]]:
    """Yields the objects of ``path`` one by one.

    Blank lines are skipped. A line that is not valid UTF-8 or not a JSON object raises
    :class:`JsonlError`, or is skipped when ``skip_bad`` is true. A final line cut off without its
    newline (an interrupted writer) is treated the same way, so resuming after a crash works.
    """
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                if skip_bad:
                    continue
                raise JsonlError(f"{path}:{number}: not valid JSON ({e})") from None
            if not isinstance(obj, dict):
                if skip_bad:
                    continue
                raise JsonlError(f"{path}:{number}: not a JSON object")
            yield obj


class JsonlAppender:
    """Appends objects to a JSONL file, one flushed line each, so an interrupted run loses at most one line.

    A trailing partial line left by a killed writer is cut off on open, keeping the file valid.
    """

    def __init__(self, path: str) -> None:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        _truncate_partial_last_line(path)
        self._file = open(path, "a", encoding="utf-8")

    def write(self, obj: Dict[str, Any]) -> None:
        self._file.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def done_keys(path: str, key: str = "id") -> Set[Any]:
    """The ``key`` values already present in ``path`` (empty when it does not exist): what a resumed run skips."""
    if not os.path.exists(path):
        return set()
    return {obj[key] for obj in read_jsonl(path, skip_bad=True) if key in obj}


def settings_match(path: str, settings: Dict[str, Any], stage: str) -> None:
    """Records ``settings`` in ``path``, or checks them against those a previous run recorded there: appending to a
    resumed output is only right when it is produced the same way."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            written = json.load(f)
        changed = sorted(k for k in set(written) | set(settings) if written.get(k) != settings.get(k))
        if changed:
            details = ", ".join(f"{k}: {written.get(k)!r} -> {settings.get(k)!r}" for k in changed)
            raise SystemExit(f"{stage}: {os.path.dirname(path) or '.'} holds output made with other settings ({details}); "
                             "use another --output or --overwrite")
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(settings, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def write_jsonl(path: str, rows: Iterable[Dict[str, Any]]) -> int:
    """Writes ``rows`` to ``path`` atomically (temporary file, then rename); returns the count."""
    tmp = f"{path}.tmp-{os.getpid()}"
    count = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, path)
    return count


def _truncate_partial_last_line(path: str) -> None:
    if not os.path.exists(path):
        return
    with open(path, "rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        # Walk back to the last newline and cut what follows it.
        position: Optional[int] = None
        step = 4096
        end = size
        while end > 0 and position is None:
            start = max(0, end - step)
            f.seek(start)
            chunk = f.read(end - start)
            index = chunk.rfind(b"\n")
            if index >= 0:
                position = start + index + 1
            end = start
        f.truncate(position or 0)
