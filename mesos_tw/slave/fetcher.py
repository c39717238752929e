"""
Fetching a command's URIs into its sandbox before it starts (Mesos's
fetcher), without blocking the reactor.

Each C{CommandInfo.URI} is a local path, a C{file://} URL, or an C{http://}
or C{https://} URL.  It lands in the sandbox under its base name (or its
C{output_file}); archives (C{.tar}, C{.tar.gz}, C{.tgz}, C{.tar.bz2},
C{.tar.xz}, C{.zip}) are then extracted there, unless C{extract} is false;
C{executable} makes the file executable.  Copies and extraction run in the
reactor's thread pool, downloads stream to their file.
"""

import os
import shutil
import stat
import tarfile
from urllib.parse import unquote, urlparse

import treq
from treq.client import HTTPClient
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThreadPool
from twisted.web.client import Agent

from mesos_tw.isolation.interface import LaunchError

__all__ = ["ARCHIVE_SUFFIXES", "FetchError", "Fetcher"]

#: What is extracted (unless the URI says not to).
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")


class FetchError(LaunchError):
    """
    A URI that could not be fetched: the message names it and says why.
    """


class Fetcher:
    """
    Fetches URIs into sandboxes.

    @param reactor: runs the downloads, and the copies and extractions in
        its thread pool.
    @param http: a treq C{HTTPClient} for downloads (by default one on
        C{reactor}, made at the first download).
    """

    def __init__(self, reactor, http=None):
        self.reactor = reactor
        self._http = http

    @inlineCallbacks
    def fetch(self, command, directory):
        """
        Fetch every one of C{command.uris} into C{directory}, in order.

        @return: a Deferred firing when all are there, or failing with
            L{FetchError} for the first that could not be fetched.
        """
        for uri in command.uris:
            parsed = urlparse(uri.value)
            name = uri.output_file or os.path.basename(unquote(parsed.path).rstrip("/"))
            if not name or name in (".", ".."):
                raise FetchError(f"cannot fetch {uri.value!r}: it names no file")
            target = os.path.join(directory, name)
            if parsed.scheme in ("", "file"):
                source = unquote(parsed.path) if parsed.scheme else uri.value
                yield self._in_thread(_copy, uri.value, source, target)
            elif parsed.scheme in ("http", "https"):
                yield self._download(uri.value, target)
            else:
                raise FetchError(f"cannot fetch {uri.value!r}: only local paths, file://, "
                                 "http:// and https:// URIs are supported")
            yield self._in_thread(_finish, uri, target, directory)

    def _in_thread(self, function, *args):
        return deferToThreadPool(self.reactor, self.reactor.getThreadPool(), function, *args)

    @inlineCallbacks
    def _download(self, url, target):
        if self._http is None:
            self._http = HTTPClient(Agent(self.reactor))
        try:
            response = yield self._http.get(url)
        except Exception as error:
            raise FetchError(f"cannot fetch {url!r}: {error}") from None
        if response.code != 200:
            yield response.content()
            raise FetchError(f"cannot fetch {url!r}: the server answered {response.code}")
        try:
            with open(target, "wb") as out:
                yield treq.collect(response, out.write)
        except OSError as error:
            raise FetchError(f"cannot fetch {url!r}: {error.strerror}") from None
        except Exception as error:
            raise FetchError(f"cannot fetch {url!r}: the download broke off ({error})") from None


def _copy(value, source, target):
    try:
        shutil.copyfile(source, target)
    except OSError as error:
        raise FetchError(f"cannot fetch {value!r}: {error.strerror}") from None


def _finish(uri, target, directory):
    """
    Make a fetched file executable, or extract it, as its URI asks.
    """
    if uri.executable:
        mode = os.stat(target).st_mode
        os.chmod(target, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    elif uri.extract and target.endswith(ARCHIVE_SUFFIXES):
        # Tar members that would land outside the sandbox (absolute paths,
        # "..", links out) are refused by the "data" filter; zipfile never
        # writes outside the directory it extracts to.
        safety = {} if target.endswith(".zip") else {"filter": "data"}
        try:
            shutil.unpack_archive(target, directory, **safety)
        except (OSError, ValueError, shutil.ReadError, tarfile.TarError) as error:
            raise FetchError(f"cannot extract {uri.value!r}: {error}") from None
