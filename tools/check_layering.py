#!/usr/bin/env python3
"""Checks the module layering of src/ (ctest: repo.layering).

Each folder under src/ is one module (docs/architecture.md, "Modules"). This test fails when:
  1. a module includes another module's private code (`#include "<other>/detail/..."`);
  2. a module includes a module it does not depend on in its CMakeLists.txt (pp_module DEPS or
     PRIVATE_DEPS, followed transitively): an include edge the build graph does not show;
  3. the declared dependencies form a cycle, or go against the layer order below (a lower layer
     depending on a higher one).
The module list and the edges come from the tree itself, so a new module only needs its
CMakeLists.txt and a line in LAYERS.
"""
import os
import re
import sys

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
SRC = os.path.join(ROOT, "src")
# Layers, bottom first (docs/architecture.md): a module may depend on modules of lower layers
# and of its own layer (declared explicitly), never on higher ones.
LAYERS = [
    ["base"],
    ["runtime", "config", "health", "policy", "metrics", "http", "httpserver", "bfd"],
    ["probe", "route", "aws", "journal", "recovery", "alert", "api", "agent", "ha"],
    ["daemon"],
    ["cli"],
]
LAYER_OF = {m: i for i, layer in enumerate(LAYERS) for m in layer}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([^"]+)"')


def declared_deps():
    deps = {}
    for module in sorted(os.listdir(SRC)):
        cmake = os.path.join(SRC, module, "CMakeLists.txt")
        if not os.path.isfile(cmake):
            continue
        text = open(cmake).read()
        m = re.search(r"pp_module\(\s*" + module + r"\b(.*?)\)", text, re.S)
        names = set()
        if m:
            for word in re.findall(r"[A-Za-z_:.-]+", m.group(1)):
                if word in LAYER_OF and word != module:
                    names.add(word)
                elif word.startswith("pathpilot::") and word[11:] in LAYER_OF:
                    names.add(word[11:])
        else:  # cli: links every module
            names = set(LAYER_OF) - {module}
        deps[module] = names
    return deps


def closure(deps):
    out = {}
    for m in deps:
        seen, stack = set(), list(deps[m])
        while stack:
            d = stack.pop()
            if d in seen:
                continue
            seen.add(d)
            stack.extend(deps.get(d, ()))
        out[m] = seen
    return out


def main():
    problems = []
    deps = declared_deps()
    for m in deps:
        if m not in LAYER_OF:
            problems.append(f"src/{m}: module missing from LAYERS in tools/check_layering.py")
    reach = closure(deps)
    for m, ds in deps.items():
        if m in reach[m]:
            problems.append(f"src/{m}/CMakeLists.txt: dependency cycle through {m}")
        for d in ds:
            if m in LAYER_OF and d in LAYER_OF and LAYER_OF[d] > LAYER_OF[m]:
                problems.append(f"src/{m}/CMakeLists.txt: {m} (layer {LAYER_OF[m]}) depends on "
                                f"{d} (layer {LAYER_OF[d]}), against the layering")
    for m in deps:
        for dirpath, _, files in os.walk(os.path.join(SRC, m)):
            for name in files:
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, ROOT)
                for no, line in enumerate(open(path, encoding="utf-8"), 1):
                    inc = INCLUDE.match(line)
                    if not inc or inc.group(1) not in deps:
                        continue
                    target, rest = inc.group(1), inc.group(2)
                    if target == m:
                        continue
                    if rest.startswith("detail/") or "/detail/" in rest:
                        problems.append(f"{rel}:{no}: includes {target}'s private {target}/{rest}")
                    if target not in reach[m]:
                        problems.append(f"{rel}:{no}: includes {target}/{rest}, but {m} does not "
                                        f"depend on {target} (src/{m}/CMakeLists.txt)")
    for p in problems:
        print(p)
    if problems:
        print(f"repo.layering: {len(problems)} problem(s)")
        return 1
    print(f"repo.layering: {len(deps)} modules, {sum(len(d) for d in deps.values())} declared "
          "dependencies, every include edge follows them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
