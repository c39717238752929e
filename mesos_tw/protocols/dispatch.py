"""
One dispatcher for every node: it maps a message to its handler, and keeps a
handler's failure its own.

Master, slave, drivers, the v1 API's subscriptions and the default executor
each hold a L{Dispatcher} built from their table of handlers (the command
executor, which reads its messages without the protobuf runtime, keys its
own small table by message name, L{mesos_tw.executors.command}).  A message with no
handler is logged and counted as dropped.  A handler that raises is logged
with the message's name and sender (and the traceback), counted per message
type, and goes no further: the connection stays open, the peer hears
nothing of it, and the next message is handled as usual.  Only the transport
decides that a peer is gone.

This module does not import Twisted: the log is passed in, a
C{twisted.logger.Logger} or anything with its C{warn} and C{failure}.
"""

from collections import Counter

__all__ = ["Dispatcher", "metric_name"]


def metric_name(message_type_name):
    """
    The snake-case metric name of a message type:
    C{"StatusUpdateMessage"} -> C{"status_update"}.
    """
    name = message_type_name.removesuffix("Message")
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


class Dispatcher:
    """
    Maps message types to handlers, and contains the handlers' failures.

    @ivar handlers: C{{message class: handler}} (a test may replace an entry
        to make a handler fail).
    @ivar received: messages dispatched, by type name (those with no handler
        included).
    @ivar failed: messages whose handler raised, by type name.
    @ivar dropped: how many messages had no handler.
    """

    def __init__(self, handlers, log, with_sender=True):
        """
        @param handlers: C{{message class: handler}}.
        @param log: where unexpected messages and failures are logged.
        @param with_sender: call handlers as C{handler(sender, message)};
            with C{False}, as C{handler(message)}.
        """
        self.handlers = dict(handlers)
        self._log = log
        self._with_sender = with_sender
        self.received = Counter()
        self.failed = Counter()
        self.dropped = 0

    @property
    def message_types(self):
        """
        The message classes that have a handler.
        """
        return list(self.handlers)

    def dispatch(self, sender, message):
        """
        Hand C{message} from C{sender} to its handler.

        @return: C{True} if the handler ran to its end, C{False} if there is
            no handler or it raised (both logged and counted).
        """
        name = type(message).__name__
        self.received[name] += 1
        handler = self.handlers.get(type(message))
        if handler is None:
            self.dropped += 1
            self._log.warn("Ignoring unexpected {name} from {sender}",
                           name=message.DESCRIPTOR.full_name, sender=str(sender))
            return False
        try:
            if self._with_sender:
                handler(sender, message)
            else:
                handler(message)
        except Exception:
            self.failed[name] += 1
            self._log.failure("Handling {name} from {sender} failed; the message is dropped, "
                              "the connection kept", name=message.DESCRIPTOR.full_name,
                              sender=str(sender))
            return False
        return True

    def failure_metrics(self, prefix):
        """
        The failure counts as C{/metrics/snapshot} entries: C{<prefix>/
        messages_failed} in all, and C{<prefix>/messages_failed_<type>} for
        every message type we handle (C{status_update}, ...).
        """
        metrics = {f"{prefix}/messages_failed": sum(self.failed.values())}
        for cls in self.handlers:
            metrics[f"{prefix}/messages_failed_{metric_name(cls.__name__)}"] = \
                self.failed[cls.__name__]
        return metrics
