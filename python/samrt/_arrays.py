"""NumPy arrays over memory the library allocated, without copying: the arrays keep the
C object alive and it is freed with the last of them."""

import ctypes

import numpy as np


class _Owner:
    """Frees one C object (with `free`) when the last array made from it goes away."""

    def __init__(self, ptr, free):
        self.ptr, self.free = ptr, free

    def __del__(self):
        if self.ptr:
            self.free(self.ptr)
            self.ptr = None


def owner(ptr, free):
    return _Owner(ptr, free)


class _Memory:
    """Library memory described to NumPy (its array interface); the arrays made from it
    hold it, and it holds the owner."""

    __slots__ = ("__array_interface__", "keep")

    def __init__(self, address, shape, typestr, keep):
        self.__array_interface__ = {"data": (address, False), "shape": shape, "typestr": typestr, "version": 3}
        self.keep = keep


def view(address, shape, dtype, keep):
    """An array of `shape` and `dtype` at `address`, holding `keep` alive."""
    dtype = np.dtype(dtype)
    shape = tuple(int(d) for d in shape)
    if 0 in shape:
        return np.zeros(shape, dtype)
    if not address:
        raise RuntimeError("samrt: the library returned no data for a %s array" % (shape,))
    return np.asarray(_Memory(address, shape, dtype.str, keep))


def address(p):
    """The address a ctypes pointer holds (0 for NULL)."""
    return ctypes.cast(p, ctypes.c_void_p).value or 0
