#!/usr/bin/env python3
"""Derives the Winograd F(m×m, r×r) matrices used by Sources/CKernels (winograd_f4x4.c: F(4×4, 3×3),
winograd_f5x5.c: F(5×5, 3×3), winograd_f4x4k5.c: F(4×4, 5×5); at stride 2, the F(m, 2) of each
axis's even inputs: winograd_s2.c F(4, 2), winograd_s2m7.c F(7, 2)) and checks them exactly
(rationals): Y = Aᵀ [(G g) ⊙ (Bᵀ d)] equals the correlation y_i = Σ_k d_(i+k) g_k for random
integer d and g; then estimates the float32 error of the 2-D transform over 32 channels against
float64.

    python3 Tests/KernelsTests/winograd5.py            (needs sympy and numpy)

Aᵀ and G follow Lavin & Gray's construction from the interpolation points (the last one ∞);
Bᵀ is solved for from Aᵀ diag(G e_k) Bᵀ = T_k (the correlation by basis vector e_k), k < r.
"""
import random

import numpy as np
import sympy as sp


def matrices(m, r, points):
    n = m + r - 1
    pts = [sp.Rational(p) for p in points]
    assert len(pts) == n - 1
    AT = sp.zeros(m, n)
    for i in range(m):
        for j, p in enumerate(pts):
            AT[i, j] = p ** i
    AT[m - 1, n - 1] = 1
    G = sp.zeros(n, r)
    for j, p in enumerate(pts):
        f = sp.prod([p - q for q in pts if q != p])
        for k in range(r):
            G[j, k] = p ** k / f
    G[n - 1, r - 1] = 1
    BT = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"b{i}_{j}"))
    equations = []
    for k in range(r):
        T = sp.zeros(m, n)
        for i in range(m):
            T[i, i + k] = 1
        equations += list(AT * sp.diag(*[G[j, k] for j in range(n)]) * BT - T)
    solution = sp.solve(equations, list(BT), dict=True)
    assert solution, "no Bᵀ for these points"
    BT = BT.subs(solution[0])
    assert not BT.free_symbols
    return AT, G, BT


def check(m, r, AT, G, BT):
    n = m + r - 1
    for _ in range(20):
        d = sp.Matrix([random.randint(-9, 9) for _ in range(n)])
        g = sp.Matrix([random.randint(-9, 9) for _ in range(r)])
        y = AT * (G * g).multiply_elementwise(BT * d)
        assert y == sp.Matrix([sum(d[i + k] * g[k] for k in range(r)) for i in range(m)])


def float32_error(m, r, AT, G, BT, channels=32, trials=100):
    n = m + r - 1
    at, gm, bt = (np.array(M.tolist(), dtype=np.float64) for M in (AT, G, BT))
    rng = np.random.default_rng(0)
    worst = 0.0
    f = np.float32
    for _ in range(trials):
        d = rng.standard_normal((channels, n, n))
        g = rng.standard_normal((channels, r, r)) * 0.1
        ref = sum(np.array([[np.sum(d[c, i:i + r, j:j + r] * g[c]) for j in range(m)] for i in range(m)])
                  for c in range(channels))
        U = np.einsum("ij,cjk,lk->cil", gm.astype(f), g.astype(f), gm.astype(f))
        V = np.einsum("ij,cjk,lk->cil", bt.astype(f), d.astype(f), bt.astype(f))
        Y = at.astype(f) @ (U * V).sum(0, dtype=f) @ at.T.astype(f)
        worst = max(worst, np.abs(Y - ref).max() / np.abs(ref).max())
    return worst


for m, r, points in [(4, 3, ["0", "1", "-1", "2", "-2"]), (5, 3, ["0", "1", "-1", "2", "-2", "1/2"]),
                     (4, 5, ["0", "1", "-1", "2", "-2", "1/2", "-1/2"]), (4, 2, ["0", "1", "-1", "2"]),
                     (7, 2, ["0", "1", "-1", "2", "-2", "1/2", "-1/2"])]:
    AT, G, BT = matrices(m, r, points)
    check(m, r, AT, G, BT)
    print(f"F({m}×{m}, {r}×{r}), points {', '.join(points)}, ∞")
    print("  Aᵀ =", AT.tolist())
    print("  G  =", G.tolist())
    print("  Bᵀ =", BT.tolist())
    print(f"  exact check passed; float32 error (32 channels) ≤ {float32_error(m, r, AT, G, BT):.2e} of the largest output")
