"""Installs the samrt package with the C library it wraps: libsamrt.so and the graphs are
copied from a built source tree (../build, or $SAMRT_BUILD_DIR) into the package, where
samrt/_lib.py looks first, so the installed package needs no other sam-rt files."""

import glob
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class build_with_library(build_py):
    def run(self):
        super().run()
        build = os.environ.get("SAMRT_BUILD_DIR") or os.path.join(HERE, "..", "build")
        libs = sorted(glob.glob(os.path.join(build, "lib", "libsamrt.so.*.*.*")))
        graphs = os.path.join(HERE, "..", "graphs")
        if not libs or not os.path.isdir(graphs):
            raise SystemExit("samrt: build the library first (cmake -S . -B build && cmake --build build), or set SAMRT_BUILD_DIR; "
                             "looked for %s/lib/libsamrt.so.*" % build)
        package = os.path.join(self.build_lib, "samrt")
        os.makedirs(os.path.join(package, "lib"), exist_ok=True)
        shutil.copy2(libs[-1], os.path.join(package, "lib", "libsamrt.so"))
        target = os.path.join(package, "share", "sam-rt", "graphs")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(graphs, target)


setup(cmdclass={"build_py": build_with_library})
