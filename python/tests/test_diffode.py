"""The Python bindings against the C library and the command: the same numbers bit for
bit where the same code runs, closed forms where a Python model stands in for a library
one, observed orders against the registry's theory, and errors that say what went wrong.
Run: PYTHONPATH=python /usr/bin/python3 -m pytest python/tests (make check does)."""

import json
import os
import resource
import subprocess
import traceback
from pathlib import Path

import numpy as np
import pytest

import diffode

ROOT = Path(__file__).resolve().parents[2]
DIFFODE = os.environ.get("DIFFODE", str(ROOT / "build" / "diffode"))
MU, STD = 0.5, 0.8          # the Gaussian N(MU, STD^2 I) of "gaussian:dim=2,mean=0.5,std=0.8"
SPEC = f"gaussian:dim=2,mean={MU},std={STD}"


def gauss(prediction):
    """The exact prediction of N(MU, STD^2 I) at x, sigma (MATH.md section 5): with
    xbar = x sqrt(1 + sigma^2), eps = sigma (xbar - MU) / (STD^2 + sigma^2),
    x0 = xbar - sigma eps, v = a eps - s x0 (a = 1/sqrt(1 + sigma^2), s = sigma a)."""
    def fn(x, t, sigma):
        xbar = x * np.sqrt(1 + sigma * sigma)
        eps = sigma * (xbar - MU) / (STD * STD + sigma * sigma)
        x0 = xbar - sigma * eps
        a = 1 / np.sqrt(1 + sigma * sigma)
        return {"eps": eps, "x0": x0, "v": a * eps - sigma * a * x0}[prediction]
    return fn


def test_listings_are_the_registry_of_the_command():
    out = subprocess.run([DIFFODE, "list"], capture_output=True, text=True, check=True).stdout
    listed = [line.split()[0] for line in out.split("solvers:")[1].split("schedules")[0]
              .splitlines()[2:] if line.strip()]
    assert [s["name"] for s in diffode.solvers()] == listed
    rows = {s["name"]: s for s in diffode.solvers()}
    assert rows["dpmpp2m"]["order"] == 2 and rows["heun"]["nfe_per_step"] == 2
    assert rows["gsl:rk8pd"]["adaptive"] and "ddpm-linear" in diffode.schedules()
    assert "logsnr" in diffode.spacings() and "eta" in {o["key"] for o in diffode.options()}


def test_sample_equals_the_command_bit_for_bit(tmp_path):
    out = tmp_path / "x0.npy"
    subprocess.run([DIFFODE, "sample", "--model", SPEC, "--solver", "dpmpp2m", "--nfe", "10",
                    "--n", "8", "--seed", "5", "--out", str(out)], check=True,
                   capture_output=True)
    x0, run = diffode.sample(SPEC, solver="dpmpp2m", nfe=10, n=8, seed=5)
    assert np.array_equal(x0, np.load(out))
    assert run.nfe == 10 and run.steps == 10


