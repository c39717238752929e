"""
Fetching a command's URIs into its sandbox before it starts.
"""

import os
import shutil
import stat
from urllib.parse import urlparse

from mesos_tw.isolation.interface import LaunchError

__all__ = ["fetch_uris"]


def fetch_uris(command, directory):
    """
    Copy each of C{command.uris} (a local path or a C{file://} URL) into
    C{directory}, making it executable if asked.

    @raise LaunchError: for a URI that cannot be fetched, saying why.
    """
    for uri in command.uris:
        parsed = urlparse(uri.value)
        if parsed.scheme not in ("", "file"):
            raise LaunchError(
                f"cannot fetch {uri.value!r}: only local paths and file:// URIs are supported"
            )
        source = parsed.path if parsed.scheme else uri.value
        target = os.path.join(directory, os.path.basename(source.rstrip("/")))
        try:
            shutil.copyfile(source, target)
        except OSError as error:
            raise LaunchError(f"cannot fetch {uri.value!r}: {error.strerror}") from None
        if uri.executable:
            mode = os.stat(target).st_mode
            os.chmod(target, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
