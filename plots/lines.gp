# lines.gp - line styles shared by error_vs_nfe.gp and trajectory_*.gp, loaded by them
# (not a figure). Before loading, set nblocks (lines) and nsolvers (solvers per cell).
# Block i (from 0) is solver i % nsolvers of cell i / nsolvers, a cell being one (model,
# schedule, spacing): the sweep writes its solver lines in that order (sweep_summary.c).
# Colour and marker go by solver, dash by cell, and past K solvers the colours repeat
# with the next dash, so no two of up to K x 6 lines look alike (spacing.ini: 24 lines,
# 4 colours x 6 dashes; orders.ini: 17 lines, 9 colours x 2 dashes). Where lines coincide
# (euler and dpm1 are one method; ddim and euler differ by rounding) the open markers of
# different shapes all show, and later lines are thinner, so the earlier show around them.
# Defines linetypes 1 .. nblocks, the array colours and solver(i).
K = 9
array colours[K] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", \
                    "#e377c2", "#17becf", "#7f7f00"]
array points[K] = [6, 4, 8, 10, 12, 1, 2, 3, 14]   # open shapes: coincident ones all show
array dashes[6] = ["solid", "(10,6)", "(2,4)", "(12,4,2,4)", "(24,8)", "(12,4,2,4,2,4)"]
if (nsolvers < 1) nsolvers = nblocks
solver(i) = i % nsolvers
variant(i) = (i / nsolvers) * ((nsolvers + K - 1) / K) + solver(i) / K
do for [i = 1:nblocks] {
    s = solver(i - 1)
    v = variant(i - 1)
    f = nblocks > 1 ? (i - 1.0) / (nblocks - 1) : 0
    eval sprintf("set linetype %d lc rgb '%s' lw %.2f dt %s pt %d ps %.2f", i, \
                 colours[s % K + 1], 2.4 - 1.0 * f, dashes[v % 6 + 1], \
                 points[(s + v / 6) % K + 1], 1.6 - 0.5 * f)
}
