#!/usr/bin/env python3
"""make_corpus.py - writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<parser>/):
small valid files of every accepted form and near-valid ones that stop at each check.
Standard library only; the output is committed, so the fuzz run does not need Python.
    python3 tests/fuzz/make_corpus.py"""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(parser, name, data):
    d = os.path.join(HERE, "corpus", parser)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def npy(dict_text, payload, major=1, align=64):
    pre = 10 if major == 1 else 12
    total = (pre + len(dict_text) + 1 + align - 1) // align * align
    hlen = total - pre
    head = b"\x93NUMPY" + bytes([major, 0])
    head += struct.pack("<H" if major == 1 else "<I", hlen)
    return head + (dict_text + " " * (hlen - len(dict_text) - 1) + "\n").encode() + payload


def npy_corpus():
    f8 = struct.pack("<4d", 1.0, -2.5, 3.25, 1e-300)
    put("npy", "f8_2x2", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", f8))
    put("npy", "f4_3_v2", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                              struct.pack("<3f", 0.5, -1, 7), major=2))
    put("npy", "f8_1x1_v3_align16", npy("{\"descr\":\"=f8\",\"shape\":(1L,1L),\"fortran_order\":False}",
                                        struct.pack("<d", 2.0), major=3, align=16))
    put("npy", "fortran", npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", f8))
    put("npy", "big_endian", npy("{'descr': '>f8', 'fortran_order': False, 'shape': (4,), }", f8))
    put("npy", "truncated", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", f8))
    put("npy", "huge_shape", npy("{'descr': '<f8', 'fortran_order': False, "
                                 "'shape': (1000000000000, 2), }", f8))
    put("npy", "trailing", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
                               f8))
    put("npy", "three_dims", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 2), }", f8))


def gmm_corpus():
    put("gmm_json", "iso", '{"weights":[0.5,0.3,0.2],"means":[[-1.5,0],[1.5,0.5],[0,2]],'
                           '"stds":[0.3,0.5,0.2]}')
    put("gmm_json", "diag", '{"weights":[1,2],"means":[[0,0,1],[1,1,1]],'
                            '"diag_stds":[[1,2,0.5],[0.1,1,1]]}')
    put("gmm_json", "full", '{"weights":[1],"means":[[0,1]],"covs":[[[2,0.5],[0.5,1]]]}')
    put("gmm_json", "not_spd", '{"weights":[1],"means":[[0,1]],"covs":[[[1,2],[2,1]]]}')
    put("gmm_json", "ragged", '{"weights":[1,1],"means":[[0,1],[2]],"stds":[1,1]}')
    put("gmm_json", "two_covs", '{"weights":[1],"means":[[0]],"stds":[1],"diag_stds":[[1]]}')
    put("gmm_json", "syntax", '{"weights":[1,],"means":[[0]],\n"stds":[1e999]}')
    # issue 18: a cJSON tree built before any key is checked (scaled down to -max_len)
    put("gmm_json", "bogus_zeros", '{"bogus":[' + ",".join(["0"] * 1500) + "]}")
    put("gmm_json", "subnormal_std", '{"weights":[1],"means":[[0]],"stds":[5e-324]}')


EXP = "[experiment]\nname = fz\nsamples = 4\nseeds = 0, 1\nreference = auto\n"
MODEL = "[model g]\nspec = gaussian:dim=2,mean=0.5,std=0.8\n"


def config_corpus():
    put("config", "minimal", EXP + MODEL + "[sweep]\nschedules = ddpm-linear\n"
        "solvers = euler\nnfe = 4\n")
    put("config", "full", EXP + "t_max = 0.9\nt_min = 0.01\ntrajectory = yes\nbaseline = heun\n"
        "true_samples = 16\nprojections = 4\norder_nfe_min = 8\norder_floor = 1e-12\n"
        "ref_rtol = 1e-10\nref_atol = 1e-10\n" + MODEL +
        "[model h]\nspec = gaussian:dim=1\n"
        "[solver heun-l]\nbase = heun\nvariable = lambda\n"
        "[solver d3]\nbase = dpm3m\nd2 = taylor\nlower_order_final = no\n"
        "[solver ad]\nbase = dpm-adaptive12\nrtol = 1e-3\natol = 1e-4\n"
        "[solver dd]\nbase = ddim\neta = 0.5\n"
        "[sweep]\nmodels = g, h\nschedules = ddpm-linear, vp-cosine, edm\n"
        "spacings = logsnr, karras, uniform-t\nsolvers = euler, heun, heun-l, d3, ad, dd, "
        "unipc2, gsl:rk4\nnfe = 4, 8, 16\nto_zero = no\nrho = 7\n")
    put("config", "continued", EXP + MODEL + "[sweep]\nschedules = vp-linear\n"
        "solvers = euler, heun,\n    rk4   ; comment\nnfe = 3\n")
    put("config", "unknown_key", EXP + MODEL + "[sweep]\nschedules = ddpm-linear\n"
        "solver = euler\nnfe = 4\n")
    put("config", "bad_number", EXP + MODEL + "[sweep]\nschedules = ddpm-linear\n"
        "solvers = euler\nnfe = 4, x\n")
    put("config", "gmm_spec", EXP + "[model m]\nspec = gmm:missing.json\n[sweep]\n"
        "schedules = ddpm-cosine\nsolvers = dpmpp2m\nnfe = 10\n")
    # issue 18: counts beyond limits.h, a subnormal, sigma overflowing x_T, 300 sections
    put("config", "nfe_huge", EXP + MODEL + "[sweep]\nschedules = ddpm-linear\n"
        "solvers = euler\nnfe = 1000000000\n")
    put("config", "t_min_subnormal", EXP + "t_min = 5e-324\n" + MODEL +
        "[sweep]\nschedules = ddpm-linear\nsolvers = euler\nnfe = 4\n")
    put("config", "edm_t_max_huge", EXP + "t_max = 1e300\n" + MODEL +
        "[sweep]\nschedules = edm\nsolvers = euler\nnfe = 4\n")
    put("config", "many_sections", "".join("[model m%d]\n" % i for i in range(300)))


