#!/usr/bin/env python3
"""Finds modules of one crate that import each other in a circle, and imports that point
up the layers of `api` (issue 14).

For every crate of the workspace, each top-level module (a file or folder under src/)
is a node; `crate::x` (or `super::x` from a top-level module's child) names an edge to
module `x`. A strongly connected component of more than one module is a circle. Circles
listed in KNOWN are being taken apart (issue 14) and only reported; any other fails.

The layers of `api` (LAYERS): `startup` wires everything; `http` (handlers) calls the
application layer only; `application` (the use cases) uses the store; `store` knows
neither; the foundations (the pure hash chain, metadata keys, metrics, settings, the
shipped reference files) import nothing of the crate's. An import must point to a lower
layer; a top-level module without a layer fails too, so that a new one is placed.
Exit status: 0 when no new circle and no import up the layers, 1 otherwise.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CRATES = ["events", "commands", "aggregates", "projections", "api", "bench", "cli"]
# Circles being taken apart, by crate (a list of sets of module names): reported, not
# failed. Empty since issue 14 took the last ones apart; keep it so.
KNOWN: dict = {}
# The layers of a crate, highest first by rank; an import goes from a higher rank to a
# lower one, never sideways or up, and never across a pair listed in SKIPS.
LAYERS = {
    "api": {
        "startup": 4,
        "http": 3,
        "application": 2,
        "store": 1,
        "hash_chain": 0,
        "event_metadata": 0,
        "metrics": 0,
        "settings": 0,
        "reference_files": 0,
    },
}
# Imports that would skip the layer between: handlers reach the store only through the
# application layer.
SKIPS = {"api": {("http", "store")}}


def top_modules(src):
    modules = set()
    for name in os.listdir(src):
        if name.endswith(".rs") and name not in ("lib.rs", "main.rs"):
            modules.add(name[:-3])
        elif os.path.isdir(os.path.join(src, name)):
            modules.add(name)
    return modules


def module_of(src, path):
    rel = os.path.relpath(path, src).split(os.sep)
    if len(rel) == 1:
        return None if rel[0] in ("lib.rs", "main.rs") else rel[0][:-3]
    return rel[0]


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def without_test_modules(text):
    """Test modules may reach anywhere; only the shipped code counts. Each
    `#[cfg(test)] mod name { ... }` is cut out, braces matched (strings are rare enough
    in these files not to unbalance them)."""
    while True:
        found = re.search(r"#\[cfg\(test\)\]\s*mod\s+[a-z_]+\s*\{", text)
        if not found:
            return text
        depth, end = 0, len(text)
        for i in range(found.end() - 1, len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    end = i + 1
                    break
        text = text[: found.start()] + text[end:]


def edges(crate):
    src = os.path.join(ROOT, crate, "src")
    modules = top_modules(src)
    graph = {m: set() for m in modules}
    for folder, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            here = module_of(src, path)
            if here is None:
                continue
            text = strip_comments(open(path, encoding="utf-8").read())
            text = without_test_modules(text)
            for target in re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", text):
                if target in modules and target != here:
                    graph[here].add(target)
            for block in re.findall(r"\buse\s+crate::\{([^;]*)\}", text, flags=re.S):
                for target in re.findall(r"(?:^|[,{\s])([a-z_][a-z0-9_]*)\s*(?:::|,|\}|$)", block):
                    if target in modules and target != here:
                        graph[here].add(target)
    return graph


def circles(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def layer_violations(crate, graph):
    ranks = LAYERS.get(crate)
    if ranks is None:
        return []
    out = []
    for here in sorted(graph):
        if here not in ranks:
            out.append(f"{crate}: module `{here}` has no layer (add it to LAYERS)")
            continue
        for target in sorted(graph[here]):
            if target not in ranks:
                continue  # reported as its own module
            if ranks[here] <= ranks[target] or (here, target) in SKIPS.get(crate, set()):
                out.append(f"{crate}: `{here}` imports `{target}`, against the layers")
    return out


def main():
    failed = False
    layered = True
    for crate in CRATES:
        graph = edges(crate)
        for violation in layer_violations(crate, graph):
            print(violation)
            layered = False
        for component in circles(graph):
            known = any(component <= k for k in KNOWN.get(crate, []))
            label = "known (issue 14)" if known else "NEW"
            print(f"{crate}: modules in a circle ({label}): {', '.join(sorted(component))}")
            failed |= not known
    if layered:
        print("module layers: every import points down")
    else:
        print("module layers: an import points up or across; see above")
    if failed:
        print("module circles: a new circle; make the dependency point one way")
        return 1
    print("module circles: no new circle")
    return 0 if layered else 1


if __name__ == "__main__":
    sys.exit(main())
