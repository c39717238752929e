"""
The web UI's pages other than the dashboard, served under C{/ui/} (so that
Mesos's JSON endpoints keep their root paths): frameworks, one framework,
slaves, one slave, one executor, outstanding offers, and the sandbox
browser and log tail through the slaves' files API (C{docs/web-ui.md}).
Only the leading master serves them; a standby redirects to the leader.
"""

from klein import Klein

from mesos_tw.authorization.checks import read_view, sandbox_access
from mesos_tw.master._leading import leader_only
from mesos_tw.master.views import held_by_framework, metrics_snapshot
from mesos_tw.web.agents import SlaveClient, SlaveUnavailable
from mesos_tw.web.authentication import principal_of
from mesos_tw.web.dashboard import FrameworkElement
from mesos_tw.web.json import BadRequest, int_argument, json_response, text_error
from mesos_tw.web.layout import Page, Pager
from mesos_tw.web.pages import FrameworksElement, OffersElement, SlavesElement
from mesos_tw.web.slave_pages import (
    BrowseElement, ExecutorElement, SlaveElement, TailElement, find_executor)

__all__ = ["MasterUI"]


class MasterUI:
    """
    The UI pages' Klein app, mounted at C{/ui/} by
    L{mesos_tw.master.http.MasterHTTP}.

    @param leadership: an L{ILeadership <mesos_tw.master.election.ILeadership>}.
    @param slave_http: the treq-like client the pages read slaves' own
        endpoints with; by default one on the leading master's reactor.
    @param authorizer: the L{IAuthorizer} deciding what the user sees
        (C{view_frameworks}, C{view_tasks}, C{view_executors}) and reads
        (C{access_sandboxes}), or L{None} for everything.
    @param tls: the master's L{mesos_tw.protocols.tls.TLSConfig}: slaves
        are read over HTTPS when it is enabled.
    """

    app = Klein()
    app.url_map.strict_slashes = False

    def __init__(self, leadership, slave_http=None, authorizer=None, tls=None):
        self.leadership = leadership
        self.slave_http = slave_http
        self.authorizer = authorizer
        self.tls = tls

    def _slaves(self, master, request):
        """
        A client of the slaves' endpoints for C{request}: the browser's
        credentials are passed on, so that a slave asking for them
        (C{--authenticate_http_readonly}) checks the user's own.
        """
        return SlaveClient(master.reactor, self.slave_http,
                           authorization=request.getHeader(b"authorization"), tls=self.tls)

    def _viewed(self, request, render):
        """
        C{render(view)} with the L{ReadView} of C{request}'s principal; a
        L{BadRequest} it raises is a 400.
        """
        def rendered(view):
            try:
                return render(view)
            except BadRequest as error:
                return text_error(request, 400, str(error))
        return read_view(self.authorizer, principal_of(request)).addCallback(rendered)

    @app.route("/frameworks", methods=["GET"])
    @leader_only
    def frameworks_page(self, request, master):
        """
        The frameworks, active and completed.
        """
        held = held_by_framework(master.slaves.values())
        return self._viewed(request, lambda view: Page(master, "Frameworks", FrameworksElement(
            master, metrics_snapshot(master, held), held, view)))

    @app.route("/frameworks/<framework_id>", methods=["GET"])
    @leader_only
    def framework_page(self, request, master, framework_id):
        """
        One framework's page (active or completed), its unfinished tasks a
        page at a time (C{?offset=&limit=}, 100 by default); 404 for an
        unknown id.
        """
        record = master.frameworks.get(framework_id) or next(
            (f for f in master.completed_frameworks if f.id == framework_id), None)
        if record is None:
            return text_error(request, 404, f"no framework {framework_id}")

        def page(view):
            if not view.framework(record):
                return text_error(request, 403, "Not authorized to view frameworks of "
                                  f"'{record.info.user}'")
            unfinished = view.tasks(list(record.tasks.values())
                                    + list(record.unreachable_tasks.values()), record)
            pager = Pager(request, len(unfinished))
            tasks = [task.to_json() for task in pager.slice(unfinished)]
            completed = [task.to_json() for task in view.tasks(record.completed_tasks, record)]
            return Page(master, f"Framework {record.info.name}",
                        FrameworkElement(record.summary_json(), tasks, completed, pager))

        return self._viewed(request, page)

    @app.route("/slaves", methods=["GET"])
    @leader_only
    def slaves_page(self, request, master):
        """
        The registered slaves, a page at a time (C{?offset=&limit=}, 100
        by default).
        """
        pager = Pager(request, len(master.slaves))
        return Page(master, "Slaves", SlavesElement(pager.slice(master.slaves.values()), pager,
                                                    master.maintenance.mode_of))

    @app.route("/offers", methods=["GET"])
    @leader_only
    def offers_page(self, request, master):
        """
        The outstanding offers, a page at a time (C{?offset=&limit=}).
        """
        def page(view):
            offers = [offer for offer in master.offers.values()
                      if view.shows("view_frameworks", _user(master, offer.framework_id))]
            pager = Pager(request, len(offers))
            return Page(master, "Offers", OffersElement(master, pager.slice(offers), pager))

        return self._viewed(request, page)

    @app.route("/slaves/<slave_id>", methods=["GET"])
    @leader_only
    def slave_page(self, request, master, slave_id):
        """
        One slave: its resources, the executors it reports and the tasks
        the master knows on it; 404 for an unknown slave.  A slave that
        does not answer still gets its page, saying so.
        """
        slave = master.slaves.get(slave_id)
        if slave is None:
            return text_error(request, 404, f"no slave {slave_id}")

        def page(view, slave_state, problem=None):
            tasks = [record.to_json() for record in slave.tasks.values()
                     if _task_shown(master, view, record)]
            if slave_state is not None:
                slave_state = visible_slave_state(slave_state, view)
            return Page(master, f"Slave {slave.info.hostname}",
                        SlaveElement(slave.to_json(), tasks, slave_state, problem))

        def unavailable(failure, view):
            failure.trap(SlaveUnavailable)
            return page(view, None, f"{failure.value}; its executors are not shown.")

        def read(view):
            d = self._slaves(master, request).get_json(str(slave.pid), "/slave(1)/state")
            d.addCallbacks(lambda state: page(view, state), unavailable, errbackArgs=(view,))
            return d

        return read_view(self.authorizer, principal_of(request)).addCallback(read)

    @app.route("/slaves/<slave_id>/frameworks/<framework_id>/executors/<executor_id>",
               methods=["GET"])
    @leader_only
    def executor_page(self, request, master, slave_id, framework_id, executor_id):
        """
        One executor on a slave, with its tasks, sandbox and resource usage
        (from the slave's C{/monitor/statistics}, when it reports any); 404
        when the slave or the executor is unknown, 502 when the slave did
        not answer, 403 when the user may not view its framework or its
        executors (its tasks are left out when the user may not view them).
        """
        slave = master.slaves.get(slave_id)
        if slave is None:
            return text_error(request, 404, f"no slave {slave_id}")
        slaves, pid = self._slaves(master, request), str(slave.pid)
        user = _user(master, framework_id)

        def page(statistics, slave_state, view):
            executor, running = find_executor(slave_state, framework_id, executor_id)
            if executor is None:
                return text_error(request, 404, f"no executor {executor_id} of framework "
                                  f"{framework_id} on slave {slave_id}")
            if not view.shows("view_tasks", user):
                executor = dict(executor, queued_tasks=[], tasks=[], completed_tasks=[])
            usage = next((entry["statistics"] for entry in statistics or ()
                          if (entry["framework_id"], entry["executor_id"])
                          == (framework_id, executor_id)), None)
            return Page(master, f"Executor {executor_id}",
                        ExecutorElement(slave_id, framework_id, executor, running, usage))

        def without_statistics(failure):
            failure.trap(SlaveUnavailable)
            return None

        def with_statistics(slave_state, view):
            d = slaves.get_json(pid, "/monitor/statistics")
            d.addErrback(without_statistics)
            d.addCallback(page, slave_state, view)
            return d

        def read(view):
            for action in ("view_frameworks", "view_executors"):
                if not view.shows(action, user):
                    what = action.replace("_", " ")
                    return text_error(request, 403, f"Not authorized to {what} of '{user}'")
            d = slaves.get_json(pid, "/slave(1)/state")
            d.addCallbacks(with_statistics, self._slave_failed, callbackArgs=(view,),
                           errbackArgs=(request,))
            return d

        return read_view(self.authorizer, principal_of(request)).addCallback(read)

    def _slave_failed(self, failure, request):
        failure.trap(SlaveUnavailable)
        return text_error(request, failure.value.code, str(failure.value))

    def _path(self, request):
        """
        The C{path} query argument, which the sandbox pages need.

        @raise BadRequest: when it is missing.
        """
        path = request.args.get(b"path", [b""])[0].decode("utf-8", "replace")
        if not path:
            raise BadRequest("path is required (a sandbox directory or file)")
        return path

    @app.route("/slaves/<slave_id>/browse", methods=["GET"])
    @leader_only
    def browse_page(self, request, master, slave_id):
        """
        The sandbox browser: a directory on a slave (C{?path=}), as the
        slave lists it; its 4xx (outside the sandboxes, no such directory)
        are passed on with their message.
        """
        slave = master.slaves.get(slave_id)
        if slave is None:
            return text_error(request, 404, f"no slave {slave_id}")

        def browse():
            path = self._path(request)
            d = self._slaves(master, request).get_json(str(slave.pid), "/files/browse",
                                                       path=path)
            d.addCallbacks(lambda entries: Page(master, "Sandbox", BrowseElement(
                slave_id, path, entries)), self._slave_failed,
                errbackArgs=(request,))
            return d

        return sandbox_access(self.authorizer, request, master, browse)

    @app.route("/slaves/<slave_id>/tail", methods=["GET"])
    @leader_only
    def tail_page(self, request, master, slave_id):
        """
        A sandbox file (C{?path=}) that follows as it grows, with a
        download link; the file is checked with the slave first.
        """
        slave = master.slaves.get(slave_id)
        if slave is None:
            return text_error(request, 404, f"no slave {slave_id}")

        def tail():
            path = self._path(request)
            d = self._slaves(master, request).get_json(str(slave.pid), "/files/read",
                                                       path=path, offset=-1)
            d.addCallbacks(lambda _: Page(
                master, path.rsplit("/", 1)[-1],
                TailElement(slave_id, path),
                scripts=["/static/pailer.js"]), self._slave_failed, errbackArgs=(request,))
            return d

        return sandbox_access(self.authorizer, request, master, tail)

    @app.route("/slaves/<slave_id>/files/read", methods=["GET"])
    @leader_only
    def read_file(self, request, master, slave_id):
        """
        The slave's C{/files/read} (C{path}, C{offset}, C{length}) through
        the master, for the log tail: Mesos's C{{data, offset}}.
        """
        slave = master.slaves.get(slave_id)
        if slave is None:
            return text_error(request, 404, f"no slave {slave_id}")

        def read():
            params = {"path": self._path(request),
                      "offset": int_argument(request, "offset", 0, minimum=-1)}
            length = int_argument(request, "length", None)
            if length is not None:
                params["length"] = length
            d = self._slaves(master, request).get_json(str(slave.pid), "/files/read", **params)
            d.addCallbacks(lambda answer: json_response(request, answer), self._slave_failed,
                           errbackArgs=(request,))
            return d

        return sandbox_access(self.authorizer, request, master, read)

    @app.route("/slaves/<slave_id>/files/download", methods=["GET"])
    @leader_only
    def download(self, request, master, slave_id):
        """
        The slave's C{/files/download} of C{path} relayed to the browser,
        at the pace the browser reads (so the browser needs no way to the
        slave, its certificate or its credentials of its own).
        """
        slave = master.slaves.get(slave_id)
        if slave is None:
            return text_error(request, 404, f"no slave {slave_id}")

        def relay():
            d = self._slaves(master, request).relay(
                str(slave.pid), "/files/download", request, path=self._path(request))
            d.addErrback(self._slave_failed, request)
            return d

        return sandbox_access(self.authorizer, request, master, relay)

    def resource(self):
        """
        The app as a Twisted web resource.
        """
        return self.app.resource()


def _user(master, framework_id):
    """
    The user of the framework C{framework_id} (active or completed), or
    L{None} when the master does not know it.
    """
    record = master.frameworks.get(framework_id) or next(
        (f for f in master.completed_frameworks if f.id == framework_id), None)
    return record.info.user if record is not None else None


def _task_shown(master, view, record):
    """
    Whether the task C{record} is shown: its framework's, and its tasks,
    may be viewed.
    """
    user = _user(master, record.task.framework_id.value)
    return view.shows("view_frameworks", user) and view.shows("view_tasks", user)


def visible_slave_state(slave_state, view):
    """
    A slave's own state as C{view} may see it: frameworks it may not view
    left out, and the executors of those whose executors it may not view.
    """
    shown = dict(slave_state)
    for key in ("frameworks", "completed_frameworks"):
        kept = []
        for framework in slave_state.get(key, ()):
            user = framework.get("user")
            if not view.shows("view_frameworks", user):
                continue
            if not view.shows("view_executors", user):
                framework = dict(framework, executors=[], completed_executors=[])
            kept.append(framework)
        shown[key] = kept
    return shown
