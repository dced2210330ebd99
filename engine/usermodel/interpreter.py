"""--python PATH: the user's own Python (their course's environment, with matplotlib, h5py and
the like), checked before the model's process is started in it.

The model's process needs only NumPy and this stepper's engine package, which it imports
from the stepper's own folder (engine.usermodel.client puts that folder on its sys.path), so
any Python 3.11 or later with NumPy will do. The engine's code is written for 3.11 (and the
process is started with -P, which 3.11 brought), hence the version's floor. One short run of
the interpreter tells both, so a wrong path fails here with one clear line instead of as a
process that ends before it answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from engine.usermodel.contract import ModelError

MIN_VERSION = (3, 11)
#: Prints the version, then imports NumPy: a missing NumPy fails after the first line.
PROBE = "import sys; print(*sys.version_info[:3]); import numpy; print(numpy.__version__)"
PROBE_TIMEOUT = 120.0  # seconds: a busy machine may take long to import NumPy


def check_python(python: str) -> str:
    """The interpreter's path (absolute, its symbolic links kept: a virtual environment's
    python is one), once it is shown to run Python 3.11 or later with NumPy; ModelError
    naming what is wrong otherwise."""
    found = os.path.abspath(python) if os.sep in python else shutil.which(python)
    if found is None or not os.path.isfile(found):
        raise ModelError(f"--python {python}: no such program")
    if not os.access(found, os.X_OK):
        raise ModelError(f"--python {python}: not executable")
    try:
        done = subprocess.run([found, "-c", PROBE], capture_output=True, text=True, timeout=PROBE_TIMEOUT,
                              stdin=subprocess.DEVNULL, check=False)
    except OSError as error:
        raise ModelError(f"--python {python}: cannot be run: {error.strerror}") from None
    except subprocess.TimeoutExpired:
        raise ModelError(f"--python {python}: did not answer within {PROBE_TIMEOUT:g} s") from None
    lines = done.stdout.splitlines()
    version = tuple(int(part) for part in lines[0].split()) if lines and _whole(lines[0]) else ()
    if len(version) != 3:
        said = (done.stderr.strip().splitlines() or ["nothing"])[-1][:120]
        raise ModelError(f"--python {python} does not run as Python 3 (it said: {said})")
    shown = ".".join(map(str, version))
    if version < MIN_VERSION:
        raise ModelError(f"--python {python} is Python {shown}; your model's process needs Python "
                         f"{'.'.join(map(str, MIN_VERSION))} or later, with NumPy")
    if done.returncode != 0 or len(lines) < 2:
        raise ModelError(f"--python {python} (Python {shown}) has no NumPy, which your model's process "
                         f"needs: install it there ({found} -m pip install numpy)")
    return found


def _whole(line: str) -> bool:
    return all(part.isdigit() for part in line.split())