def philox_noise(seed, draws, n, dim):
    """docs/stochastic.md's NumPy reproduction of diffode's seeded noise (Philox4x64-10 of
    the counter (q, i, k, 0) under the key (seed, 0), then Box-Muller), written out here."""
    z = np.empty((draws, n, dim))
    for k in range(draws):
        for i in range(n):
            for q in range((dim + 3) // 4):
                c = q + (i << 64) + (k << 128)
                w = np.random.Philox(counter=(c - 1) % 2**256, key=seed).random_raw(4)
                u = ((w >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53
                r = np.sqrt(-2 * np.log(u[0::2]))
                b = np.stack([r * np.cos(2 * np.pi * u[1::2]),
                              r * np.sin(2 * np.pi * u[1::2])], axis=1).ravel()
                z[k, i, 4 * q:4 * q + 4] = b[:dim - 4 * q]
    return z


def test_the_documented_numpy_philox_reproduces_the_noise_of_a_seeded_run(tmp_path):
    noise = tmp_path / "noise.npy"
    subprocess.run([DIFFODE, "sample", "--model", "gaussian:dim=6", "--solver", "euler-a",
                    "--nfe", "5", "--n", "3", "--seed", "11", "--noise-out", str(noise)],
                   check=True, capture_output=True)
    got = np.load(noise)
    assert got.shape == (5, 3, 6)
    # the words are bit-exact; log, cos and sin of two libms may differ in the last bit
    np.testing.assert_allclose(philox_noise(11, 5, 3, 6), got, rtol=1e-14, atol=1e-14)


def test_noise_array_replays_the_command_and_a_short_one_is_refused(tmp_path):
    out, noise = tmp_path / "x0.npy", tmp_path / "noise.npy"
    subprocess.run([DIFFODE, "sample", "--model", SPEC, "--solver", "dpmpp2m-sde", "--nfe", "10",
                    "--n", "6", "--seed", "2", "--out", str(out), "--noise-out", str(noise)],
                   check=True, capture_output=True)
    z = np.load(noise)
    x0, _ = diffode.sample(SPEC, solver="dpmpp2m-sde", nfe=10, n=6, seed=2, noise=z)
    assert np.array_equal(x0, np.load(out))
    other, _ = diffode.sample(SPEC, solver="dpmpp2m-sde", nfe=10, n=6, seed=2, noise=2 * z)
    assert not np.array_equal(other, x0)
    with pytest.raises(diffode.DiffodeError, match="this run needs 10 draws of \\(6, 2\\)"):
        diffode.sample(SPEC, solver="dpmpp2m-sde", nfe=10, n=6, seed=2, noise=z[:9])


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_python_model_drives_a_solver_like_the_library_model(prediction):
    want, _ = diffode.sample(SPEC, solver="unipc2", nfe=12, n=16, seed=2)
    got, run = diffode.sample(gauss(prediction), dim=2, prediction=prediction,
                              solver="unipc2", nfe=12, n=16, seed=2)
    # the same closed form in another order of operations (x0 and v through the C
    # wrapper's inversion): rounding, relative 1e-12 of states of size ~3
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)
    assert run.nfe == 12


GMM = ROOT / "experiments" / "configs" / "gmm2d.json"


def gmm_eps():
    """The exact eps of the isotropic mixture in gmm2d.json, written in NumPy from MATH.md
    section 5: xbar ~ sum_k w_k N(mu_k, (s_k^2 + sigma^2) I), responsibilities by
    log-sum-exp, eps = sigma sum_k gamma_k (xbar - mu_k) / (s_k^2 + sigma^2)."""
    spec = json.loads(GMM.read_text())
    w, mu, s = (np.array(spec[k], dtype=np.float64) for k in ("weights", "means", "stds"))

    def fn(x, t, sigma):
        xbar = x * np.sqrt(1 + sigma * sigma)
        c = s * s + sigma * sigma                                   # (K,)
        d = xbar[:, None, :] - mu[None, :, :]                       # (n, K, dim)
        logp = (np.log(w) - 0.5 * x.shape[1] * np.log(2 * np.pi * c)
                - 0.5 * np.sum(d * d, axis=2) / c)                  # (n, K)
        g = np.exp(logp - logp.max(axis=1, keepdims=True))
        g /= g.sum(axis=1, keepdims=True)
        return sigma * np.einsum("nk,nkd->nd", g, d / c[None, :, None])
    return fn


FIXED_STEP = [s["name"] for s in diffode.solvers()   # cfg++: guided models only
              if not s["adaptive"] and s["family"] != "cfg++"]


@pytest.mark.parametrize("solver", FIXED_STEP)
def test_python_mixture_gives_the_samples_of_the_gmm_model(solver):
    per = next(s["nfe_per_step"] for s in diffode.solvers() if s["name"] == solver)
    want, _ = diffode.sample(f"gmm:{GMM}", solver=solver, nfe=12 * per, n=64, seed=4)
    got, run = diffode.sample(gmm_eps(), dim=2, solver=solver, nfe=12 * per, n=64, seed=4)
    # two implementations of one formula (BLAS and log-sum-exp in C, einsum here):
    # rounding of states of size ~3, relative 1e-12 at most
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())
    assert run.nfe == 12 * per


@pytest.mark.parametrize("solver,pair", [("euler", (200, 400)), ("heun", (100, 200)),
                                         ("dpmpp2m", (100, 200)), ("dpm2", (100, 200))])
def test_observed_order_of_a_python_model_is_the_theory(solver, pair):
    x_T = np.random.default_rng(0).standard_normal((32, 2))
    ref, r = diffode.reference(SPEC, x_T=x_T)
    assert r.exact
    errs = [diffode.rmse(diffode.sample(gauss("eps"), x_T=x_T, solver=solver, nfe=k)[0], ref)
            for k in pair]
    theory = next(s["order"] for s in diffode.solvers() if s["name"] == solver)
    assert abs(diffode.observed_order(pair, errs) - theory) <= 0.1


def read_safetensors(path):
    """A .safetensors file as {name: float64 array} and its metadata (the format: an 8-byte
    little-endian header length, a JSON header, then the raw tensors)."""
    raw = Path(path).read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + size])
    meta = header.pop("__metadata__", {})
    types = {"F64": "<f8", "F32": "<f4"}
    out = {name: np.frombuffer(raw[8 + size + a:8 + size + b], dtype=types[h["dtype"]])
           .reshape(h["shape"]).astype(np.float64)
           for name, h in header.items() for a, b in [h["data_offsets"]]}
    return out, meta


