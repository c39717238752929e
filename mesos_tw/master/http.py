"""
The master's HTTP endpoints, served on its message port, with Mesos's paths
and field names: health, the full state (C{/master/state}, also
C{/master/state.json} and C{/state}), the summary, frameworks, slaves,
tasks, flags, the redirect to the leader, and the metrics snapshot.
"""

from klein import Klein
from twisted.web.static import File

from mesos_tw.web.dashboard import STATIC, DashboardElement, FrameworkElement

from mesos_tw.master.views import metrics_snapshot, state_summary, task_list
from mesos_tw.web.json import BadRequest, int_argument, json_response, text_error

__all__ = ["MasterHTTP"]


class MasterHTTP:
    """
    The master's Klein app.

    @param flags: C{{"flags": {...}}} for C{/master/flags}.
    """

    app = Klein()

    def __init__(self, master, flags=None):
        self.master = master
        self.flags = flags or {"flags": {}}

    @app.route("/", methods=["GET"])
    def dashboard(self, request):
        """
        The web UI's dashboard.
        """
        return DashboardElement(self.master)

    @app.route("/frameworks/<framework_id>", methods=["GET"])
    def framework_page(self, request, framework_id):
        """
        One framework's page (active or completed); 404 for an unknown id.
        """
        state = self.master.state()
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
    def state(self, request):
        """
        The cluster state (frameworks, slaves, tasks, offers) as JSON.
        """
        return json_response(request, self.master.state())

    @app.route("/master/state-summary", methods=["GET"])
    def summary(self, request):
        """
        Slaves and frameworks with task counts, without task lists.
        """
        return json_response(request, state_summary(self.master))

    @app.route("/master/frameworks", methods=["GET"])
    def frameworks(self, request):
        """
        Frameworks, active and completed.
        """
        state = self.master.state()
        return json_response(request, {
            "frameworks": state["frameworks"],
            "completed_frameworks": state["completed_frameworks"],
            "unregistered_frameworks": [],
        })

    @app.route("/master/slaves", methods=["GET"])
    def slaves(self, request):
        """
        Registered slaves.
        """
        return json_response(request, {
            "slaves": [slave.to_json() for slave in self.master.slaves.values()],
            "recovered_slaves": [],
        })

    @app.route("/master/tasks", methods=["GET"])
    @app.route("/master/tasks.json", methods=["GET"])
    def tasks(self, request):
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
        return json_response(request, task_list(self.master, limit, offset, order))

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
        307 to the leading master (this one: there is no election yet).
        """
        pid = self.master.pid
        request.setResponseCode(307)
        request.setHeader(b"Location", f"http://{pid.host}:{pid.port}/master/state".encode())
        return b""

    @app.route("/metrics/snapshot", methods=["GET"])
    def metrics(self, request):
        """
        Mesos's master metrics, flat.
        """
        return json_response(request, metrics_snapshot(self.master))

    def resource(self):
        """
        The app as a Twisted web resource.
        """
        return self.app.resource()
