"""npy_f64.py - the float64, C-order .npy files diffode writes (dode_npy_write), read with
the standard library alone, for the plots/ scripts that run without NumPy."""
import struct
from array import array


def load_f64(path):
    """The values of the file, flat (row after row), as an array('d')."""
    with open(path, "rb") as f:
        assert f.read(6) == b"\x93NUMPY", path
        major = f.read(2)[0]
        hlen = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        header = f.read(hlen).decode()
        assert "'<f8'" in header and "False" in header, header
        a = array("d")
        a.frombytes(f.read())
    return a
