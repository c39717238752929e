"""
ZooKeeper for Twisted: kazoo behind an interface that returns Deferreds and
delivers every watch and session event on the reactor thread.

kazoo runs its connection and callbacks on threads of its own.  Nothing here
touches Twisted or the caller's state on those threads: each callback only
hands its result to C{reactor.callFromThread}.  Two things kazoo leaves to
us are done here too:

  - kazoo never declares a session lost while the servers are unreachable
    (it stays SUSPENDED and its requests wait), so every request has a
    timeout, and a suspension that lasts the session timeout is treated as
    an expiry: the session is abandoned and a new one started, as Mesos's
    own ZooKeeper group does;
  - kazoo's default reconnection backoff grows to many seconds, so the
    retry policy is set explicitly to retry quickly, forever.
"""

from kazoo.client import KazooClient, KazooState
from kazoo.retry import KazooRetry
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Attribute, Interface, implementer

from mesos_tw.zookeeper.logs import forward_kazoo_logs

__all__ = [
    "CONNECTED",
    "EXPIRED",
    "IZooKeeper",
    "SUSPENDED",
    "ZooKeeperClient",
    "ZooKeeperTimeout",
]

#: Session events, as given to session listeners.
#: C{CONNECTED}: a session is usable (new, or the old one confirmed again).
#: C{SUSPENDED}: the connection is lost; the session may still be alive.
#: C{EXPIRED}: the session is gone, and with it our ephemeral znodes; a new
#: one is being started, and C{CONNECTED} follows when it is usable.
CONNECTED, SUSPENDED, EXPIRED = "connected", "suspended", "expired"


class ZooKeeperTimeout(Exception):
    """
    A request got no answer in time (the servers may be unreachable).
    """


class IZooKeeper(Interface):
    """
    A ZooKeeper session whose results and events arrive on the reactor
    thread.  Failed requests errback with kazoo's exceptions
    (C{kazoo.exceptions.NoNodeError} and so on) or L{ZooKeeperTimeout}.
    """

    state = Attribute("The last session event: CONNECTED, SUSPENDED or EXPIRED "
                      "(SUSPENDED before the first connection).")
    session_timeout = Attribute("The session timeout, in seconds.")

    def start():
        """
        Start connecting; session events go to the listeners.
        """

    def add_session_listener(listener):
        """
        Call C{listener(event)} with every later session event.
        """

    def create(path, data=b"", ephemeral=False, sequence=False, makepath=False):
        """
        Create a znode; fires with its path (with the sequence number, if
        C{sequence}).
        """

    def get(path, watch=None):
        """
        Fires with the znode's data (bytes).  C{watch(event)} is called
        once when the znode changes or is deleted.
        """

    def get_versioned(path):
        """
        Fires with C{(data, version)}: the znode's data and its data
        version (0 when created, one more at each L{set}).
        """

    def get_children(path, watch=None):
        """
        Fires with the names of the znode's children.  C{watch(event)} is
        called once when they change.
        """

    def exists(path, watch=None):
        """
        Fires with whether the znode exists.  C{watch(event)} is called once
        when it is created, changed or deleted.
        """

    def delete(path):
        """
        Delete a znode; fires with L{None}.
        """

    def set(path, data, version=-1):
        """
        Replace a znode's data; fires with L{None} (C{NoNodeError} if it
        does not exist).  Unless C{version} is -1, only if the znode's
        data version is C{version} (else C{BadVersionError}): a write
        that must not overwrite someone else's.
        """

    def restart():
        """
        Abandon this session (its ephemeral znodes go with it) and start a
        new one; listeners see EXPIRED, then CONNECTED.
        """

    def stop():
        """
        Close the session; no more events.  Returns a Deferred that fires
        when it is closed.
        """


def fast_retry(session_timeout):
    """
    kazoo's connection retry policy for us: retry forever, from 50 ms, never
    waiting longer than a quarter of the session timeout (at most 1 s), so
    that a reconnection to another server beats the session's expiry.
    """
    return KazooRetry(
        max_tries=-1, delay=0.05, backoff=2, max_jitter=0.2,
        max_delay=min(1.0, session_timeout / 4),
    )


