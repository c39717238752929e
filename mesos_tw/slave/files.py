"""
The files API (Mesos's C{/files/browse}, C{/files/read},
C{/files/download}): reading what executors wrote, confined to the slave's
work directory, and the files attached under names of their own (the
node's log as C{/master/log} or C{/slave/log}, as Mesos attaches it).
"""

import os
import stat

from mesos_tw.web.producing import produce

__all__ = ["FileAccessError", "SandboxFiles", "send_file"]

#: The most C{/files/read} returns at once.
MAX_READ_LENGTH = 1024 * 1024

#: How much of a download is written per turn of the reactor.
DOWNLOAD_CHUNK = 64 * 1024


class FileAccessError(Exception):
    """
    A path that may not or cannot be read.

    @ivar code: the HTTP status that says so (403, 404 or 400).
    """

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class SandboxFiles:
    """
    Files under C{root} (the slave's work directory; L{None} for none), and
    the C{attached} files, and nothing else: C{..} and symbolic links that
    lead outside are refused.

    @param collected: C{collected(path)} says whether C{path} was removed
        by the sandbox garbage collector, to say so when it is asked for.
    @param attached: C{{name: real path}}, files served under a name of
        their own (C{/slave/log}).
    """

    def __init__(self, root, collected=lambda path: False, attached=None):
        self.root = None if root is None else os.path.realpath(root)
        self.collected = collected
        self.attached = dict(attached or {})

    def resolve(self, path):
        """
        The real path of C{path}, checked to be an attached name or inside
        the root, and to exist.

        @raise FileAccessError: 400 for an empty or relative path or one
            holding a NUL, 403 for one outside the sandboxes, 404 for one
            that does not exist.
        """
        if not path:
            raise FileAccessError(400, "path is required")
        if "\0" in path:
            raise FileAccessError(400, "path must not contain a NUL character")
        if path.rstrip("/") in self.attached:
            real = self.attached[path.rstrip("/")]
            if not os.path.exists(real):
                raise FileAccessError(404, f"{path} has no file (yet)")
            return real
        if self.root is None:
            raise FileAccessError(404, f"no such file: only {', '.join(sorted(self.attached))}"
                                       " can be read here")
        if not os.path.isabs(path):
            raise FileAccessError(400, "path must be absolute (a sandbox directory or file)")
        real = os.path.realpath(path)
        if real != self.root and not real.startswith(self.root + os.sep):
            raise FileAccessError(403, "path is outside the slave's sandboxes")
        if not os.path.exists(real):
            if self.collected(real) or self.collected(os.path.abspath(path)):
                raise FileAccessError(404, "the sandbox was garbage collected (its executor "
                                           "ended longer than --gc_delay ago, or the disk "
                                           "filled)")
            raise FileAccessError(404, "no such file or directory")
        return real

    def browse(self, path):
        """
        The entries of a directory, as Mesos lists them.
        """
        real = self.resolve(path)
        if not os.path.isdir(real):
            raise FileAccessError(400, "path is not a directory")
        entries = []
        for name in sorted(os.listdir(real)):
            try:
                info = os.lstat(os.path.join(real, name))
            except OSError:
                continue
            entries.append({
                "path": os.path.join(path.rstrip("/"), name),
                "size": info.st_size,
                "mode": stat.filemode(info.st_mode),
                "mtime": info.st_mtime,
                "nlink": info.st_nlink,
                "uid": info.st_uid,
                "gid": info.st_gid,
            })
        return entries

    def read(self, path, offset, length):
        """
        Mesos's C{{data, offset}}: up to C{length} bytes from C{offset} (as
        text); an C{offset} of -1 asks only for the size.
        """
        real = self.resolve(path)
        if os.path.isdir(real):
            raise FileAccessError(400, "path is a directory")
        size = os.path.getsize(real)
        if offset == -1:
            return {"data": "", "offset": size}
        length = MAX_READ_LENGTH if length is None else min(length, MAX_READ_LENGTH)
        with open(real, "rb") as file:
            file.seek(min(offset, size))
            data = _whole_characters(file.read(length))
        return {"data": data.decode("utf-8", "replace"), "offset": min(offset, size)}

    def download(self, path):
        """
        A file's name, size and open binary file object (the caller
        closes it).
        """
        real = self.resolve(path)
        if os.path.isdir(real):
            raise FileAccessError(400, "path is a directory")
        file = open(real, "rb")
        return os.path.basename(real), os.fstat(file.fileno()).st_size, file


def send_file(request, file, reactor, chunk=DOWNLOAD_CHUNK):
    """
    Write C{file} to C{request} C{chunk} bytes per turn of C{reactor}, and
    only while the client reads (L{mesos_tw.web.producing}), so that a
    large download neither stops the slave nor sits in its memory; the
    file is closed at the end.

    @return: a Deferred firing with C{b""} once everything is written (Klein
        then finishes the request); cancelling it (the client went away)
        stops the sending and closes the file.
    """
    return produce(request, reactor, iter(lambda: file.read(chunk), b""), file.close)


def _whole_characters(data):
    """
    C{data} without a UTF-8 character cut short at its end (the next read
    starts with it), unless that would leave nothing: so that a reader that
    moves on by the UTF-8 length of the text it got (a log tail) keeps its
    place in the file.
    """
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue
        needed = 4 if byte >= 0xF0 else 3 if byte >= 0xE0 else 2 if byte >= 0xC0 else 1
        return data[:-back] if needed > back and back < len(data) else data
    return data
