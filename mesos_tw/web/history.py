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

#: Room inside the frame, so that the latest sample's dot is not cut off.
_MARGIN = 4


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


def _point(when, fraction, now, span):
    x = _MARGIN + (_WIDTH - 2 * _MARGIN) * (1 - (now - when) / span)
    y = _MARGIN + (_HEIGHT - 2 * _MARGIN) * (1 - min(max(fraction, 0.0), 1.0))
    return x, y


def utilization_chart(history, now):
    """
    An SVG line chart of C{history} up to C{now}: one line per resource,
    0% at the bottom, 100% at the top, the last C{span} seconds across,
    with a dot on each line's latest sample and its value in the legend.
    """
    samples, span = history.samples, history.span
    grid = [Tag("line", attributes={
        "x1": "0", "x2": str(_WIDTH), "y1": str(y), "y2": str(y), "stroke": "#ddd",
        "vector-effect": "non-scaling-stroke"})
        for y in (0, _HEIGHT // 2, _HEIGHT)]
    lines, dots, legend = [], [], []
    for name, colour in CHARTED:
        points = [_point(when, fractions[name], now, span) for when, fractions in samples]
        lines.append(Tag("polyline", attributes={
            "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in points), "fill": "none",
            "stroke": colour, "stroke-width": "2", "vector-effect": "non-scaling-stroke",
            "data-resource": name}))
        if points:
            x, y = points[-1]
            # A zero-length round-capped line: a dot the stretched
            # viewBox does not squash into an ellipse.
            dots.append(Tag("line", attributes={
                "x1": f"{x:.1f}", "y1": f"{y:.1f}", "x2": f"{x:.1f}", "y2": f"{y:.1f}",
                "stroke": colour, "stroke-width": "8", "stroke-linecap": "round",
                "vector-effect": "non-scaling-stroke"}))
        latest = f" {samples[-1][1][name]:.0%}" if samples else ""
        legend.append(tags.span(style=f"color: {colour}")(f"\u25a0 {name}{latest}  "))
    svg = Tag("svg", attributes={
        "viewBox": f"0 0 {_WIDTH} {_HEIGHT}", "preserveAspectRatio": "none",
        "class": "chart", "role": "img",
        "aria-label": f"Utilization over the last {span / 60:g} minutes"})(*grid, *lines, *dots)
    return [svg, tags.p(class_="legend")(
        *legend, f"(used, last {span / 60:g} min; 0\u2013100%)")]
