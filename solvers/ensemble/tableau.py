"""Butcher tableaus of the explicit Runge-Kutta 5(4) pairs, with their dense output.

Both pairs have seven stages and the FSAL property (the last stage row equals the weights, so the
seventh stage is the first stage of the next step). The error estimate is h sum_i e_i k_i with
e = b - b_hat, and the dense output on a step [t, t + h] is the fourth-order polynomial

    y(t + theta h) = y + h sum_i w_i(theta) k_i,   w_i(theta) = sum_{p=1..4} dense[p-1, i] theta^p.

- ``DOPRI5``: J. R. Dormand, P. J. Prince, "A family of embedded Runge-Kutta formulae",
  J. Comput. Appl. Math. 6 (1980), with the embedded fourth-order weights and the dense output
  of L. F. Shampine, "Some practical Runge-Kutta formulas", Math. Comp. 46 (1986), as torchdiffeq
  and torchode use them (so each system takes torchdiffeq's solo steps). The dense output is the
  quartic through y, y_1, f, f_1 and the midpoint value y + h sum_i c_mid_i k_i (torchdiffeq's
  ``_interp_fit`` with ``DPS_C_MID``), rewritten in the stages.
- ``TSIT5``: Ch. Tsitouras, "Runge-Kutta pairs of order 5(4) satisfying only the first column
  simplifying assumption", Comput. Math. Appl. 62 (2011), with the sign of the last error weight
  corrected (OrdinaryDiffEq.jl issue 1654) and the paper's continuous extension b_i(theta).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tableau:
    """An explicit FSAL Runge-Kutta pair: nodes ``c``, stage rows ``a`` (row i has i entries),
    weights ``b`` (fifth order), error weights ``e`` = b - b_hat, dense output coefficients
    ``dense`` (4 rows: theta^1 .. theta^4) and the controller's order."""

    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    e: tuple[float, ...]
    dense: tuple[tuple[float, ...], ...]
    order: int = 5

    @property
    def stages(self) -> int:
        return len(self.b)


def _poly_mul(p: list[float], q: list[float]) -> list[float]:
    """Product of two polynomials given by their coefficients in increasing powers."""
    out = [0.0] * (len(p) + len(q) - 1)
    for i, pi in enumerate(p):
        for j, qj in enumerate(q):
            out[i + j] += pi * qj
    return out


def _expand(scale: float, *factors: list[float]) -> list[float]:
    """scale * prod(factors) as coefficients of theta^1 .. theta^4 (no constant term)."""
    poly = [scale]
    for factor in factors:
        poly = _poly_mul(poly, factor)
    poly += [0.0] * (5 - len(poly))
    return poly[1:5]


def _columns_to_rows(columns: list[list[float]]) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(column[p] for column in columns) for p in range(4))


def _shampine_dense(
    b: tuple[float, ...], c_mid: tuple[float, ...]
) -> tuple[tuple[float, ...], ...]:
    """The quartic interpolant of ``_interp_fit`` in stage form: with e1, e7 the first and last
    unit vectors, w(theta) = theta e1 + theta^2 (e7 - 4 e1 - 5 b + 16 c_mid)
    + theta^3 (5 e1 - 3 e7 + 14 b - 32 c_mid) + theta^4 (2 e7 - 2 e1 - 8 b + 16 c_mid)."""
    last = len(b) - 1
    rows = []
    for first, final, wb, wc in ((1, 0, 0, 0), (-4, 1, -5, 16), (5, -3, 14, -32), (-2, 2, -8, 16)):
        row = [wb * bi + wc * ci for bi, ci in zip(b, c_mid, strict=True)]
        row[0] += first
        row[last] += final
        rows.append(tuple(row))
    return tuple(rows)


_DP_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_DP_B_HAT = (1951 / 21600, 0.0, 22642 / 50085, 451 / 720, -12231 / 42400, 649 / 6300, 1 / 60)
_DP_C_MID = (
    6025192743 / 30085553152 / 2,
    0.0,
    51252292925 / 65400821598 / 2,
    -2691868925 / 45128329728 / 2,
    187940372067 / 1594534317056 / 2,
    -1776094331 / 19743644256 / 2,
    11237099 / 235043384 / 2,
)

DOPRI5 = Tableau(
    c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
    a=(
        (),
        (1 / 5,),
        (3 / 40, 9 / 40),
        (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
        _DP_B[:6],
    ),
    b=_DP_B,
    e=tuple(b - b_hat for b, b_hat in zip(_DP_B, _DP_B_HAT, strict=True)),
    dense=_shampine_dense(_DP_B, _DP_C_MID),
)

_TS_B = (
    0.09646076681806523,
    0.01,
    0.4798896504144996,
    1.379008574103742,
    -3.290069515436081,
    2.324710524099774,
    0.0,
)

TSIT5 = Tableau(
    c=(0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0),
    a=(
        (),
        (0.161,),
        (-0.008480655492356989, 0.335480655492357),
        (2.8971530571054935, -6.359448489975075, 4.3622954328695815),
        (5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525),
        (
            5.86145544294642,
            -12.92096931784711,
            8.159367898576159,
            -0.071584973281401,
            -0.02826905039406838,
        ),
        _TS_B[:6],
    ),
    b=_TS_B,
    e=(
        0.00178001105222577714,
        0.0008164344596567469,
        -0.007880878010261995,
        0.1447110071732629,
        -0.5823571654525552,
        0.45808210592918697,
        -1 / 66,
    ),
    dense=_columns_to_rows(
        [
            _expand(
                -1.0530884977290216,
                [0.0, 1.0],
                [-1.3299890189751412, 1.0],
                [0.7139816917074209, -1.4364028541716351, 1.0],
            ),
            _expand(0.1017, [0.0, 0.0, 1.0], [1.2949852507374631, -2.1966568338249754, 1.0]),
            _expand(
                2.490627285651252793,
                [0.0, 0.0, 1.0],
                [1.57803468208092486, -2.38535645472061657, 1.0],
            ),
            _expand(
                -16.54810288924490272,
                [0.0, 0.0, 1.0],
                [-1.21712927295533244, 1.0],
                [-0.61620406037800089, 1.0],
            ),
            _expand(
                47.37952196281928122,
                [0.0, 0.0, 1.0],
                [-1.203071208372362603, 1.0],
                [-0.658047292653547382, 1.0],
            ),
            _expand(
                -34.87065786149660974, [0.0, 0.0, 1.0], [-1.2, 1.0], [-0.666666666666666667, 1.0]
            ),
            _expand(2.5, [0.0, 0.0, 1.0], [-1.0, 1.0], [-0.6, 1.0]),
        ]
    ),
)

TABLEAUS = {"dopri5": DOPRI5, "tsit5": TSIT5}
