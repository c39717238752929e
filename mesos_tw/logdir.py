"""
C{--log_dir}: a node's log written to a file in a directory, as Mesos writes
its log there when the flag is given, for the files API to serve as
C{/master/log} or C{/slave/log}.
"""

import os

from twisted.logger import globalLogPublisher, textFileLogObserver
from twisted.python import usage
from twisted.python.logfile import LogFile

__all__ = ["LOG_ROTATE_BYTES", "LogDirectory", "MAX_ROTATED_LOGS", "check_log_dir"]

#: The log file is rotated when it reaches this size...
LOG_ROTATE_BYTES = 10 * 1024 * 1024
#: ...and this many rotated files are kept (C{<name>.1} is the newest), so
#: a long-running node's log stays bounded.
MAX_ROTATED_LOGS = 5


def check_log_dir(options):
    """
    Check C{--log_dir} in parsed C{options}: if it exists, it must be a
    directory (it is created when the node starts otherwise).

    @raise usage.UsageError: naming the flag.
    """
    path = options["log_dir"]
    if path and os.path.exists(path) and not os.path.isdir(path):
        raise usage.UsageError(f"invalid value for --log_dir: {path!r} is not a directory")


class LogDirectory:
    """
    The file C{name} in C{directory}, receiving every event of C{publisher}
    (the global log) while started.

    @ivar path: the log file's path.
    """

    def __init__(self, directory, name, publisher=globalLogPublisher):
        self.directory = directory
        self.name = name
        self.path = os.path.join(directory, name)
        self.publisher = publisher
        self._file = None
        self._observer = None

    def start(self):
        """
        Create the directory if need be, open the file (appending) and
        start writing the log to it.
        """
        os.makedirs(self.directory, exist_ok=True)
        self._file = LogFile(self.name, self.directory, rotateLength=LOG_ROTATE_BYTES,
                             maxRotatedFiles=MAX_ROTATED_LOGS)
        self._observer = textFileLogObserver(self._file)
        self.publisher.addObserver(self._observer)

    def stop(self):
        """
        Stop writing the log and close the file.
        """
        if self._observer is not None:
            self.publisher.removeObserver(self._observer)
            self._observer = None
        if self._file is not None:
            self._file.close()
            self._file = None
