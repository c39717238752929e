"""
Durable files under the slave's C{<work_dir>/meta/}: each written whole and
atomically, so a crash at any moment leaves either the old file or the new
one, never a torn one.

A write goes to a temporary file in the same directory, is fsynced,
renamed over the target, and the directory is fsynced so that the rename
itself survives a power cut.  A protobuf message is stored as Mesos's
C{protobuf::write} stores it (a 32-bit little-endian length, then the
message), so that a sequence of records (a task's status updates) is the
same format as one message.  Reading a file that is missing, short or
unparsable raises L{CheckpointError} naming the file and what is wrong.
"""

import os
import struct
import tempfile

from google.protobuf.message import DecodeError
from twisted.logger import Logger

__all__ = [
    "CheckpointError",
    "checkpoint",
    "checkpoint_messages",
    "read_message",
    "read_messages",
    "read_text",
    "write_atomically",
]

log = Logger()

_LENGTH = struct.Struct("<I")


class CheckpointError(Exception):
    """
    A checkpointed file could not be read or written.

    @ivar path: the file.
    @ivar why: what is wrong with it, in words.
    """

    def __init__(self, path, why):
        super().__init__(f"{path}: {why}")
        self.path = path
        self.why = why


def write_atomically(path, data):
    """
    Replace C{path} with C{data} (bytes) atomically and durably, making
    its directory if need be.

    @raise CheckpointError: if it cannot be written (the old file, if any,
        is then left as it was, and no temporary file is left behind).
    """
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.")
    except OSError as error:
        raise CheckpointError(path, error.strerror or str(error)) from None
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except OSError as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise CheckpointError(path, error.strerror or str(error)) from None
    _fsync_directory(directory)


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        log.warn("Could not open {directory} to make a rename durable: {error}",
                 directory=directory, error=error.strerror)
        return
    try:
        os.fsync(fd)
    except OSError as error:
        log.warn("Could not fsync {directory}: {error}", directory=directory,
                 error=error.strerror)
    finally:
        os.close(fd)


def _frame(message):
    data = message.SerializeToString()
    return _LENGTH.pack(len(data)) + data


def checkpoint(path, what):
    """
    Write C{what} (text, or a protobuf message) to C{path} atomically.

    @return: whether it was written; a failure is logged, saying which
        file and why, and leaves no torn file.
    """
    data = what.encode("utf-8") if isinstance(what, str) else _frame(what)
    try:
        write_atomically(path, data)
    except CheckpointError as error:
        log.error("Failed to checkpoint {path}: {why}", path=error.path, why=error.why)
        return False
    return True


def checkpoint_messages(path, messages):
    """
    Write a sequence of protobuf C{messages} (records) to C{path}
    atomically; logged and L{False} if it fails.
    """
    try:
        write_atomically(path, b"".join(_frame(message) for message in messages))
    except CheckpointError as error:
        log.error("Failed to checkpoint {path}: {why}", path=error.path, why=error.why)
        return False
    return True


def _read_bytes(path):
    try:
        with open(path, "rb") as file:
            return file.read()
    except FileNotFoundError:
        raise CheckpointError(path, "missing") from None
    except OSError as error:
        raise CheckpointError(path, error.strerror or str(error)) from None


def read_text(path):
    """
    The text of C{path}, stripped.

    @raise CheckpointError: if it is missing, unreadable, empty or not UTF-8.
    """
    try:
        text = _read_bytes(path).decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CheckpointError(path, "not UTF-8 text") from None
    if not text:
        raise CheckpointError(path, "empty")
    return text


def read_messages(path, cls):
    """
    The C{cls} records stored in C{path}, in order.

    @raise CheckpointError: if it is missing or unreadable, if a record is
        cut short, or if one does not parse as a C{cls}.
    """
    data = _read_bytes(path)
    messages = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < _LENGTH.size:
            raise CheckpointError(path, f"truncated: {len(data) - offset} stray byte(s) at "
                                        f"offset {offset}")
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        if len(data) - offset < length:
            raise CheckpointError(path, f"truncated: a record of {length} bytes at offset "
                                        f"{offset - _LENGTH.size} has {len(data) - offset}")
        message = cls()
        try:
            message.ParseFromString(data[offset:offset + length])
        except DecodeError as error:
            raise CheckpointError(path, f"not a {cls.DESCRIPTOR.full_name} at offset "
                                        f"{offset - _LENGTH.size}: {error}") from None
        missing = message.FindInitializationErrors()
        if missing:
            raise CheckpointError(path, f"a {cls.DESCRIPTOR.full_name} without "
                                        f"{', '.join(missing)}")
        messages.append(message)
        offset += length
    return messages


def read_message(path, cls):
    """
    The one C{cls} message stored in C{path}.

    @raise CheckpointError: as L{read_messages}, or if it holds no message
        or more than one.
    """
    messages = read_messages(path, cls)
    if len(messages) != 1:
        raise CheckpointError(path, f"holds {len(messages)} records, not one "
                                    f"{cls.DESCRIPTOR.full_name}")
    return messages[0]
