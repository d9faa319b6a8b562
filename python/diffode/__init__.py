"""diffode from Python: every solver, grid and schedule of the C library, on its own models
(spec strings such as "gmm:FILE.json") or on any Python function eps(x, t, sigma).

    import numpy as np, diffode
    x0, run = diffode.sample("gmm:experiments/configs/gmm2d.json", solver="dpmpp2m", nfe=20,
                             n=1000, seed=1)
    x0, run = diffode.sample(lambda x, t, sigma: my_net(x, t), dim=2, solver="unipc2", nfe=10)

Arrays cross into C without copies (float64, C order); a model function receives
read-only views of the library's buffers. Library errors raise DiffodeError with the
library's message; an exception raised inside a model function stops the solve and is
re-raised as it was, traceback included. docs/python.md has the whole story."""

import numpy as np

from . import _lib

ffi, lib = _lib.load()

__all__ = ["DiffodeError", "Run", "Grid", "solvers", "schedules", "spacings", "options",
           "grid", "sample", "reference", "rmse", "observed_order"]

_ERRLEN = 2048
_PREDICTIONS = {"eps": lib.DODE_PRED_EPS, "x0": lib.DODE_PRED_X0, "v": lib.DODE_PRED_V,
                "score": lib.DODE_PRED_SCORE, "flow": lib.DODE_PRED_FLOW}


