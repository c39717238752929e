"""
The two halves of leader election: a contender stands for election as the
leading master; a detector tells slaves, schedulers and masters who leads.
"""

from zope.interface import Interface

__all__ = ["IMasterContender", "IMasterDetector", "LEADING", "NOT_LEADING", "UNCONFIRMED"]

#: A contender's leadership, as reported to its listener.
#: C{LEADING}: we lead, confirmed.  C{UNCONFIRMED}: we led, but cannot
#: confirm it now (ZooKeeper unreachable): act as leader no more until it
#: is confirmed again or lost.  C{NOT_LEADING}: we do not lead (and any
#: term we had is over).
LEADING, UNCONFIRMED, NOT_LEADING = "leading", "unconfirmed", "not leading"


class IMasterDetector(Interface):
    """
    Reports the leading master.
    """

    def start(listener):
        """
        Begin detecting; call C{listener(upid)} with the leader's L{UPID}
        as soon as it is known and whenever it changes, or
        C{listener(None)} when there is none.
        """

    def stop():
        """
        Stop detecting; the listener is not called again.  May return a
        Deferred that fires when everything is closed.
        """


class IMasterContender(Interface):
    """
    Stands for election as the leading master.
    """

    def contend(info, listener):
        """
        Stand as the master described by C{info} (a C{MasterInfo}); call
        C{listener(leadership)} with L{LEADING}, L{UNCONFIRMED} or
        L{NOT_LEADING} whenever our leadership changes.  A contender whose
        candidacy ends (a lost ZooKeeper session) stands again by itself.
        """

    def withdraw():
        """
        Leave the election for good; the listener is not called again.
        May return a Deferred that fires when the candidacy is gone.
        """
