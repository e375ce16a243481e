"""The package's imports go one way: no module of tfbert reaches, directly or through others, back to itself.

Every import counts, at module level or inside a function (a lazy import is still a dependency),
and so do ``importlib.import_module("tfbert....")`` calls with a constant name. A package's
``__init__.py`` running before its submodules is Python's doing, not an edge.

The same holds between packages (``tfbert.data.*`` as one), the rows of docs/architecture.md.
Run it as a script to see the modules and the packages in layer order (lowest first) and any cycle:

    python tests/test_import_layers.py
"""

import ast
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tfbert")


def module_files(root=ROOT):
    """``{module name: file}`` of every module of the package."""
    files = {}
    base = os.path.dirname(os.path.abspath(root))
    for folder, _, names in os.walk(root):
        for name in names:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, base)[:-3].split(os.sep)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join(parts)] = path
    return files


def _lazy_exports(init_file):
    """The top package's ``_EXPORTS`` table (public name -> module), read from its source."""
    tree = ast.parse(open(init_file, encoding="utf-8").read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def import_graph(root=ROOT, dynamic=None):
    """``{module: set of tfbert modules it imports}``.

    ``dynamic``: a list that receives ``(module, line)`` of each ``import_module`` call whose name
    is not a constant (which no reading of the source can follow), the top package's lazy
    ``_EXPORTS`` table excepted."""
    files = module_files(root)
    top = os.path.basename(os.path.abspath(root))
    exports = _lazy_exports(files[top])

    def target(module, name=None):
        """The module an import of ``module`` (``from module import name``) runs."""
        if name is not None:
            if f"{module}.{name}" in files:
                return f"{module}.{name}"
            if module == top and name in exports:
                return exports[name]
        return module if module in files else None

    graph = {}
    for module, path in files.items():
        edges = set()
        package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
            found = []
            if isinstance(node, ast.Import):
                found = [target(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([source] if source else []))
                found = [target(source, alias.name) for alias in node.names]
            elif (isinstance(node, ast.Call) and node.args
                  and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"):
                if isinstance(node.args[0], ast.Constant):
                    found = [target(node.args[0].value)]
                elif dynamic is not None and module != top:
                    dynamic.append((module, node.lineno))
            edges.update(t for t in found if t and t != module)
        graph[module] = edges
    return graph


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []
    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def package_graph(graph):
    """The graph between packages and top-level modules (``tfbert.data.ner`` counts as ``tfbert.data``)."""
    def package(module):
        return ".".join(module.split(".")[:2])

    packages = {}
    for module, edges in graph.items():
        packages.setdefault(package(module), set()).update(package(e) for e in edges if package(e) != package(module))
    return packages


def layer_order(graph):
    """Modules, lowest first: each after everything it imports (ties by name)."""
    depth = {}

    def level(node, seen=()):
        if node not in depth:
            below = [level(n, seen + (node,)) for n in graph[node] if n not in seen]
            depth[node] = 1 + max(below, default=-1)
        return depth[node]

    return sorted(graph, key=lambda m: (level(m), m))


def test_the_package_has_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles (each line: modules that import one another):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_the_packages_have_no_import_cycle():
    found = cycles(package_graph(import_graph()))
    assert not found, "packages that import one another: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_import_the_checker_cannot_follow():
    dynamic = []
    import_graph(dynamic=dynamic)
    assert not dynamic, f"import_module with a computed name (module, line): {dynamic}; import the module by name"


def test_the_checker_sees_lazy_and_importlib_imports(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("_EXPORTS = {'Thing': 'pkg.b'}\n")
    (package / "a.py").write_text("def f():\n    from pkg import Thing\n")
    (package / "b.py").write_text("import importlib\nimportlib.import_module('pkg.sub.c')\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "c.py").write_text("from .. import a\n")
    graph = import_graph(str(package))
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.sub.c"} and graph["pkg.sub.c"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]
    (package / "d.py").write_text("import importlib\nname = 'pkg.a'\nimportlib.import_module(name)\n")
    dynamic = []
    import_graph(str(package), dynamic=dynamic)
    assert dynamic == [("pkg.d", 3)]


if __name__ == "__main__":
    graph = import_graph()
    for module in layer_order(graph):
        print(module, "->", ", ".join(sorted(graph[module])) or "-")
    print("\npackages, lowest first:")
    packages = package_graph(graph)
    for package in layer_order(packages):
        print(package, "->", ", ".join(sorted(packages[package])) or "-")
    found = cycles(graph) + cycles(packages)
    print("cycles:", found or "none")
    sys.exit(1 if found else 0)
