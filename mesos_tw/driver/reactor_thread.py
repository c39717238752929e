"""
The classic, blocking framework API on Twisted: drivers created without a
reactor share the global reactor, run in one daemon thread, and every
driver call hops onto it.  This is the only library module that touches the
global reactor, and only when a driver is used that way.
"""

import threading

from twisted.internet.threads import blockingCallFromThread
from twisted.python import threadable

__all__ = ["call_in_reactor", "shared_reactor"]

_lock = threading.Lock()
_thread = None


def shared_reactor():
    """
    The global reactor, started in a daemon thread unless it already runs.
    """
    global _thread
    from twisted.internet import reactor

    with _lock:
        if not reactor.running and _thread is None:
            _thread = threading.Thread(
                target=reactor.run, kwargs={"installSignalHandlers": False},
                name="mesos_tw reactor", daemon=True,
            )
            _thread.start()
    return reactor


def call_in_reactor(reactor, function, *args, **kwargs):
    """
    Run C{function} in the reactor thread and return its result, waiting
    for it when called from another thread.
    """
    if threadable.isInIOThread():
        return function(*args, **kwargs)
    return blockingCallFromThread(reactor, function, *args, **kwargs)
