"""Drawing token clouds on S^1 and S^2: the backdrops shared by the scenarios' snapshot figures."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import NullFormatter
from mpl_toolkits.mplot3d.axes3d import Axes3D


def view_angles(points: np.ndarray) -> tuple[float, float]:
    """(elevation, azimuth) in degrees looking at the mean direction of ``points`` (..., 3)."""
    mean = points.reshape(-1, 3).mean(0)
    if np.linalg.norm(mean) < 1e-3:
        return 20.0, 35.0
    x, y, z = mean / np.linalg.norm(mean)
    # Look from slightly above the mean direction, so that it sits a little below the centre.
    return float(np.degrees(np.arcsin(z))) + 15.0, float(np.degrees(np.arctan2(y, x)))


def draw_sphere(ax: Axes3D, view: tuple[float, float]) -> None:
    """The unit sphere S^2 as a light wireframe seen from ``view`` (elevation, azimuth), no axes."""
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 25), np.linspace(0, np.pi, 13))
    ax.plot_wireframe(
        np.cos(u) * np.sin(v),
        np.sin(u) * np.sin(v),
        np.cos(v),
        color="0.6",
        linewidth=0.3,
        alpha=0.5,
    )
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.set_zlim(-1, 1)
    ax.set_box_aspect((1, 1, 1), zoom=1.25)
    ax.view_init(elev=view[0], azim=view[1])
    ax.set_axis_off()


def draw_disk(ax: Axes, *, bottom: bool, left: bool) -> None:
    """The unit circle S^1 in square axes, tick labels only on the bottom row and left column."""
    angle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(angle), np.sin(angle), color="0.6", linewidth=0.6)
    ax.set_xlim(-1.15, 1.15)
    ax.set_ylim(-1.15, 1.15)
    ax.set_aspect("equal")
    ax.set_xticks([-1, 0, 1])
    ax.set_yticks([-1, 0, 1])
    if bottom:
        ax.set_xlabel("x₁")
    else:
        ax.xaxis.set_major_formatter(NullFormatter())
    if left:
        ax.set_ylabel("x₂")
    else:
        ax.yaxis.set_major_formatter(NullFormatter())