@implementer(IZooKeeper)
class ZooKeeperClient:
    """
    L{IZooKeeper} on a real ZooKeeper ensemble through kazoo.

    @param hosts: C{host:port,host:port}.
    @param credentials: C{(user, password)} for digest authentication.
    @param request_timeout: seconds a request may take (default: the
        session timeout).
    """

    log = Logger()

    def __init__(self, reactor, hosts, session_timeout=10.0, credentials=None,
                 request_timeout=None, kazoo_factory=KazooClient):
        forward_kazoo_logs()
        self.reactor = reactor
        self.hosts = hosts
        self.session_timeout = session_timeout
        self.credentials = credentials
        self.request_timeout = request_timeout or session_timeout
        self.state = SUSPENDED
        self._kazoo_factory = kazoo_factory
        self._kazoo = None
        self._generation = 0
        self._listeners = []
        self._expiry = None
        self._stopped = False
        self._wrapped_watches = {}
        # kazoo fails a request made before its first connection
        # ("Connection has been closed"), so those wait here.
        self._session_ready = False
        self._unsent = []

    # The session.

    def start(self):
        """
        Start a kazoo client; its events come back on the reactor thread,
        tagged so that a client we have abandoned is ignored.
        """
        self._generation += 1
        generation = self._generation
        self._session_ready = False
        auth = [("digest", f"{self.credentials[0]}:{self.credentials[1]}")] \
            if self.credentials else None
        self._kazoo = self._kazoo_factory(
            hosts=self.hosts, timeout=self.session_timeout, auth_data=auth,
            connection_retry=fast_retry(self.session_timeout),
        )
        self._kazoo.add_listener(
            lambda state: self.reactor.callFromThread(self._kazoo_state, generation, state))
        self._kazoo.start_async()
        self._await_connection()

    def add_session_listener(self, listener):
        """
        Call C{listener(event)} with every later session event.
        """
        self._listeners.append(listener)

    def _notify(self, event):
        self.state = event
        for listener in list(self._listeners):
            listener(event)

    def _kazoo_state(self, generation, state):
        if generation != self._generation or self._stopped:
            return
        if state == KazooState.CONNECTED:
            self._cancel_expiry()
            self.log.info("ZooKeeper session connected ({hosts})", hosts=self.hosts)
            self._session_ready = True
            unsent, self._unsent = self._unsent, []
            for d, call in unsent:
                if not d.called:
                    self._issue(d, call)
            self._notify(CONNECTED)
        elif state == KazooState.SUSPENDED:
            self.log.warn("ZooKeeper connection suspended; the session expires for us "
                          "in {timeout}s unless it comes back", timeout=self.session_timeout)
            self._notify(SUSPENDED)
            self._await_connection()
        elif state == KazooState.LOST:
            self._abandon("ZooKeeper expired the session")

    def _await_connection(self):
        """
        Give the session C{session_timeout} to be confirmed before treating
        it as expired.
        """
        if self._expiry is None or not self._expiry.active():
            self._expiry = self.reactor.callLater(
                self.session_timeout, self._abandon,
                f"no ZooKeeper server confirmed the session within {self.session_timeout}s")

    def _cancel_expiry(self):
        if self._expiry is not None and self._expiry.active():
            self._expiry.cancel()
        self._expiry = None

    def _abandon(self, why):
        """
        The session is gone (or must be taken as gone): tell the listeners,
        close the old client off the reactor thread, and start afresh.
        """
        if self._stopped:
            return
        self._cancel_expiry()
        self.log.warn("ZooKeeper session lost: {why}; starting a new one", why=why)
        self._close_kazoo()
        self._notify(EXPIRED)
        if not self._stopped:
            self.start()

    def _close_kazoo(self):
        old, self._kazoo = self._kazoo, None
        self._generation += 1
        if old is None:
            return None

        def close():
            old.stop()
            old.close()

        # kazoo's stop() waits for its connection thread: never on ours.
        return _in_thread(self.reactor, close)

    def restart(self):
        """
        Abandon the session and start a new one.
        """
        self._abandon("asked to start a new session")

    def stop(self):
        """
        Close the session for good.
        """
        self._stopped = True
        self._cancel_expiry()
        self._listeners = []
        unsent, self._unsent = self._unsent, []
        for d, _ in unsent:
            if not d.called:
                d.errback(ZooKeeperTimeout("the ZooKeeper client stopped before connecting"))
        d = self._close_kazoo()
        if d is None:
            d = Deferred()
            d.callback(None)
        return d

    # Requests.

    def _request(self, what, call):
        d = Deferred()
        if self._kazoo is None:
            d.errback(ZooKeeperTimeout(f"{what}: the ZooKeeper client is stopped"))
            return d

        if self._session_ready:
            self._issue(d, call)
        else:
            self._unsent.append((d, call))
        d.addTimeout(
            self.request_timeout, self.reactor,
            onTimeoutCancel=lambda result, timeout: Failure(ZooKeeperTimeout(
                f"{what} got no answer from ZooKeeper within {timeout}s")))
        return d

    def _issue(self, d, call):
        """
        Make the kazoo request C{call(kazoo)}; its outcome fires C{d} on the
        reactor thread (unless C{d} timed out first).
        """

        def settle(ok, value):
            if d.called:
                return
            if ok:
                d.callback(value)
            else:
                d.errback(value)

        def done(result):
            # On kazoo's thread: only hand the outcome over.
            try:
                value, ok = result.get_nowait(), True
            except Exception as error:
                value, ok = Failure(error), False
            self.reactor.callFromThread(settle, ok, value)

        call(self._kazoo).rawlink(done)

    def _watch(self, watch):
        """
        kazoo keeps watches in a set, so the same function must be wrapped
        the same way every time, or each request would add one more.
        """
        if watch is None:
            return None
        wrapped = self._wrapped_watches.get(watch)
        if wrapped is None:
            def wrapped(event):
                self.reactor.callFromThread(self._deliver_watch, watch, event)

            self._wrapped_watches[watch] = wrapped
        return wrapped

    def _deliver_watch(self, watch, event):
        if not self._stopped:
            watch(event)

    def create(self, path, data=b"", ephemeral=False, sequence=False, makepath=False):
        """
        Create a znode; fires with its path.
        """
        return self._request(f"create {path}", lambda k: k.create_async(
            path, data, ephemeral=ephemeral, sequence=sequence, makepath=makepath))

    def set(self, path, data, version=-1):
        """
        Replace a znode's data (at C{version}, unless -1).
        """
        d = self._request(f"set {path}", lambda k: k.set_async(path, data, version))
        return d.addCallback(lambda stat: None)

    def get(self, path, watch=None):
        """
        Fires with the znode's data.
        """
        d = self._request(f"get {path}", lambda k: k.get_async(path, watch=self._watch(watch)))
        return d.addCallback(lambda data_and_stat: data_and_stat[0])

    def get_versioned(self, path):
        """
        Fires with the znode's data and data version.
        """
        d = self._request(f"get {path}", lambda k: k.get_async(path))
        return d.addCallback(lambda data_and_stat: (data_and_stat[0], data_and_stat[1].version))

    def get_children(self, path, watch=None):
        """
        Fires with the names of the znode's children.
        """
        return self._request(f"get_children {path}", lambda k: k.get_children_async(
            path, watch=self._watch(watch)))

    def exists(self, path, watch=None):
        """
        Fires with whether the znode exists.
        """
        d = self._request(f"exists {path}", lambda k: k.exists_async(
            path, watch=self._watch(watch)))
        return d.addCallback(lambda stat: stat is not None)

    def delete(self, path):
        """
        Delete a znode.
        """
        d = self._request(f"delete {path}", lambda k: k.delete_async(path))
        return d.addCallback(lambda _: None)


def _in_thread(reactor, function):
    """
    Run a blocking C{function} on the reactor's thread pool.
    """
    return deferToThreadPool(reactor, reactor.getThreadPool(), function)