def test_torch_mlp_gives_the_samples_of_the_mlp_model(tmp_path):
    torch = pytest.importorskip("torch", reason="python3-torch is not installed: the PyTorch "
                                "adapter is not tested (apt-get install python3-torch)")
    weights = ROOT / "model" / "weights" / "gmm2d_mlp.safetensors"
    tensors, meta = read_safetensors(weights)
    assert meta["schedule"] == "ddpm-linear" and meta["prediction"] == "eps"
    temb, layers = int(meta["temb"]), []
    for i in range(len(meta["widths"].split(",")) + 1):        # docs/models.md's layout
        w, b = tensors[f"layers.{2 * i}.weight"], tensors[f"layers.{2 * i}.bias"]
        lin = torch.nn.Linear(w.shape[1], w.shape[0]).double()
        lin.weight.data, lin.bias.data = torch.from_numpy(w.copy()), torch.from_numpy(b.copy())
        layers += [lin, torch.nn.SiLU()]
    net = torch.nn.Sequential(*layers[:-1]).eval()
    half = temb // 2
    freqs = torch.exp(-np.log(10000.0) * torch.arange(half, dtype=torch.float64) / half)

    def mlp(x, t, sigma):               # the two-line adapter of docs/python.md, plus temb
        label = torch.full((len(x),), 1000.0 * (t - 1.0 / 1000), dtype=torch.float64)
        args = label[:, None] * freqs[None, :]
        inp = torch.cat([torch.tensor(x), torch.sin(args), torch.cos(args)], dim=1)
        with torch.no_grad():
            return net(inp).numpy()

    out = tmp_path / "x0.npy"
    subprocess.run([DIFFODE, "sample", "--model", f"mlp:{weights}", "--solver", "dpm2",
                    "--nfe", "20", "--n", "256", "--seed", "3", "--out", str(out)], check=True,
                   capture_output=True)
    got, _ = diffode.sample(mlp, dim=2, solver="dpm2", nfe=20, n=256, seed=3)
    # the same network in PyTorch's kernels and in OpenBLAS: rounding through 3 layers
    # of width 128 and 20 evaluations, far below 1e-10
    np.testing.assert_allclose(got, np.load(out), rtol=0, atol=1e-10)
    if os.environ.get("DIFFODE_TEST_VERBOSE"):
        print(f"torch vs mlp: max |diff| {np.abs(got - np.load(out)).max():.3g}")


