"""Test aids: the golden data's synthetic mask predictors (../shared/golden/README.md), a
closed form of the prompt point in place of the network, so that the generator can be
checked against the official one on any image. Pass an Oracle where a model goes:
SamAutomaticMaskGenerator(Oracle("sam"), ...)."""

import ctypes

from . import _lib


class Oracle:
    def __init__(self, family="sam"):
        self.family = family
        self._source = _lib.MaskSource()
        _lib.call(_lib.sam_oracle_create, family.encode(), ctypes.byref(self._source))

    def _mask_source(self):
        return self._source

    def __del__(self):
        if getattr(self, "_source", None) is not None:
            _lib.sam_oracle_free(ctypes.byref(self._source))
            self._source = None
