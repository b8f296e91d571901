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


def view(address, shape, dtype, keep):
    """An array of `shape` and `dtype` at `address`, holding `keep` alive."""
    count = int(np.prod(shape)) if len(shape) else 1
    nbytes = count * np.dtype(dtype).itemsize
    if nbytes == 0:
        return np.zeros(shape, dtype)
    buf_type = type("_Buffer", (ctypes.c_uint8 * nbytes,), {})
    buf = buf_type.from_address(address)
    buf.keep = keep  # the buffer is the array's base; it holds the owner
    return np.frombuffer(buf, dtype=dtype, count=count).reshape(shape)


def address(p):
    """The address a ctypes pointer holds (0 for NULL)."""
    return ctypes.cast(p, ctypes.c_void_p).value or 0
