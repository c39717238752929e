"""
What the scheduler and executor drivers share: the driver status, the
choice between an injected reactor and the shared reactor thread, and the
way the caller waits for the end.
"""

import threading
import traceback
import uuid

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from mesos_tw.driver import reactor_thread
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.network import MessageNode

__all__ = ["DriverBase"]


class DriverBase:
    """
    A driver's life: C{DRIVER_NOT_STARTED} -> C{DRIVER_RUNNING} ->
    C{DRIVER_STOPPED} or C{DRIVER_ABORTED}.

    With a C{reactor} the driver runs on it, in the caller's thread, and
    L{stopped} tells when it ends.  Without one it uses the global reactor
    in a shared daemon thread, and L{join} blocks.

    @ivar stopped: a Deferred firing with the final status.
    """

    log = Logger()

    def __init__(self, reactor, node_factory):
        self._threaded = reactor is None
        self._reactor = reactor_thread.shared_reactor() if reactor is None else reactor
        self._node_factory = node_factory or (
            lambda upid: MessageNode(self._reactor, upid, None))
        self.status = mesos_pb2.DRIVER_NOT_STARTED
        self.stopped = Deferred()
        self._done = threading.Event()

    def _call(self, function, *args, **kwargs):
        """
        Run a driver operation on the reactor.
        """
        if not self._threaded:
            return function(*args, **kwargs)
        return reactor_thread.call_in_reactor(self._reactor, function, *args, **kwargs)

    def _finish(self, status):
        """
        End the driver with C{status} and release whoever waits.
        """
        self.status = status
        if not self.stopped.called:
            self.stopped.callback(status)
        self._done.set()

    def _invoke(self, target, name, *args):
        """
        Call the framework's callback C{target.name(self, *args)}.

        A callback that raises aborts the driver, as Mesos's Python bindings
        do (C{PyErr_Print()}, then C{driver->abort()}): the traceback goes to
        standard error, the framework's C{error} callback is told why (unless
        C{error} itself raised), and L{run} returns C{DRIVER_ABORTED}.  The
        driver neither acknowledges what the callback was handed nor
        registers again.

        @return: whether the callback returned normally.
        """
        try:
            getattr(target, name)(self, *args)
        except Exception as error:
            why = f"{type(target).__name__}.{name} raised {type(error).__name__}: {error}"
            traceback.print_exc()
            self.log.error("Aborting the driver: {why}", why=why)
            if name != "error":
                try:
                    target.error(self, f"Aborting the driver: {why}")
                except Exception:
                    traceback.print_exc()
            self._abort()
            return False
        return True

    def _abort(self):
        """
        Stop at once (each driver says how).
        """
        raise NotImplementedError

    def join(self):
        """
        Wait until the driver stops or aborts; return its status.
        """
        if not self._threaded:
            raise RuntimeError(
                "join() would block the reactor this driver runs on; wait on driver.stopped"
            )
        if self.status == mesos_pb2.DRIVER_NOT_STARTED:
            return self.status
        self._done.wait()
        return self.status

    def run(self):
        """
        Start, then wait until stopped; return the final status.
        """
        status = self.start()
        if status != mesos_pb2.DRIVER_RUNNING:
            return status
        return self.join()

    @staticmethod
    def new_process_id(kind):
        """
        A process id no other driver will have, e.g. C{scheduler-<uuid>}.
        """
        return f"{kind}-{uuid.uuid4()}"
