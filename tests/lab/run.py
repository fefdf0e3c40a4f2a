#!/usr/bin/python3
"""Runs one lab test module (tests/lab/<name>.py) for ctest.

Exit 77 (ctest: skipped) when this machine cannot run the lab at all (not root, strongSwan or
iptables missing); exit 1 when a binary the tests need was not built, or a test fails.
"""
import os
import shutil
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def why_skip():
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not os.access("/usr/lib/ipsec/charon", os.X_OK) or shutil.which("swanctl") is None:
        return "strongSwan is not installed (tools/deps.sh)"
    if shutil.which("iptables") is None:
        return "iptables is not installed (tools/deps.sh)"
    return None


def main(argv):
    if len(argv) != 2:
        print("usage: run.py TEST_MODULE", file=sys.stderr)
        return 2
    module = argv[1]
    why = why_skip()
    if why:
        print(f"SKIP {module}: {why}")
        return 77
    from lab_test_util import labctl  # puts lab/ on sys.path
    needed = [labctl.traffic_bin(), os.path.join(labctl.build_dir(), "lab", "pp-nfq-delay")]
    if module != "lab_scripts_test":
        needed.append(labctl.pathpilot_bin())
    for binary in needed:
        if not os.access(binary, os.X_OK):
            print(f"FAIL {module}: {binary} is not built (PP_BUILD_DIR={labctl.build_dir()})")
            return 1
    suite = unittest.defaultTestLoader.loadTestsFromName(module)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
