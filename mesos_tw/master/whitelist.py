"""
The master's C{--whitelist}: a file naming the hostnames whose slaves may
be offered, one per line, re-read periodically so an operator can drain a
machine by editing it (Mesos's behaviour).
"""

from twisted.logger import Logger

__all__ = ["Whitelist", "parse_whitelist"]


def parse_whitelist(text):
    """
    The hostnames in a whitelist file's C{text}: one per line; blank lines
    and C{#} comments are ignored.  A file holding only C{*} allows every
    slave (L{None}).
    """
    names = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line)
    return None if names == {"*"} else names


class Whitelist:
    """
    Reads the file at C{path} and tells C{apply} the hostnames (or L{None}
    for all) whenever they change.  A file that cannot be read leaves the
    last good list in force, with the reason logged.
    """

    log = Logger()

    def __init__(self, path, apply):
        self.path = path
        self.apply = apply
        self.hostnames = None
        self._read_once = False

    def read(self):
        """
        Read the file now; apply it if it changed.
        """
        try:
            with open(self.path, encoding="utf-8") as source:
                hostnames = parse_whitelist(source.read())
        except (OSError, UnicodeDecodeError) as error:
            self.log.warn("Cannot read the whitelist {path}: {error}; keeping the last one",
                          path=self.path, error=str(error))
            return
        if self._read_once and hostnames == self.hostnames:
            return
        self._read_once = True
        self.hostnames = hostnames
        self.log.info("Whitelist {path}: {hosts}", path=self.path,
                      hosts="every slave" if hostnames is None else ", ".join(sorted(hostnames)))
        self.apply(hostnames)
