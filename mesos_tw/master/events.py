"""
What happens in the master that operators subscribe to (the v1 operator
API's SUBSCRIBE stream): tasks added and updated, agents added and
removed, frameworks added, updated and removed.  The master reports each
to its L{MasterEvents}; listeners (the operator API's subscriptions) turn
them into events.  A listener's failure is its own: it is logged and the
master goes on.
"""

from twisted.logger import Logger

__all__ = ["KINDS", "MasterEvents"]

#: The kinds of event the master reports, each a method of a listener.
KINDS = ("task_added", "task_updated", "agent_added", "agent_removed", "framework_added",
         "framework_updated", "framework_removed", "term_ended")


class MasterEvents:
    """
    The master's listeners, and the calls that tell them what happened.

    Each reporting method takes the master's own records (a C{TaskRecord},
    a C{SlaveRecord}, a C{FrameworkRecord}); listeners read them at once,
    before the master changes them again.
    """

    log = Logger()

    def __init__(self):
        self.listeners = []
        # kind -> the listeners' methods of that kind, made anew (never
        # changed in place) on each subscription and unsubscription: a
        # report walks the list it found, whoever (un)subscribes meanwhile,
        # and looks up nothing (a new leader reports thousands a second).
        self._handlers = dict.fromkeys(KINDS, ())

    def subscribe(self, listener):
        """
        Tell C{listener} what happens from now on: its method of each kind
        in L{KINDS} that it has is called.
        """
        self.listeners.append(listener)
        self._index()

    def unsubscribe(self, listener):
        """
        Tell C{listener} nothing more.
        """
        if listener in self.listeners:
            self.listeners.remove(listener)
            self._index()

    def _index(self):
        self._handlers = {
            kind: tuple(handler for handler in (getattr(listener, kind, None)
                                                for listener in self.listeners)
                        if handler is not None)
            for kind in KINDS}

    def _report(self, kind, *args):
        for handler in self._handlers[kind]:
            try:
                handler(*args)
            except Exception:
                self.log.failure("A {kind} listener failed", kind=kind)

    def task_added(self, record):
        """
        A task was launched (or found on a re-registering slave).
        """
        self._report("task_added", record)

    def task_updated(self, record, status):
        """
        A task's state changed with C{status}.
        """
        self._report("task_updated", record, status)

    def agent_added(self, slave):
        """
        A slave registered.
        """
        self._report("agent_added", slave)

    def agent_removed(self, slave_id):
        """
        A slave was removed.
        """
        self._report("agent_removed", slave_id)

    def framework_added(self, framework):
        """
        A framework registered.
        """
        self._report("framework_added", framework)

    def framework_updated(self, framework):
        """
        A framework failed over, was deactivated or came back.
        """
        self._report("framework_updated", framework)

    def framework_removed(self, framework):
        """
        A framework was removed.
        """
        self._report("framework_removed", framework)

    def term_ended(self, why):
        """
        The master stopped leading: every listener hears it, then none is
        left.
        """
        self._report("term_ended", why)
        self.listeners = []
        self._handlers = dict.fromkeys(self._handlers, ())
