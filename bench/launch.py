"""Run a module as ``__main__`` after raising the open-files limit: ``python -m bench.launch MODULE ARGS...``.

Every process the benchmark starts goes through this, so that 2,000 streams (a client socket and an
upstream socket each) never hit ``EMFILE``.
"""

from __future__ import annotations

import resource
import runpy
import sys

WANTED_FILES = 65536


def raise_fd_limit(wanted: int = WANTED_FILES) -> int:
    """Raise RLIMIT_NOFILE to ``wanted`` (the hard limit too when allowed); returns the soft limit now in force."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    for limits in ((wanted, max(wanted, hard)), (min(wanted, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m bench.launch MODULE [ARGS...]")
    raise_fd_limit()
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