def test_exception_in_the_model_stops_the_solve_and_is_reraised():
    calls = []

    def broken_net(x, t, sigma):
        calls.append(sigma)
        if len(calls) == 3:
            raise ZeroDivisionError("my network failed")
        return np.zeros_like(x)

    with pytest.raises(ZeroDivisionError, match="my network failed") as info:
        diffode.sample(broken_net, dim=2, solver="euler", nfe=10, n=4)
    assert len(calls) == 3                      # the solve stopped at the failing call
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "broken_net" in frames


def test_a_model_returning_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"returned shape \(4, 3\), expected \(4, 2\)"):
        diffode.sample(lambda x, t, s: np.zeros((4, 3)), dim=2, nfe=4, n=4)


def test_library_errors_raise_with_the_library_message():
    with pytest.raises(diffode.DiffodeError, match="nope") as e:
        diffode.sample(SPEC, schedule="nope", nfe=4)
    assert e.value.status == "DODE_ENOTFOUND"
    with pytest.raises(diffode.DiffodeError, match="unknown solver"):
        diffode.sample(SPEC, solver="dpmpp9", nfe=4)
    with pytest.raises(diffode.DiffodeError, match="dynamic_ratio=1.5"):
        diffode.sample(SPEC, nfe=4, thresholding="dynamic", dynamic_ratio=1.5)
    with pytest.raises(diffode.DiffodeError, match="less than one step"):
        diffode.sample(SPEC, solver="rk4", nfe=3)
    with pytest.raises(diffode.DiffodeError, match="no solver option 'colour'"):
        diffode.sample(SPEC, nfe=4, colour="red")
    with pytest.raises(ValueError, match="NaN"):
        diffode.sample(SPEC, nfe=4, x_T=np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="dim"):
        diffode.sample(gauss("eps"), nfe=4)


def test_options_reach_the_solver():
    a, _ = diffode.sample(SPEC, solver="dpmpp3m", nfe=8, n=8, seed=1)
    b, _ = diffode.sample(SPEC, solver="dpmpp3m", nfe=8, n=8, seed=1, lower_order_final=False)
    c, _ = diffode.sample(SPEC, solver="dpmpp3m", nfe=8, n=8, seed=1, lower_order_final="yes")
    assert not np.array_equal(a, b) and np.array_equal(a, c)


def test_trajectory_holds_every_grid_point():
    x_T = np.random.default_rng(1).standard_normal((5, 2))
    x0, run = diffode.sample(SPEC, solver="heun", nfe=8, x_T=x_T, trajectory=True)
    g = diffode.grid("ddpm-linear", "logsnr", nfe=8, solver="heun")
    assert run.xbar.shape == (5, 5, 2)
    np.testing.assert_array_equal(run.sigma, g.sigma)
    np.testing.assert_array_equal(run.xbar[0], x_T * np.sqrt(1 + g.sigma[0] ** 2))
    # x0 = xbar * (1/sqrt(1 + sigma^2)) in C: one rounding away from this division
    np.testing.assert_allclose(run.xbar[-1] / np.sqrt(1 + g.sigma[-1] ** 2), x0, rtol=4e-16)


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def test_ten_thousand_calls_leave_the_memory_flat():
    fn = gauss("eps")
    for _ in range(2000):
        diffode.sample(fn, dim=2, solver="euler", nfe=2, n=2)
    before = rss_kib()
    for _ in range(10000):
        diffode.sample(fn, dim=2, solver="euler", nfe=2, n=2)
        with pytest.raises(ZeroDivisionError):
            diffode.sample(lambda x, t, s: 1 / 0, dim=2, solver="euler", nfe=2, n=2)
    # a leak of one model, ode or grid per call would be >= 100 bytes x 2 x 10^4 = 2 MB
    assert rss_kib() - before < 1024
