"""
What the v1 operator APIs of the master and of the slave (C{POST /api/v1})
share: answering a call (parsed with the v1 codec, dispatched by its type
to a C{call_<type>} method, its C{Response} encoded as the request's
C{Accept} asks), a call that is not served refused by name, and the calls
both serve the same way: health, flags, version, metrics, the logging
level, and listing and reading files.
"""

import os

from google.protobuf.message import Message
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from mesos_tw import __version__
from mesos_tw.protocols import mesos_pb2
from mesos_tw.slave.files import FileAccessError
from mesos_tw.web.v1 import (
    CallError,
    Forbidden,
    NotAcceptable,
    call_body,
    call_kind,
    encode,
    error_response,
    parse_call,
    stream_media,
)

__all__ = ["AttachedFiles", "LoggingLevel", "OperatorCalls", "file_infos", "flag_list",
           "metric_list", "read_file", "time_info", "version_info"]

#: The most bytes a READ_FILE answers with at once.
MAX_READ_LENGTH = 1024 * 1024


def time_info(seconds):
    """
    A C{TimeInfo} (nanoseconds since the epoch) for C{seconds}.
    """
    return mesos_pb2.TimeInfo(nanoseconds=int(round(seconds * 1e9)))


def version_info():
    """
    Our C{VersionInfo}.
    """
    return mesos_pb2.VersionInfo(version=__version__, build_user="mesos_tw")


def flag_list(flags):
    """
    C{{name: value}} as C{Flag}s, by name.
    """
    return [mesos_pb2.Flag(name=name, value="" if value is None else str(value))
            for name, value in sorted(flags.items())]


def metric_list(metrics):
    """
    A metrics snapshot (C{{name: number}}) as C{Metric}s, by name.
    """
    return [mesos_pb2.Metric(name=name, value=float(value))
            for name, value in sorted(metrics.items())]


class AttachedFiles:
    """
    The files a master serves through LIST_FILES and READ_FILE: real paths
    attached under virtual ones (Mesos's C{Files::attach}), as C{/master/log}
    is when the master writes a log file.
    """

    def __init__(self, attached=None):
        self.attached = dict(attached or {})

    def attach(self, real, virtual):
        """
        Serve the file or directory C{real} as C{virtual}.
        """
        self.attached[virtual.rstrip("/") or "/"] = real

    def resolve(self, path):
        """
        The real path of the virtual C{path}.

        @raise FileAccessError: 400 for an empty path, 404 for one that is
            not attached or does not exist.
        """
        if not path:
            raise FileAccessError(400, "path is required")
        path = path.rstrip("/") or "/"
        for virtual, real in sorted(self.attached.items(), key=lambda item: -len(item[0])):
            if path == virtual or path.startswith(virtual + "/"):
                full = os.path.realpath(real + path[len(virtual):])
                base = os.path.realpath(real)
                if full != base and not full.startswith(base + os.sep):
                    raise FileAccessError(403, f"{path} leads outside {virtual}")
                if not os.path.exists(full):
                    raise FileAccessError(404, f"no such file or directory: {path}")
                return full
        raise FileAccessError(404, f"no such file or directory: {path}")


def file_infos(real, virtual):
    """
    The C{FileInfo}s of the directory C{real} (named under C{virtual}), or
    of the file itself.
    """
    if not os.path.isdir(real):
        return [_file_info(real, virtual)]
    infos = []
    for name in sorted(os.listdir(real)):
        try:
            infos.append(_file_info(os.path.join(real, name),
                                    os.path.join(virtual.rstrip("/"), name)))
        except OSError:
            continue
    return infos


def _file_info(real, virtual):
    info = os.lstat(real)
    return mesos_pb2.FileInfo(
        path=virtual, nlink=info.st_nlink, size=info.st_size, mtime=time_info(info.st_mtime),
        mode=info.st_mode, uid=str(info.st_uid), gid=str(info.st_gid))


def read_file(real, offset, length=None):
    """
    C{(size, data)}: the file's size and up to C{length} bytes of it from
    C{offset} (at most L{MAX_READ_LENGTH}).

    @raise FileAccessError: 400 for a directory.
    """
    if os.path.isdir(real):
        raise FileAccessError(400, "path is a directory")
    size = os.path.getsize(real)
    length = MAX_READ_LENGTH if length is None else min(length, MAX_READ_LENGTH)
    with open(real, "rb") as file:
        file.seek(min(offset, size))
        return size, file.read(length)


