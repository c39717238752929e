"""
The dashboard's utilization chart: a short history of how much of the
cluster's CPU, memory and disk is in use, drawn as an inline SVG.

Samples are taken when the master's metrics are computed for a request
(the dashboard polls C{/metrics/snapshot} every two seconds, and so do
monitoring tools), at most one per C{spacing} seconds, so the history costs
nothing while nobody looks and needs no timer of its own.
"""

from collections import deque

from twisted.web.template import Tag, tags

__all__ = ["UtilizationHistory", "utilization_chart"]

#: The resources charted, with their line colours.
CHARTED = (("cpus", "#1f77b4"), ("mem", "#ff7f0e"), ("disk", "#2ca02c"))

_WIDTH, _HEIGHT = 600, 150


class UtilizationHistory:
    """
    The used fraction of each charted resource over the last C{span}
    seconds, one sample per C{spacing} seconds at most.

    @ivar samples: C{(time, {resource: fraction})}, oldest first.
    """

    def __init__(self, span=600.0, spacing=5.0):
        self.span = span
        self.spacing = spacing
        self.samples = deque()

    def record(self, now, metrics):
        """
        Add a sample from a master metrics snapshot taken at C{now}, unless
        the last one is more recent than C{spacing}; forget samples older
        than C{span}.
        """
        if self.samples and now - self.samples[-1][0] < self.spacing:
            return
        self.samples.append((now, {
            name: metrics.get(f"master/{name}_percent", 0.0) for name, _ in CHARTED}))
        while self.samples and self.samples[0][0] < now - self.span:
            self.samples.popleft()


def _points(samples, name, now, span):
    points = []
    for when, fractions in samples:
        x = _WIDTH * (1 - (now - when) / span)
        y = _HEIGHT * (1 - min(max(fractions[name], 0.0), 1.0))
        points.append(f"{x:.1f},{y:.1f}")
    return " ".join(points)


def utilization_chart(history, now):
    """
    An SVG line chart of C{history} up to C{now}: one line per resource,
    0% at the bottom, 100% at the top, the last C{span} seconds across.
    """
    lines = [Tag("polyline", attributes={
        "points": _points(history.samples, name, now, history.span), "fill": "none",
        "stroke": colour, "stroke-width": "2", "vector-effect": "non-scaling-stroke",
        "data-resource": name})
        for name, colour in CHARTED]
    grid = [Tag("line", attributes={
        "x1": "0", "x2": str(_WIDTH), "y1": str(y), "y2": str(y), "stroke": "#ddd",
        "vector-effect": "non-scaling-stroke"})
        for y in (0, _HEIGHT // 2, _HEIGHT)]
    svg = Tag("svg", attributes={
        "viewBox": f"0 0 {_WIDTH} {_HEIGHT}", "preserveAspectRatio": "none",
        "class": "chart", "role": "img",
        "aria-label": f"Utilization over the last {history.span / 60:g} minutes"})(*grid, *lines)
    legend = tags.p(class_="legend")(*[
        tags.span(style=f"color: {colour}")(f"\u25a0 {name}  ") for name, colour in CHARTED],
        f"(used, last {history.span / 60:g} min; 0\u2013100%)")
    return [svg, legend]
