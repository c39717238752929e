"""
Tests for the master's C{--whitelist} file (L{mesos_tw.master.whitelist}).
"""

import os

from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.master.whitelist import Whitelist, parse_whitelist


class ParseTests(SynchronousTestCase):
    """
    The file's format.
    """

    def test_hostnames_comments_blank_lines(self):
        """
        One hostname per line; comments and blank lines are ignored.
        """
        self.assertEqual(parse_whitelist("a\n\n# b\nc  # the rack c\n"), {"a", "c"})

    def test_star_allows_all(self):
        """
        A file holding only C{*} allows every slave (L{None}); an empty
        one allows none.
        """
        self.assertIsNone(parse_whitelist("*\n"))
        self.assertEqual(parse_whitelist(""), set())


class WhitelistTests(SynchronousTestCase):
    """
    Reading the file again and again.
    """

    def setUp(self):
        self.path = self.mktemp()
        self.applied = []
        self.whitelist = Whitelist(self.path, self.applied.append)

    def write(self, text):
        """
        Replace the file's contents.
        """
        with open(self.path, "w", encoding="utf-8") as out:
            out.write(text)

    def test_applied_when_changed(self):
        """
        The first read and every change are applied; an unchanged file is
        not applied again.
        """
        self.write("a\n")
        self.whitelist.read()
        self.whitelist.read()
        self.write("a\nb\n")
        self.whitelist.read()
        self.assertEqual(self.applied, [{"a"}, {"a", "b"}])

    def test_unreadable_keeps_last(self):
        """
        A file that disappears leaves the last list in force.
        """
        self.write("a\n")
        self.whitelist.read()
        os.remove(self.path)
        self.whitelist.read()
        self.assertEqual((self.applied, self.whitelist.hostnames), ([{"a"}], {"a"}))