class LoggingLevel:
    """
    The logging level GET_LOGGING_LEVEL reports and SET_LOGGING_LEVEL sets
    for a while (Mesos's glog verbosity, 0 by default), back to 0 when the
    while is over.
    """

    log = Logger()

    def __init__(self, reactor):
        self.reactor = reactor
        self.level = 0
        self._revert = None

    def set(self, level, seconds):
        """
        Be at C{level} for C{seconds}.
        """
        if self._revert is not None and self._revert.active():
            self._revert.cancel()
        self.level = level
        self.log.info("Logging level set to {logging_level} for {seconds}s",
                      logging_level=level, seconds=seconds)
        self._revert = self.reactor.callLater(seconds, self._back)

    def _back(self):
        self._revert = None
        self.level = 0


class OperatorCalls:
    """
    Answers the calls of one v1 operator API: a subclass has a
    C{call_<type>(request, body)} method per call type it serves (C{body}
    the part of the call its type names, or L{None}), returning the
    C{Response} (encoded as C{Accept} asks), L{None} (a 200 with no body),
    bytes (already answered), or a Deferred of one of those.

    @cvar call_class: the API's C{Call}.
    @cvar response_class: its C{Response}.
    @cvar what: whose API it is, for error messages.
    """

    log = Logger()
    call_class = None
    response_class = None
    what = "this"

    def answer(self, request):
        """
        Answer one call; what is wrong with it is a 4xx with a message.
        """
        try:
            call = parse_call(request, self.call_class)
            kind = call_kind(call)
            handler = getattr(self, "call_" + kind.lower(), None)
            if handler is None:
                raise CallError(f"{kind} is not served by {self.what}'s operator API")
            result = handler(request, call_body(call))
        except Exception as error:
            return self._error(request, error)
        if isinstance(result, Deferred):
            return result.addCallbacks(self._result, self._failed, callbackArgs=(request,),
                                       errbackArgs=(request,))
        return self._result(result, request)

    def _result(self, result, request):
        if isinstance(result, Message):
            try:
                media = stream_media(request)
            except NotAcceptable as error:
                return error_response(request, 406, str(error))
            request.setResponseCode(200)
            request.setHeader(b"Content-Type", media.encode("ascii"))
            return encode(result, media)
        if result is None:
            request.setResponseCode(200)
            return b""
        return result

    def _failed(self, failure, request):
        return self._error(request, failure.value)

    def _error(self, request, error):
        if isinstance(error, CallError):
            return error_response(request, 400, str(error))
        if isinstance(error, Forbidden):
            return error_response(request, 403, str(error))
        if isinstance(error, NotAcceptable):
            return error_response(request, 406, str(error))
        if isinstance(error, FileAccessError):
            return error_response(request, error.code, str(error))
        raise error

    # The calls both APIs answer alike.

    def files(self):
        """
        Where LIST_FILES and READ_FILE find files: an object whose
        C{resolve(path)} gives a real path or raises L{FileAccessError}.
        """
        raise NotImplementedError()

    def call_list_files(self, request, body):
        """
        LIST_FILES: the entries of a directory (or the file itself).
        """
        real = self.files().resolve(body.path)
        response = self.response_class(type=self.response_class.LIST_FILES)
        response.list_files.file_infos.extend(file_infos(real, body.path))
        return response

    def call_read_file(self, request, body):
        """
        READ_FILE: the file's size and up to C{length} bytes from C{offset}.
        """
        real = self.files().resolve(body.path)
        size, data = read_file(real, body.offset,
                               body.length if body.HasField("length") else None)
        response = self.response_class(type=self.response_class.READ_FILE)
        response.read_file.size = size
        response.read_file.data = data
        return response

    def call_get_version(self, request, body):
        """
        GET_VERSION.
        """
        response = self.response_class(type=self.response_class.GET_VERSION)
        response.get_version.version_info.CopyFrom(version_info())
        return response

    def call_get_health(self, request, body):
        """
        GET_HEALTH: healthy while it answers.
        """
        response = self.response_class(type=self.response_class.GET_HEALTH)
        response.get_health.healthy = True
        return response

    def call_get_flags(self, request, body):
        """
        GET_FLAGS: the flags it runs with.
        """
        response = self.response_class(type=self.response_class.GET_FLAGS)
        response.get_flags.flags.extend(flag_list(self.flags["flags"]))
        return response

    def call_get_metrics(self, request, body):
        """
        GET_METRICS: the metrics snapshot.
        """
        response = self.response_class(type=self.response_class.GET_METRICS)
        response.get_metrics.metrics.extend(metric_list(self.metrics()))
        return response