class DiffodeError(Exception):
    """A failure reported by the C library: .status is its code name (DODE_EINVAL, ...)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = ffi.string(lib.dode_strerror(status)).decode()


def _check(rc, err):
    if rc != 0:
        raise DiffodeError(rc, ffi.string(err).decode())


def _str(p):
    return ffi.string(p).decode() if p != ffi.NULL else None


def _array(x, name):
    """x as a C-ordered float64 2-D array (a copy only if x is not one already)."""
    a = np.ascontiguousarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty (n, dim) array, got shape {np.shape(x)}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN or Inf")
    return a


def _ptr(a):
    return ffi.cast("double *", a.ctypes.data)


# ---- what the library offers ----

def solvers():
    """The registry, in `diffode list` order: dicts with name, family, order, nfe_per_step
    (0 for adaptive), adaptive, data_prediction, summary."""
    out, table = [], lib.dode_solvers()
    i = 0
    while table[i] != ffi.NULL:
        s = table[i]
        out.append({"name": _str(s.name), "family": _str(s.family),
                    "order": lib.dode_solver_order(s, ffi.NULL),
                    "nfe_per_step": s.evals_per_step, "adaptive": bool(s.adaptive),
                    "data_prediction": bool(s.data_prediction), "summary": _str(s.summary)})
        i += 1
    return out


def schedules():
    """The named schedules (also accepted: betas:FILE.npy, alphas_cumprod:FILE.npy)."""
    names, out, i = lib.dode_schedule_names(), [], 0
    while names[i] != ffi.NULL:
        out.append(_str(names[i]))
        i += 1
    return out


def spacings():
    """The time-grid spacings."""
    out, k = [], 0
    while True:
        name = _str(lib.dode_spacing_name(k))
        if name == "unknown":
            return out
        out.append(name)
        k += 1


def options():
    """The solver option table: dicts with key, default, readers, help. Pass them to
    sample() as keyword arguments (sample(..., lower_order_final=False, eta=0.5))."""
    out, row = [], lib.dode_solver_options()
    while row.key != ffi.NULL:
        out.append({"key": _str(row.key), "default": _str(row.default_text),
                    "readers": _str(row.readers), "help": _str(row.help)})
        row += 1
    return out


# ---- owned C objects, freed deterministically ----

class _Owned:
    """C objects of one call, freed in reverse order on exit (also on an exception)."""

    def __init__(self):
        self._free = []

    def __enter__(self):
        return self

    def add(self, obj, free):
        self._free.append((obj, free))
        return obj

    def __exit__(self, *exc):
        for obj, free in reversed(self._free):
            free(obj)
        return False


def _schedule(owned, spec):
    err = ffi.new("char[]", _ERRLEN)
    out = ffi.new("dode_schedule **")
    _check(lib.dode_schedule_from_spec(spec.encode(), out, err, _ERRLEN), err)
    return owned.add(out[0], lib.dode_schedule_free)


def _solver(name):
    s = lib.dode_solver_find(name.encode())
    if s == ffi.NULL:
        known = ", ".join(d["name"] for d in solvers())
        raise DiffodeError(lib.DODE_ENOTFOUND, f"unknown solver \"{name}\" (known: {known})")
    return s


def _opts(owned, options):
    o = lib.dode_solver_opts_new()
    if o == ffi.NULL:
        raise MemoryError("diffode: cannot allocate solver options")
    owned.add(o, lib.dode_solver_opts_free)
    err = ffi.new("char[]", _ERRLEN)
    for key, value in options.items():
        if isinstance(value, bool):
            value = "yes" if value else "no"
        rc = lib.dode_solver_opts_set(o, key.encode(), str(value).encode(), err, _ERRLEN)
        if rc != 0:
            raise DiffodeError(rc, f"option {key}={value!r}: " + ffi.string(err).decode())
    return o


class _Callback:
    """A Python function eps(x, t, sigma) -> array as the library's dode_eps_callback. The
    first exception it raises is kept (the solve stops) and re-raised after the solve."""

    def __init__(self, fn, dim):
        self.fn, self.dim, self.error = fn, dim, None
        self.c = ffi.callback("int(void *, size_t, size_t, const double *, double, double, "
                              "double *)", self._call)

    def _call(self, user, n, dim, x, t, sigma, out):
        try:
            xv = np.frombuffer(ffi.buffer(x, n * dim * 8), dtype=np.float64).reshape(n, dim)
            xv.flags.writeable = False
            ov = np.frombuffer(ffi.buffer(out, n * dim * 8), dtype=np.float64).reshape(n, dim)
            y = np.asarray(self.fn(xv, t, sigma), dtype=np.float64)
            if y.shape != (n, dim):
                raise ValueError(f"model function returned shape {y.shape}, expected "
                                 f"({n}, {dim})")
            ov[...] = y
            return 0
        except BaseException as e:          # noqa: B036 - re-raised after the solve
            if self.error is None:
                self.error = e
            return -1


def _model(owned, model, dim, prediction):
    """A spec string, or a callable (then dim is needed); returns (dode_model*, callback)."""
    err = ffi.new("char[]", _ERRLEN)
    if isinstance(model, str):
        out = ffi.new("dode_model **")
        _check(lib.dode_model_from_spec(model.encode(), out, err, _ERRLEN), err)
        return owned.add(out[0], lib.dode_model_free), None
    if not callable(model):
        raise TypeError("model must be a spec string or a function eps(x, t, sigma)")
    if prediction not in _PREDICTIONS:
        raise ValueError(f"prediction must be one of {sorted(_PREDICTIONS)}, got {prediction!r}")
    if dim is None:
        raise ValueError("a model function needs dim= (or x_T=)")
    cb = _Callback(model, dim)
    name = getattr(model, "__name__", "python")
    m = lib.dode_model_from_callback(name.encode()[:63], dim, _PREDICTIONS[prediction], cb.c,
                                     ffi.NULL, err, _ERRLEN)
    if m == ffi.NULL:
        raise DiffodeError(lib.DODE_EINVAL, ffi.string(err).decode())
    return owned.add(m, lib.dode_model_free), cb


class Grid:
    """A time grid: sigma and t arrays of steps + 1 points (decreasing: sampling)."""

    def __init__(self, sigma, t):
        self.sigma, self.t = sigma, t
        self.steps = len(sigma) - 1

    def __repr__(self):
        return f"Grid(steps={self.steps}, sigma={self.sigma[0]:.6g} -> {self.sigma[-1]:.6g})"


def _make_grid(owned, sched, spacing, steps, t_max, t_min, rho, to_zero):
    err = ffi.new("char[]", _ERRLEN)
    go = ffi.new("dode_grid_opts *")
    lib.dode_grid_opts_init(go)
    sp = ffi.new("int *")
    _check(lib.dode_spacing_parse(spacing.encode(), sp, err, _ERRLEN), err)
    go.spacing = sp[0]
    if t_max is not None:
        go.t_max = t_max
    if t_min is not None:
        go.t_min = t_min
    go.rho = rho
    go.to_zero = int(bool(to_zero))
    g = ffi.new("dode_grid *")
    _check(lib.dode_grid_make(sched, go, steps, g, err, _ERRLEN), err)
    owned.add(g, lib.dode_grid_free)
    return g


def _steps(solver, nfe, steps):
    if (nfe is None) == (steps is None):
        raise ValueError("give exactly one of nfe= and steps=")
    if steps is not None:
        return int(steps)
    k = lib.dode_solver_steps_for_nfe(solver, int(nfe))
    if k == 0:
        warm = (f" + {solver.warmup_evals} of warm-up, at least {solver.min_steps} steps"
                if solver.warmup_evals or solver.min_steps > 1 else "")
        raise DiffodeError(lib.DODE_EINVAL, f"nfe {nfe} is less than one step of "
                           f"{_str(solver.name)} ({solver.evals_per_step} NFE per step{warm})")
    return k


def grid(schedule="ddpm-linear", spacing="logsnr", nfe=None, steps=None, solver="euler",
         t_max=None, t_min=None, rho=7.0, to_zero=False):
    """The grid a run of `solver` with this NFE budget (or number of steps) walks."""
    with _Owned() as owned:
        s = _solver(solver)
        g = _make_grid(owned, _schedule(owned, schedule), spacing, _steps(s, nfe, steps),
                       t_max, t_min, rho, to_zero)
        n = g.steps + 1
        sigma = np.frombuffer(ffi.buffer(g.sigma, n * 8), dtype=np.float64).copy()
        t = (np.frombuffer(ffi.buffer(g.t, n * 8), dtype=np.float64).copy()
             if g.t != ffi.NULL else None)
        return Grid(sigma, t)


class Run:
    """What a solve cost: nfe (model evaluations), steps, accepted and rejected steps (for
    adaptive solvers), seconds (the solve alone), sigma_end; with trajectory=True also
    sigma (points,) and xbar (points, n, dim), the ODE state x / a(sigma) at each point."""

    def __init__(self, stats, steps, trace=None):
        self.nfe, self.njac = stats.nfe, stats.njac
        self.accepted, self.rejected = stats.accepted, stats.rejected
        self.seconds, self.sigma_end, self.steps = stats.seconds, stats.sigma_end, steps
        self.sigma = self.xbar = None
        if trace is not None:
            self.sigma, self.xbar = trace

    def __repr__(self):
        return (f"Run(nfe={self.nfe}, steps={self.steps}, accepted={self.accepted}, "
                f"rejected={self.rejected}, seconds={self.seconds:.3g})")


def sample(model, schedule="ddpm-linear", solver="dpmpp2m", nfe=None, steps=None,
           spacing="logsnr", x_T=None, n=None, seed=0, dim=None, prediction="eps",
           t_max=None, t_min=None, rho=7.0, to_zero=False, trajectory=False, noise=None,
           **solver_options):
    """Solves the probability-flow ODE from x_T (n x dim; default n draws of N(0, I) from
    `seed`, exactly as `diffode sample --seed` draws them) and returns (x_0, Run).

    model: a spec string ("gaussian:dim=2", "gmm:FILE.json", "mlp:FILE.safetensors",
    "ideal:...") or a function eps(x, t, sigma) -> (n, dim) array giving the `prediction`
    ("eps", "x0", "v", "score" or "flow") for the rows x at noise level sigma and time t.
    nfe (default 20) or steps; solver_options are the rows of options().
    noise: the draws of stochastic solvers, a (draws, n, dim) array, slice k for draw k
    (docs/stochastic.md: step i takes draw i); default: the Philox draws of `seed`, the
    ones `diffode sample --seed` takes."""
    if nfe is None and steps is None:
        nfe = 20
    with _Owned() as owned:
        if x_T is not None:
            x_T = _array(x_T, "x_T")
            dim = x_T.shape[1] if dim is None else dim
        m, cb = _model(owned, model, dim, prediction)
        dim = m.dim
        sched = _schedule(owned, schedule)
        s = _solver(solver)
        o = _opts(owned, solver_options)
        g = _make_grid(owned, sched, spacing, _steps(s, nfe, steps), t_max, t_min, rho, to_zero)
        err = ffi.new("char[]", _ERRLEN)
        if noise is None:
            src = lib.dode_noise_new_seeded(seed, err, _ERRLEN)    # what `sample --seed` draws
        else:
            z = np.ascontiguousarray(noise, dtype=np.float64)
            if z.ndim != 3:
                raise ValueError(f"noise must be a (draws, n, dim) array, got shape "
                                 f"{np.shape(noise)}")
            src = lib.dode_noise_new_array(_ptr(z), *z.shape, err, _ERRLEN)
        if src == ffi.NULL:
            raise DiffodeError(lib.DODE_EINVAL, ffi.string(err).decode())
        owned.add(src, lib.dode_noise_free)
        lib.dode_solver_opts_set_noise(o, src)
        if x_T is None:
            n = 1 if n is None else int(n)
            x_T = np.empty((n, dim))
            _check(lib.dode_draw_x_T(seed, _ptr(x_T), x_T.size, err, _ERRLEN), err)
        elif x_T.shape[1] != dim:
            raise ValueError(f"x_T has {x_T.shape[1]} columns, the model has dim {dim}")
        n = x_T.shape[0]
        ode = lib.dode_ode_new(m, sched, n, err, _ERRLEN)
        if ode == ffi.NULL:
            raise DiffodeError(lib.DODE_ENOMEM, ffi.string(err).decode())
        owned.add(ode, lib.dode_ode_free)
        x_0 = np.empty_like(x_T)
        stats = ffi.new("dode_run_stats *")
        tr, keep = ffi.NULL, None
        if trajectory:
            cap = g.steps + 2 if not s.adaptive else 100001
            keep = (np.empty(cap), np.empty((cap, n, dim)))
            tr = ffi.new("dode_trace *", {"cap": cap, "sigma": _ptr(keep[0]),
                                          "xbar": _ptr(keep[1])})
        rc = lib.dode_sample(s, ode, g, o, _ptr(x_T), _ptr(x_0), tr, stats, err, _ERRLEN)
        if cb is not None and cb.error is not None:
            raise cb.error
        _check(rc, err)
        trace = None
        if trajectory:
            k = min(tr.count, tr.cap)
            trace = (keep[0][:k].copy(), keep[1][:k].copy())
        return x_0, Run(stats, g.steps, trace)


def _scale(sched, sigma, a, to_xbar):
    """x <-> xbar = x / a(sigma) in place, through the library's one conversion."""
    f = lib.dode_x_to_xbar if to_xbar else lib.dode_xbar_to_x
    f(sched, sigma, _ptr(a), _ptr(a), a.size)


