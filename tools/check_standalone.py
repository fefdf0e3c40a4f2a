#!/usr/bin/env python3
"""Checks that the repository stands alone (ctest: repo.standalone).

1. No tracked file names a path outside the repository: a source, script or CMake file that
   reads a sibling directory (../<name>), /work/..., or PP_SOURCE_DIR/CMAKE_SOURCE_DIR followed by "/.." would pass
   here and fail in a user's clone.
2. When run under tools/isolated (as `make test` does), every directory beside the repository
   is really hidden, so the whole test run just proved that it reads nothing outside.
   Outside tools/isolated the second part is skipped (exit 77, ctest's SKIP_RETURN_CODE).
"""
import os
import re
import subprocess
import sys

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
# The names are assembled so that this file does not itself contain the paths it forbids.
_SIBLING = "sha" + "red"
FORBIDDEN = [
    re.compile(r"\.\./" + _SIBLING + r"\b"),
    re.compile(r"/work/(" + _SIBLING + r"|main)\b"),
    re.compile(r'PP_SOURCE_DIR\s*"/\.\.'),
    re.compile(r"(CMAKE_SOURCE_DIR|PROJECT_SOURCE_DIR|CMAKE_CURRENT_SOURCE_DIR)\}/\.\./\.\."),
    re.compile(r"(CMAKE_SOURCE_DIR|PROJECT_SOURCE_DIR)\}/\.\."),
]
SKIP_SUFFIXES = (".pcap", ".golden", ".xml", ".json", ".png")


def tracked_files():
    try:
        out = subprocess.run(["git", "-C", REPO, "ls-files", "-z"], check=True,
                             capture_output=True).stdout
        return [os.path.join(REPO, p) for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for root, dirs, names in os.walk(REPO):
            dirs[:] = [d for d in dirs if not d.startswith((".", "build"))]
            files += [os.path.join(root, n) for n in names if not n.startswith(".")]
        return files


def static_scan():
    bad = []
    me = os.path.realpath(__file__)
    for path in tracked_files():
        if os.path.realpath(path) == me or path.endswith(SKIP_SUFFIXES):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.readlines()
        except (UnicodeDecodeError, OSError):
            continue
        for no, line in enumerate(lines, 1):
            for pat in FORBIDDEN:
                if pat.search(line):
                    bad.append(f"{os.path.relpath(path, REPO)}:{no}: names a path outside the "
                               f"repository: {line.strip()[:120]}")
    return bad


def main():
    bad = static_scan()
    for b in bad:
        print(b)
    if bad:
        print(f"repo.standalone: {len(bad)} reference(s) outside the repository")
        return 1
    print("repo.standalone: no tracked file names a path outside the repository")
    if os.environ.get("PP_ISOLATED") != "1":
        print("repo.standalone: not run under tools/isolated; sibling directories not hidden")
        return 77
    parent = os.environ["PP_ISOLATED_PARENT"]
    # Only what existed when tools/isolated started: directories made later are the test
    # run's own (the parent is /tmp for a clone made with mktemp -d).
    seen = set(os.environ.get("PP_ISOLATED_SEEN", "").split("/")) - {""}
    visible = []
    for name in sorted(seen & set(os.listdir(parent))):
        path = os.path.join(parent, name)
        if name.startswith(".") or not os.path.isdir(path) or os.path.islink(path):
            continue
        if os.path.realpath(path) == REPO:
            continue
        if os.listdir(path):
            visible.append(path)
    if visible:
        print("repo.standalone: directories beside the repository are still visible: "
              + ", ".join(visible))
        return 1
    print(f"repo.standalone: every directory beside the repository in {parent} is hidden "
          "for this test run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
