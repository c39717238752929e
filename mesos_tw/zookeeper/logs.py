"""
kazoo logs through the standard library's logging; without this its
messages go straight to stderr, outside the daemon's log.  They are
forwarded to Twisted's logging instead, under the C{kazoo} namespace.
"""

import logging

from twisted.logger import Logger, LogLevel

__all__ = ["forward_kazoo_logs"]

_LEVELS = (
    (logging.ERROR, LogLevel.error),
    (logging.WARNING, LogLevel.warn),
    (logging.INFO, LogLevel.info),
)


class _TwistedHandler(logging.Handler):
    """
    Hands each record to a Twisted L{Logger}.
    """

    def __init__(self):
        super().__init__()
        self.log = Logger(namespace="kazoo")

    def emit(self, record):
        level = next((twisted for stdlib, twisted in _LEVELS if record.levelno >= stdlib),
                     LogLevel.debug)
        self.log.emit(level, "{message}", message=record.getMessage())


def forward_kazoo_logs():
    """
    Send kazoo's log records to Twisted's logging (once; later calls do
    nothing).  Records logged on kazoo's threads are emitted there, one at
    a time (the standard library holds the handler's lock), and never
    touch the reactor.
    """
    kazoo = logging.getLogger("kazoo")
    if any(isinstance(handler, _TwistedHandler) for handler in kazoo.handlers):
        return
    kazoo.addHandler(_TwistedHandler())
    kazoo.propagate = False
