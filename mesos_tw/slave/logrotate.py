"""
Size-capped executor logs (C{--sandbox_log_max_size}): a sandbox's
C{stdout} or C{stderr} that has grown past the cap is copied to
C{stdout.1} (the older copies shifting to C{.2} ... C{.<kept>}, the oldest
dropped) and emptied in place.  Executors write their output with
C{O_APPEND} (every isolator opens it so), so after the truncation they go on
writing at the start of the emptied file: the executor need not know.

Like logrotate's C{copytruncate}, the copy is taken while the executor may
still write: the copy is repeated until the file stops growing, and only
what is written between the last copy and the truncation (microseconds)
can be lost.
"""

import os
import re
import shutil

__all__ = ["parse_bytes", "rotate"]

_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB)?\s*$", re.IGNORECASE)
_FACTORS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}

#: How many times the copy is retried while the file keeps growing.
COPY_ROUNDS = 5


def parse_bytes(text):
    """
    Bytes in Mesos's form: C{10MB}, C{512KB}, C{1GB}, or a bare number.
    """
    match = _BYTES.match(str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a size (try 10MB, 512KB, 1GB)")
    return int(float(match.group(1)) * _FACTORS[(match.group(2) or "B").upper()])


def rotate(path, kept):
    """
    Copy C{path} to C{path.1} (shifting the older copies; C{kept} are
    kept) and empty it.

    @raise OSError: if it cannot be done (the file is then left whole).
    """
    for index in range(kept - 1, 0, -1):
        older = f"{path}.{index}"
        if os.path.exists(older):
            os.replace(older, f"{path}.{index + 1}")
    copy = f"{path}.1"
    with open(path, "rb") as source, open(copy, "wb") as target:
        for _ in range(COPY_ROUNDS):
            shutil.copyfileobj(source, target)
            if source.tell() >= os.fstat(source.fileno()).st_size:
                break
        os.truncate(path, 0)
