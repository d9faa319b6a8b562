#!/usr/bin/python3
"""bench/peer/peer_torch.py - diffode's whole `sample` process against a PyTorch peer on
the same job (issue 16):

    10,000 samples of the 2-D mixture of 8 components (weights 1..8 / 36, means on the
    circle of radius 4, std 0.3: bench/bench_speed.c's ring), ddpm-linear, DPM-Solver++(2M)
    on the uniform-t grid from t = 1 to 1e-3, NFE 10 and 20, float64, 1 thread each.

The peer is this script's own PyTorch code: the mixture's exact eps in torch and
DPM-Solver++(2M) in x-space with the discrete schedule interpolated as DPM-Solver does
(piecewise-linear log alpha in t through t_n = (n + 1) / N). With --dpm-solver FILE it
uses the official solver instead: FILE is dpm_solver_pytorch.py of
github.com/LuChengTHU/dpm-solver (NoiseScheduleVP('discrete'), model_wrapper,
DPM_Solver(algorithm_type="dpmsolver++").sample(..., method="multistep"); checked against
commit 52bc3fb). Both sides start from the same x_T (written to a .npy file and passed
with --x-T); their x_0 must agree to 1e-10 (max abs).

Times: the peer's solve in this process (torch already imported, minimum over repetitions)
against diffode's whole process (spawn to exit, minimum over repetitions, run in turn with
the peer) and the solve seconds diffode reports. Prints the ratios. Skips (exit 0) with a
message when torch is absent; exit 1 if the outputs disagree or diffode fails.

    $ /usr/bin/python3 bench/peer/peer_torch.py            # slow: after make
"""
import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

try:
    import torch
except ImportError:
    print("peer: skipped: torch is not installed (Debian: apt-get install python3-torch)")
    sys.exit(0)

N_LEVELS = 1000


def ring():
    k = np.arange(8)
    w = (k + 1) / 36.0
    mu = np.stack([4 * np.cos(2 * np.pi * k / 8), 4 * np.sin(2 * np.pi * k / 8)], axis=1)
    return w, mu, np.full(8, 0.3)


def write_model(path, w, mu, sd):
    with open(path, "w") as f:
        json.dump({"weights": w.tolist(), "means": mu.tolist(), "stds": sd.tolist()}, f)


class Mixture:
    """eps(x, alpha, sigma) of x_t = alpha x_0 + sigma z, x_0 ~ sum_k w_k N(mu_k, sd_k^2 I):
    eps = sigma sum_k gamma_k (x - alpha mu_k) / C_k, C_k = alpha^2 sd_k^2 + sigma^2,
    gamma = softmax_k(log w_k - (d/2) log C_k - |x - alpha mu_k|^2 / (2 C_k))."""

    def __init__(self, w, mu, sd):
        self.logw = torch.log(torch.tensor(w))
        self.mu = torch.tensor(mu)
        self.var = torch.tensor(sd) ** 2

    def eps(self, x, alpha, sigma):
        C = alpha * alpha * self.var + sigma * sigma                  # [K]
        diff = x[:, None, :] - alpha * self.mu[None, :, :]            # [n, K, d]
        logits = self.logw - 0.5 * x.shape[1] * torch.log(C) \
            - 0.5 * (diff * diff).sum(-1) / C
        gamma = torch.softmax(logits, dim=1)                          # [n, K]
        return sigma * torch.einsum("nk,nkd->nd", gamma / C, diff)


class DiscreteVP:
    """ddpm-linear as DPM-Solver makes it continuous: log alpha piecewise linear in t
    through (t_n, log alpha_n), t_n = (n + 1) / N, extended linearly past the ends."""

    def __init__(self):
        betas = torch.linspace(1e-4, 0.02, N_LEVELS)
        self.log_alpha = 0.5 * torch.log(1 - betas).cumsum(0)
        self.t = torch.linspace(0.0, 1.0, N_LEVELS + 1)[1:]

    def log_alpha_at(self, t):
        i = min(max(int(torch.searchsorted(self.t, torch.tensor([t]), right=True)) - 1, 0),
                N_LEVELS - 2)
        t0, t1 = self.t[i], self.t[i + 1]
        a0, a1 = self.log_alpha[i], self.log_alpha[i + 1]
        return float(a0 + (a1 - a0) * (t - t0) / (t1 - t0))

    def coeffs(self, t):
        la = self.log_alpha_at(t)
        alpha = math.exp(la)
        sigma = math.sqrt(1.0 - math.exp(2 * la))
        return alpha, sigma, la - math.log(sigma)