def reference(model, schedule="ddpm-linear", x_T=None, n=None, seed=0, dim=None,
              prediction="eps", t_max=None, t_min=None, rtol=1e-12, atol=1e-12):
    """The reference solution from x_T at t_max to t_min (the schedule's range by default):
    the model's exact flow where it has one, else gsl:rk8pd at rtol / atol in log sigma.
    Returns (x_0, Run); run.exact says which was used."""
    with _Owned() as owned:
        if x_T is not None:
            x_T = _array(x_T, "x_T")
            dim = x_T.shape[1] if dim is None else dim
        m, cb = _model(owned, model, dim, prediction)
        sched = _schedule(owned, schedule)
        g = _make_grid(owned, sched, "logsnr", 1, t_max, t_min, 7.0, False)
        err = ffi.new("char[]", _ERRLEN)
        if x_T is None:
            x_T = np.empty((1 if n is None else int(n), m.dim))
            _check(lib.dode_draw_x_T(seed, _ptr(x_T), x_T.size, err, _ERRLEN), err)
        elif x_T.shape[1] != m.dim:
            raise ValueError(f"x_T has {x_T.shape[1]} columns, the model has dim {m.dim}")
        x = x_T.copy()
        _scale(sched, g.sigma[0], x, True)
        o = ffi.new("dode_reference_opts *")
        lib.dode_reference_opts_init(o)
        o.rtol, o.atol = rtol, atol
        stats, exact = ffi.new("dode_run_stats *"), ffi.new("int *")
        rc = lib.dode_reference(m, sched, x.shape[0], g.sigma[0], g.sigma[1], _ptr(x), _ptr(x),
                                o, stats, exact, err, _ERRLEN)
        if cb is not None and cb.error is not None:
            raise cb.error
        _check(rc, err)
        stats.sigma_end = g.sigma[1]
        _scale(sched, g.sigma[1], x, False)
        run = Run(stats, 1)
        run.exact = bool(exact[0])
        return x, run


# ---- metrics ----

def rmse(a, b):
    """Root mean square of a - b over every entry."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def observed_order(nfe, err):
    """The least-squares slope p of log err = c - p log nfe: the observed order."""
    nfe, err = np.asarray(nfe, dtype=np.float64), np.asarray(err, dtype=np.float64)
    if nfe.size < 2 or nfe.size != err.size or np.any(nfe <= 0) or np.any(err <= 0):
        raise ValueError("observed_order needs >= 2 positive (nfe, err) pairs")
    return float(-np.polyfit(np.log(nfe), np.log(err), 1)[0])
