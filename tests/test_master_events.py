"""
Tests for L{mesos_tw.master.events}: who hears what the master reports.
"""

from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.master.events import MasterEvents


class Listener:
    """
    Hears agents added and removed (no other kind), into C{heard}.
    """

    def __init__(self, name, heard):
        self.name = name
        self.heard = heard

    def agent_added(self, slave):
        self.heard.append((self.name, "agent_added", slave))

    def agent_removed(self, slave_id):
        self.heard.append((self.name, "agent_removed", slave_id))


class MasterEventsTests(SynchronousTestCase):
    """
    L{MasterEvents} calls each subscribed listener's method of an event's
    kind, in the order they subscribed.
    """

    def setUp(self):
        self.events = MasterEvents()
        self.heard = []

    def test_listeners_hear_kinds_they_have(self):
        """
        A listener hears the kinds it has a method for; a kind it lacks is
        no error.
        """
        first, second = Listener("first", self.heard), Listener("second", self.heard)
        self.events.subscribe(first)
        self.events.subscribe(second)
        self.events.agent_added("S1")
        self.events.task_added("a task")
        self.events.agent_removed("S1")
        self.assertEqual(self.heard, [("first", "agent_added", "S1"),
                                      ("second", "agent_added", "S1"),
                                      ("first", "agent_removed", "S1"),
                                      ("second", "agent_removed", "S1")])

    def test_failure_is_the_listeners_own(self):
        """
        A listener that raises is logged; the next one still hears the event.
        """
        failing = Listener("failing", self.heard)
        failing.agent_added = lambda slave: 1 / 0
        self.events.subscribe(failing)
        self.events.subscribe(Listener("next", self.heard))
        self.events.agent_added("S1")
        self.assertEqual(self.heard, [("next", "agent_added", "S1")])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_unsubscribed_during_a_report(self):
        """
        A listener unsubscribed while an event is reported still hears that
        event (the listeners are those when it was reported), and no later
        one; one subscribed meanwhile hears the later ones only.
        """
        later = Listener("later", self.heard)
        second = Listener("second", self.heard)
        first = Listener("first", self.heard)

        def added(slave):
            self.heard.append(("first", "agent_added", slave))
            self.events.unsubscribe(second)
            self.events.subscribe(later)
        first.agent_added = added
        self.events.subscribe(first)
        self.events.subscribe(second)
        self.events.agent_added("S1")
        self.events.agent_removed("S1")
        self.assertEqual(self.heard, [("first", "agent_added", "S1"),
                                      ("second", "agent_added", "S1"),
                                      ("first", "agent_removed", "S1"),
                                      ("later", "agent_removed", "S1")])

    def test_term_ended_leaves_none(self):
        """
        Every listener hears that the term ended, then none hears anything.
        """
        listener = Listener("listener", self.heard)
        listener.term_ended = lambda why: self.heard.append(("listener", "term_ended", why))
        self.events.subscribe(listener)
        self.events.term_ended("stopped")
        self.events.agent_added("S1")
        self.assertEqual(self.heard, [("listener", "term_ended", "stopped")])
        self.assertEqual(self.events.listeners, [])