def own_dpmpp2m(model, sched, x, steps, t_T=1.0, t_0=1.0 / N_LEVELS):
    """DPM-Solver++(2M), "dpmsolver" form, first step order 1 (Lu et al. 2022, Alg. 2):
    x_t = (s_t/s_s) x - a_t expm1(-h) (m0 + D1/2), D1 = (m0 - m1) / r0, r0 = h_prev / h."""
    ts = [t_T + (t_0 - t_T) * i / steps for i in range(steps + 1)]
    a, s, lam = sched.coeffs(ts[0])
    m_prev, h_prev = None, None
    for i in range(steps):
        m = (x - s * model.eps(x, a, s)) / a                          # x0 prediction
        an, sn, lamn = sched.coeffs(ts[i + 1])
        h = lamn - lam
        if m_prev is None:
            x = (sn / s) * x - an * math.expm1(-h) * m
        else:
            D1 = (m - m_prev) * (h / h_prev)
            x = (sn / s) * x - an * math.expm1(-h) * m - 0.5 * an * math.expm1(-h) * D1
        m_prev, h_prev, a, s, lam = m, h, an, sn, lamn
    return x


def official_solver(path, model):
    spec = importlib.util.spec_from_file_location("dpm_solver_pytorch", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ns = mod.NoiseScheduleVP("discrete", betas=torch.linspace(1e-4, 0.02, N_LEVELS),
                             dtype=torch.float64)     # its default is float32

    def eps_fn(x, t_input):                 # model_wrapper passes 1000 (t - 1/N), per row
        t = t_input[:1] / 1000.0 + 1.0 / N_LEVELS
        return model.eps(x, float(ns.marginal_alpha(t)), float(ns.marginal_std(t)))

    fn = mod.model_wrapper(eps_fn, ns, model_type="noise")
    solver = mod.DPM_Solver(fn, ns, algorithm_type="dpmsolver++")
    return lambda x, steps: solver.sample(x, steps=steps, order=2, skip_type="time_uniform",
                                          method="multistep")


def best_of(reps, fn):
    best, out = math.inf, None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--diffode", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                      "build", "diffode"))
    ap.add_argument("--dpm-solver", help="path of the official dpm_solver_pytorch.py")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    if not os.access(args.diffode, os.X_OK):
        print(f"peer: {args.diffode} is not built (run make)", file=sys.stderr)
        return 1
    if args.dpm_solver is not None and not os.path.isfile(args.dpm_solver):
        print(f"peer: skipped: --dpm-solver {args.dpm_solver} is not a file")
        return 0
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    w, mu, sd = ring()
    model, sched = Mixture(w, mu, sd), DiscreteVP()
    peer = official_solver(args.dpm_solver, model) if args.dpm_solver else \
        (lambda x, steps: own_dpmpp2m(model, sched, x, steps))
    name = "official DPM-Solver (" + args.dpm_solver + ")" if args.dpm_solver else \
        "this script's torch DPM-Solver++(2M)"
    x_T = np.random.default_rng(0).standard_normal((args.n, 2))
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        gmm, xt, out = (os.path.join(tmp, f) for f in ("ring8.json", "xT.npy", "x0.npy"))
        write_model(gmm, w, mu, sd)
        np.save(xt, x_T)
        print(f"peer: {name} vs diffode sample, n = {args.n}, K = 8, 1 thread each, "
              f"best of {args.reps}")
        for nfe in (10, 20):
            cmd = [args.diffode, "sample", "--model", "gmm:" + gmm, "--solver", "dpmpp2m",
                   "--nfe", str(nfe), "--spacing", "uniform-t", "--x-T", xt, "--out", out]
            proc, solve, peer_t, x0 = math.inf, math.inf, math.inf, None
            for _ in range(args.reps):          # in turn, so load hits both sides alike
                t0 = time.perf_counter()
                r = subprocess.run(cmd, env=env, capture_output=True, text=True)
                dt = time.perf_counter() - t0
                if r.returncode != 0:
                    print(f"peer: diffode failed: {r.stderr.strip()}", file=sys.stderr)
                    return 1
                proc = min(proc, dt)
                solve = min(solve, json.loads(r.stdout.splitlines()[0])["seconds"])
                t, x0 = best_of(1, lambda: peer(torch.tensor(x_T), nfe))
                peer_t = min(peer_t, t)
            diff = float(np.max(np.abs(np.load(out) - x0.numpy())))
            ok = diff <= 1e-10
            bad += not ok
            print(f"  NFE {nfe:2d}: peer {1e3 * peer_t:7.1f} ms; diffode process "
                  f"{1e3 * proc:6.1f} ms (solve {1e3 * solve:5.1f} ms): "
                  f"{peer_t / proc:5.1f}x the process, {peer_t / solve:5.1f}x the solve "
                  f"(goal >= 20x); max |x0 diff| {diff:.1e} {'ok' if ok else 'DIFFER'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