def safetensors(tensors, meta, dtype="F32"):
    """tensors: list of (name, shape, values); little-endian data, offsets in order."""
    header, data = {}, b""
    fmt = "<%d" + ("f" if dtype == "F32" else "d")
    for name, shape, values in tensors:
        raw = struct.pack(fmt % len(values), *values)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if meta is not None:
        header["__metadata__"] = meta
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def raw_safetensors(offsets, dlen):
    """Two-F32 tensors at the given data_offsets over dlen bytes of data."""
    header = {n: {"dtype": "F32", "shape": [(o[1] - o[0]) // 4], "data_offsets": o}
              for n, o in offsets.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + bytes(dlen)


def safetensors_corpus():
    meta = {"diffode_arch": "mlp", "dim": "2", "temb": "2", "widths": "3",
            "schedule": "ddpm-linear"}
    mlp = [("layers.0.weight", [3, 4], [0.1 * i for i in range(12)]),
           ("layers.0.bias", [3], [0.0, 0.5, -0.5]),
           ("layers.2.weight", [2, 3], [0.2 * i - 0.5 for i in range(6)]),
           ("layers.2.bias", [2], [1.0, -1.0])]
    put("safetensors", "mlp_f32", safetensors(mlp, meta))
    put("safetensors", "mlp_f64_x0", safetensors(mlp, dict(meta, prediction="x0"), "F64"))
    put("safetensors", "scalar_and_meta", safetensors([("s", [], [3.0])], {"k": "v"}))
    put("safetensors", "no_meta", safetensors([("a", [2, 1], [1.0, 2.0])], None, "F64"))
    put("safetensors", "mlp_wrong_width", safetensors(mlp, dict(meta, widths="4,4")))
    put("safetensors", "empty_header", struct.pack("<Q", 2) + b"{}")
    put("safetensors", "huge_header", struct.pack("<Q", 1 << 40) + b"{}")
    # issue 18: the data buffer must be covered exactly
    put("safetensors", "overlap", raw_safetensors({"a": [0, 8], "b": [4, 12]}, 12))
    put("safetensors", "all_at_zero", raw_safetensors({"a": [0, 8], "b": [0, 8]}, 8))
    put("safetensors", "gap", raw_safetensors({"a": [0, 8], "b": [12, 20]}, 20))
    put("safetensors", "trailing", safetensors([("a", [2, 1], [1.0, 2.0])], None, "F64")
        + b"\0" * 5)


def idx(dtype_code, dims, payload):
    return bytes([0, 0, dtype_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def idx_corpus():
    put("idx", "images_u8", idx(0x08, [2, 2, 3], bytes(range(12))))
    put("idx", "labels_u8", idx(0x08, [3], bytes([1, 7, 9])))
    put("idx", "images_f64", idx(0x0E, [1, 2], struct.pack(">2d", 0.5, -1)))
    put("idx", "five_dims", idx(0x08, [1, 1, 1, 1, 2], bytes(2)))
    put("idx", "truncated", idx(0x08, [4, 28, 28], bytes(10)))
    put("idx", "huge_dims", idx(0x08, [4000000000, 60000, 60000], b""))
    put("idx", "bad_type", idx(0x07, [2], b"\0\0"))
    put("idx", "images_u8.gz", gzip.compress(idx(0x08, [3, 2, 2], bytes(range(0, 240, 20))),
                                             mtime=0))
    put("idx", "truncated.gz", gzip.compress(idx(0x08, [5, 1], bytes(3)), mtime=0)[:-6])
    # issue 18: a gzip bomb (2^30 values claimed, 64 KiB present) and trailing bytes
    put("idx", "bomb.gz", gzip.compress(idx(0x08, [16384, 256, 256], bytes(1 << 16)),
                                        mtime=0))
    put("idx", "trailing", idx(0x08, [2, 3], bytes(6 + 5)))
    put("idx", "trailing.gz", gzip.compress(idx(0x08, [2, 3], bytes(6 + 5)), mtime=0))


if __name__ == "__main__":
    npy_corpus()
    gmm_corpus()
    config_corpus()
    safetensors_corpus()
    idx_corpus()
