"""
The master's HTTP endpoints, served on its message port, with Mesos's paths
and field names: health, the full state (C{/master/state}, also
C{/master/state.json} and C{/state}), the summary, frameworks, slaves,
tasks, flags, the redirect to the leader, and the metrics snapshot.

Only the leading master serves the cluster's state.  A standby answers
those paths with a 307 to the same path on the leader, or a 503 while no
leader is known; it serves its own health, flags and metrics itself.
"""

from functools import wraps

from klein import Klein
from twisted.web.static import File

from mesos_tw.web.dashboard import STATIC, DashboardElement, FrameworkElement

from mesos_tw.master.views import metrics_snapshot, state_summary, task_list
from mesos_tw.web.json import BadRequest, int_argument, json_response, text_error

__all__ = ["MasterHTTP"]


def _leader_only(route):
    """
    Serve C{route}, given the leading L{Master} after the request, when we
    lead; elsewhere redirect to the leader.
    """

    @wraps(route)
    def serve(self, request, *args, **kwargs):
        leadership = self.leadership
        if leadership.elected and leadership.master is not None:
            return route(self, request, leadership.master, *args, **kwargs)
        leader = leadership.leader
        if leader is None or leader == leadership.pid:
            request.setHeader(b"Retry-After", b"1")
            return text_error(request, 503, "no leading master is elected; try again shortly")
        request.setResponseCode(307)
        request.setHeader(b"Location", b"http://%s:%d%s" % (
            leader.host.encode("ascii"), leader.port, request.uri))
        return b""

    return serve


class MasterHTTP:
    """
    The master's Klein app.

    @param leadership: an L{ILeadership}: who leads, and our L{Master}
        while we do (L{mesos_tw.master.election.SoleMaster} wraps a lone
        master).
    @param flags: C{{"flags": {...}}} for C{/master/flags}.
    """

    app = Klein()

    def __init__(self, leadership, flags=None):
        self.leadership = leadership
        self.flags = flags or {"flags": {}}

    @app.route("/", methods=["GET"])
    @_leader_only
    def dashboard(self, request, master):
        """
        The web UI's dashboard.
        """
        return DashboardElement(master)

    @app.route("/frameworks/<framework_id>", methods=["GET"])
    @_leader_only
    def framework_page(self, request, master, framework_id):
        """
        One framework's page (active or completed); 404 for an unknown id.
        """
        state = master.state()
        for framework in state["frameworks"] + state["completed_frameworks"]:
            if framework["id"] == framework_id:
                return FrameworkElement(framework)
        return text_error(request, 404, f"no framework {framework_id}")

    @app.route("/static/", branch=True)
    def static(self, request):
        """
        The UI's styles and scripts, served locally.
        """
        return File(STATIC.path)

    @app.route("/health", methods=["GET", "HEAD"])
    @app.route("/master/health", methods=["GET", "HEAD"])
    def health(self, request):
        """
        200 while the master runs.
        """
        return b""

    @app.route("/master/state", methods=["GET"])
    @app.route("/master/state.json", methods=["GET"])
    @app.route("/state", methods=["GET"])
    @_leader_only
    def state(self, request, master):
        """
        The cluster state (frameworks, slaves, tasks, offers) as JSON.
        """
        return json_response(request, master.state())

    @app.route("/master/state-summary", methods=["GET"])
    @_leader_only
    def summary(self, request, master):
        """
        Slaves and frameworks with task counts, without task lists.
        """
        return json_response(request, state_summary(master))

    @app.route("/master/frameworks", methods=["GET"])
    @_leader_only
    def frameworks(self, request, master):
        """
        Frameworks, active and completed.
        """
        state = master.state()
        return json_response(request, {
            "frameworks": state["frameworks"],
            "completed_frameworks": state["completed_frameworks"],
            "unregistered_frameworks": [],
        })

    @app.route("/master/slaves", methods=["GET"])
    @_leader_only
    def slaves(self, request, master):
        """
        Registered slaves.
        """
        return json_response(request, {
            "slaves": [slave.to_json() for slave in master.slaves.values()],
            "recovered_slaves": [],
        })

    @app.route("/master/tasks", methods=["GET"])
    @app.route("/master/tasks.json", methods=["GET"])
    @_leader_only
    def tasks(self, request, master):
        """
        Tasks, newest first; C{limit} (100), C{offset} (0), C{order}
        (C{des} or C{asc}).
        """
        try:
            limit = int_argument(request, "limit", 100, minimum=1)
            offset = int_argument(request, "offset", 0)
        except BadRequest as error:
            return text_error(request, 400, str(error))
        order = request.args.get(b"order", [b"des"])[0].decode("utf-8", "replace")
        if order not in ("asc", "des"):
            return text_error(request, 400, "order must be asc or des")
        return json_response(request, task_list(master, limit, offset, order))

    @app.route("/master/flags", methods=["GET"])
    def flags_endpoint(self, request):
        """
        The flags the master runs with.
        """
        return json_response(request, self.flags)

    @app.route("/master/redirect", methods=["GET"])
    @app.route("/redirect", methods=["GET"])
    def redirect(self, request):
        """
        307 to the leading master's state; 503 while none is known.
        """
        pid = self.leadership.leader
        if pid is None:
            return text_error(request, 503, "no leading master is elected")
        request.setResponseCode(307)
        request.setHeader(b"Location", f"http://{pid.host}:{pid.port}/master/state".encode())
        return b""

    @app.route("/metrics/snapshot", methods=["GET"])
    def metrics(self, request):
        """
        Mesos's master metrics, flat; a standby reports C{master/elected}
        0 and nothing of the cluster.
        """
        leadership = self.leadership
        if not leadership.elected or leadership.master is None:
            return json_response(request, {"master/elected": 0})
        return json_response(request, metrics_snapshot(leadership.master))

    def resource(self):
        """
        The app as a Twisted web resource.
        """
        return self.app.resource()
