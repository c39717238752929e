"""
The master's HTTP endpoints, served on its message port: C{/health} and the
cluster state as JSON (C{/master/state}, with Mesos's older C{.json} name and
the modern C{/state}).
"""

from klein import Klein

from mesos_tw.web.json import json_response

__all__ = ["MasterHTTP"]


class MasterHTTP:
    """
    The master's Klein app.
    """

    app = Klein()

    def __init__(self, master):
        self.master = master

    @app.route("/health", methods=["GET", "HEAD"])
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

    def resource(self):
        """
        The app as a Twisted web resource.
        """
        return self.app.resource()
