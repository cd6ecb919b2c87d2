"""Link costs, their derivatives and integral, the line search and the conjugate weights.

Link cost (BPR, Bureau of Public Roads 1964) plus a constant generalized term::

    t(x) = fft * (1 + alpha * (x / cap) ** beta) + const

with 0**0 = 1 (``beta == 0`` gives the constant ``fft * (1 + alpha)``); links with
``fft == 0`` or ``alpha == 0`` have the constant cost ``fft + const``. The Beckmann
objective is ``sum_a integral_0^{x_a} t_a(s) ds``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = np.inf


@njit(cache=True, inline="always")
def _cost1(fft, alpha, beta, cap, const, x):
    if fft == 0.0 or alpha == 0.0:
        return fft + const
    if beta == 0.0:
        return fft * (1.0 + alpha) + const
    if x <= 0.0:
        return fft + const
    return fft * (1.0 + alpha * (x / cap) ** beta) + const


@njit(cache=True, inline="always")
def _deriv1(fft, alpha, beta, cap, x):
    if fft == 0.0 or alpha == 0.0 or beta == 0.0:
        return 0.0
    if beta == 1.0:
        return fft * alpha / cap
    if x <= 0.0:
        return 0.0 if beta > 1.0 else INF
    return fft * alpha * beta * (x / cap) ** (beta - 1.0) / cap


@njit(cache=True, inline="always")
def _integral1(fft, alpha, beta, cap, const, x):
    if x <= 0.0:
        return 0.0
    if fft == 0.0 or alpha == 0.0:
        return (fft + const) * x
    return fft * (x + alpha * cap / (beta + 1.0) * (x / cap) ** (beta + 1.0)) + const * x


@njit(cache=True)
def link_costs(fft, alpha, beta, cap, const, flow, out):
    """Generalized BPR cost of every link at ``flow``, written into ``out``."""
    for a in range(flow.shape[0]):
        out[a] = _cost1(fft[a], alpha[a], beta[a], cap[a], const[a], flow[a])


@njit(cache=True)
def link_derivatives(fft, alpha, beta, cap, flow, out):
    """Derivative d cost / d flow of every link (``inf`` at zero flow when ``0 < beta < 1``)."""
    for a in range(flow.shape[0]):
        out[a] = _deriv1(fft[a], alpha[a], beta[a], cap[a], flow[a])


@njit(cache=True)
def beckmann(fft, alpha, beta, cap, const, flow):
    """Beckmann objective: the sum over links of the integral of cost from 0 to flow."""
    s = 0.0
    for a in range(flow.shape[0]):
        s += _integral1(fft[a], alpha[a], beta[a], cap[a], const[a], flow[a])
    return s


# ---------------------------------------------------------------------- line search


@njit(cache=True)
def _directional_derivative(fft, alpha, beta, cap, const, x, d, tau):
    s = 0.0
    for a in range(x.shape[0]):
        if d[a] != 0.0:
            s += d[a] * _cost1(fft[a], alpha[a], beta[a], cap[a], const[a], x[a] + tau * d[a])
    return s


@njit(cache=True)
def line_search(fft, alpha, beta, cap, const, x, d, tau_max, tol):
    """Step ``tau`` in [0, tau_max] minimising the Beckmann objective along ``x + tau d``.

    Bisection on the directional derivative ``sum_a d_a t_a(x_a + tau d_a)``, which is
    non-decreasing in ``tau`` because every link cost is non-decreasing in its flow.
    Stops when the bracket is narrower than ``tol``.
    """
    g0 = _directional_derivative(fft, alpha, beta, cap, const, x, d, 0.0)
    if g0 >= 0.0:
        return 0.0
    g1 = _directional_derivative(fft, alpha, beta, cap, const, x, d, tau_max)
    if g1 <= 0.0:
        return tau_max
    lo, hi = 0.0, tau_max
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        g = _directional_derivative(fft, alpha, beta, cap, const, x, d, mid)
        if g < 0.0:
            lo = mid
        elif g > 0.0:
            hi = mid
        else:
            return mid
    return 0.5 * (lo + hi)


@njit(cache=True)
def conjugate_weights(fft, alpha, beta, cap, x, y, s1, s2, tau1, biconjugate):
    """Weights of the conjugate (CFW) or biconjugate (BFW) target point.

    Mitradjieva and Lindberg (2013), "The stiff is moving: conjugate direction Frank-Wolfe
    methods with applications to traffic assignment", Transportation Science 47(2).
    ``x`` is the current flow, ``y`` the all-or-nothing point, ``s1`` and ``s2`` the two
    previous target points and ``tau1`` the previous step. The Hessian is the diagonal of
    link cost derivatives at ``x``. Returns ``(b0, b1, b2)`` with the target
    ``b0 * y + b1 * s1 + b2 * s2``.
    """
    m = x.shape[0]
    if not biconjugate:
        num = 0.0
        den = 0.0
        for a in range(m):
            h = _deriv1(fft[a], alpha[a], beta[a], cap[a], x[a])
            if h == INF:
                continue
            dk = s1[a] - x[a]
            num += dk * h * (y[a] - x[a])
            den += dk * h * (y[a] - s1[a])
        if den == 0.0:
            return 1.0, 0.0, 0.0
        al = num / den
        if al < 0.0:
            al = 0.0
        elif al > 0.99999:
            al = 0.99999
        return 1.0 - al, al, 0.0
    num = 0.0
    den = 0.0
    for a in range(m):
        h = _deriv1(fft[a], alpha[a], beta[a], cap[a], x[a])
        if h == INF:
            continue
        w = h * (tau1 * s1[a] - x[a] + (1.0 - tau1) * s2[a])
        num += w * (y[a] - x[a])
        den += w * (s2[a] - s1[a])
    if den == 0.0:
        return 1.0, 0.0, 0.0
    mu = -num / den
    if mu < 0.0:
        mu = 0.0
    num = 0.0
    den = 0.0
    for a in range(m):
        h = _deriv1(fft[a], alpha[a], beta[a], cap[a], x[a])
        if h == INF:
            continue
        w = h * (s1[a] - x[a])
        num += w * (y[a] - x[a])
        den += w * (s1[a] - x[a])
    if den == 0.0:
        return 1.0, 0.0, 0.0
    nu = mu * tau1 / (1.0 - tau1) - num / den
    if nu < 0.0:
        nu = 0.0
    b0 = 1.0 / (1.0 + nu + mu)
    return b0, nu * b0, mu * b0
