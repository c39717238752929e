"""
The frame every UI page shares: head (local styles and scripts only),
navigation, the cluster's name and leading master, and the page's content.
"""

import os
import sys
from datetime import datetime, timezone
from itertools import islice
from urllib.parse import quote, urlencode

from twisted.python.filepath import FilePath
from twisted.web.template import Element, XMLFile, flattenString, renderer, tags

from mesos_tw.web.json import int_argument

__all__ = ["Page", "PagedElement", "Pager", "TEMPLATES", "amount", "attributes_text",
           "browse_link", "download_link", "tail_link", "used_of_total", "when"]

TEMPLATES = FilePath(os.path.dirname(os.path.abspath(__file__))).child("templates")


def amount(value):
    """
    A resource amount as people read it: C{1.5}, C{512}.
    """
    return f"{value:g}"


def used_of_total(used, total, name):
    """
    C{"used / total"} of resource C{name}, from resources JSON objects.
    """
    return f"{amount(used.get(name, 0))} / {amount(total.get(name, 0))}"


def attributes_text(attributes):
    """
    A slave's attributes (a JSON object) as C{name=value, ...}, by name.
    """
    return ", ".join(f"{name}={value}" for name, value in sorted(attributes.items()))


def when(timestamp):
    """
    A UTC time of day for a Unix C{timestamp}, or an empty string for none.
    """
    if not timestamp:
        return ""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def browse_link(slave_id, path):
    """
    The sandbox browser's URL for directory C{path} on slave C{slave_id}.
    """
    return f"/ui/slaves/{quote(slave_id)}/browse?" + urlencode({"path": path})


def download_link(slave_id, path):
    """
    The URL, on the master, of a download of file C{path} on slave
    C{slave_id} (the master relays it, so the browser needs no way to the
    slave of its own).
    """
    return f"/ui/slaves/{quote(slave_id)}/files/download?" + urlencode({"path": path})


def tail_link(slave_id, path):
    """
    The log tail's URL for file C{path} on slave C{slave_id}.
    """
    return f"/ui/slaves/{quote(slave_id)}/tail?" + urlencode({"path": path})


class Pager:
    """
    One page of a long table: C{?offset=&limit=} from the request (a bad
    value is L{mesos_tw.web.json.BadRequest}), and the line that says
    which rows are shown with links to the previous and next pages.
    """

    def __init__(self, request, total, default_limit=100):
        self.path = request.path.decode("utf-8", "replace")
        self.offset = int_argument(request, "offset", 0)
        self.limit = int_argument(request, "limit", default_limit, minimum=1)
        self.total = total

    def slice(self, rows):
        """
        This page's part of C{rows} (any iterable, in table order).
        """
        # islice takes nothing past sys.maxsize; no table is that long.
        start = min(self.offset, sys.maxsize)
        return list(islice(rows, start, min(start + self.limit, sys.maxsize)))

    def _link(self, offset, text):
        return tags.a(href=f"{self.path}?" + urlencode({"offset": offset, "limit": self.limit}))(
            text)

    def line(self):
        """
        "Showing 1-100 of 10000", with previous and next links; nothing
        when everything fits on one page.
        """
        if self.offset == 0 and self.total <= self.limit:
            return ""
        last = min(self.offset + self.limit, self.total)
        if self.offset >= self.total:
            parts = [f"Nothing from {self.offset + 1}: there are {self.total}"]
        else:
            parts = [f"Showing {self.offset + 1}\u2013{last} of {self.total}"]
        if self.offset > 0:
            parts += [" \u00b7 ", self._link(max(self.offset - self.limit, 0), "\u2039 previous")]
        if last < self.total:
            parts += [" \u00b7 ", self._link(last, "next \u203a")]
        return tags.p(class_="pager")(*parts)


class PagedElement(Element):
    """
    A page of records, with the L{Pager}'s line (the C{pager} renderer)
    linking to the other pages.

    @param records: the records of this page.
    @param pager: the L{Pager} saying which page.
    """

    def __init__(self, records, pager):
        super().__init__()
        self.records = records
        self.pager_line = pager.line()

    @renderer
    def pager(self, request, tag):
        """
        Which records are shown, with links to the others.
        """
        return self.pager_line


def render_page(request, page):
    """
    C{page} as HTML bytes with its doctype, for Klein to write.

    Handed an element, Klein renders it with twisted.web's C{renderElement},
    which finishes the request even when the client has gone meanwhile (an
    error, logged); as bytes, Klein writes the page only to a client that
    is still there.

    @return: a Deferred firing with the bytes.
    """
    request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
    return flattenString(request, page).addCallback(lambda html: b"<!DOCTYPE html>\n" + html)


class Page(Element):
    """
    A whole HTML page: the shared frame around C{content} (an L{Element}).

    @param master: the leading L{Master} (its cluster name and pid are
        shown on every page).
    @param scripts: extra local script URLs the page needs.
    """

    loader = XMLFile(TEMPLATES.child("layout.xml"))

    def __init__(self, master, title, content, scripts=()):
        super().__init__()
        self.master = master
        self.title = title
        self.content_element = content
        self.script_urls = scripts

    @renderer
    def layout(self, request, tag):
        """
        The title, the cluster's name and the leading master.
        """
        return tag.fillSlots(title=self.title, cluster=self.master.cluster or "(unnamed)",
                             leader=str(self.master.pid))

    @renderer
    def scripts(self, request, tag):
        """
        The page's own scripts.
        """
        return [tags.script(src=url, defer="defer") for url in self.script_urls]

    @renderer
    def content(self, request, tag):
        """
        The page's content.
        """
        return tag(self.content_element)
