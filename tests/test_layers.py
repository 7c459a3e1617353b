"""The layer contract: each part of minidl imports only from the layers below it.

    leaf utilities (course, threads, random, hooks, files) → backend → kernels → engine
    → distributed → nn, optim → data, compress, search, train, compiler (and serialization, viz, perf)
    → tour, cli, myths, ddp, course_checks

Checked over the source's syntax tree, so an import inside a function counts as much as one
at the top of a file (a kernel that needs a formula receives it from above; it never imports
it, not even late). ``make lint`` runs this test, and so does ``make test``. Each part may
import its own layer and the ones below; ``minidl/__init__.py`` and ``__main__.py`` are the
front door and import everything.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

LAYERS: list[tuple[str, ...]] = [
    ("course", "threads", "random", "hooks", "files"),  # leaf utilities: none imports a layer of minidl
    ("backend",),
    ("kernels",),
    ("engine", "autograd"),  # minidl.autograd: PyTorch's torch.autograd names for the engine's switches
    ("distributed",),  # the MPI process group and collectives; nn.parallel builds on it
    ("nn", "optim"),
    ("data", "compress", "search", "train", "compiler", "serialization", "viz", "perf"),
    ("tour", "cli", "myths", "ddp", "course_checks"),
]
FRONT_DOOR = {"__init__", "__main__"}

# Upward imports known and being removed elsewhere: (file, imported module) -> why.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}

ROOT = pathlib.Path(__file__).resolve().parent.parent / "minidl"
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _part(module: str) -> str | None:
    """The top-level part of minidl a dotted module name belongs to (None: not minidl's)."""
    parts = module.split(".")
    if parts[0] != "minidl":
        return None
    return parts[1] if len(parts) > 1 else ""


def _imports(path: pathlib.Path, source: str | None = None) -> list[tuple[int, str]]:
    """Every module ``path`` (or ``source``, as if it were that file) imports, anywhere, with its line."""
    package = ["minidl", *path.relative_to(ROOT).with_suffix("").parts]
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this file's package
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module == "minidl":  # `from minidl import optim` imports the part minidl.optim
                found += [(node.lineno, f"minidl.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, module))
    return found


def _violations() -> list[str]:
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        own = rel.with_suffix("").parts[0]
        if own in FRONT_DOOR:
            continue
        for line, module in _imports(path):
            target = _part(module)
            if target is None or target not in RANK:
                continue
            if RANK[target] > RANK[own] and (rel.as_posix(), module) not in KNOWN_EXCEPTIONS:
                bad.append(f"minidl/{rel.as_posix()}:{line} ({own}) imports {module} ({target}, a layer above)")
    return bad


def test_every_part_of_minidl_has_a_layer() -> None:
    parts = {p.stem if p.is_file() else p.name for p in ROOT.iterdir()
             if (p.is_file() and p.suffix == ".py") or (p.is_dir() and (p / "__init__.py").exists())}
    missing = sorted(parts - set(RANK) - FRONT_DOOR)
    assert not missing, f"place these parts of minidl in LAYERS (tests/test_layers.py): {missing}"


def test_no_module_imports_from_a_layer_above_it() -> None:
    bad = _violations()
    assert not bad, "upward imports (see the contract in tests/test_layers.py):\n" + "\n".join(bad)


def test_the_known_exceptions_still_exist() -> None:
    """An exception that no longer happens must leave the list, so it cannot hide a new one."""
    for (rel, module), why in KNOWN_EXCEPTIONS.items():
        if not any(m == module for _, m in _imports(ROOT / rel)):
            pytest.fail(f"{rel} no longer imports {module} ({why}): remove it from KNOWN_EXCEPTIONS")


def test_the_checker_sees_late_relative_and_from_package_imports() -> None:
    source = ("def f():\n    from minidl.optim import rules\n"
              "from minidl import compress\nfrom ..engine import tensor\nfrom . import window\n"
              "import minidl.tour.baselines\n")
    modules = sorted(m for _, m in _imports(ROOT / "kernels" / "probe.py", source))
    assert modules == ["minidl.compress", "minidl.engine", "minidl.kernels", "minidl.optim",
                       "minidl.tour.baselines"]


# -- ARCHITECTURE.md points at real code ---------------------------------------------------------------

ARCHITECTURE = ROOT.parent / "ARCHITECTURE.md"


def _defines(path: pathlib.Path, dotted: str) -> bool:
    """True when ``path`` defines ``dotted`` (a function or class, or ``Class.method``)."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    for name in dotted.split("."):
        found = [n for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                 and n.name == name]
        if not found:
            return False
        body = found[0].body if isinstance(found[0], ast.ClassDef) else []
    return True


def test_every_pointer_in_architecture_md_exists() -> None:
    import re

    text = ARCHITECTURE.read_text(encoding="utf-8")
    repo = ROOT.parent
    code = re.findall(r"`((?:minidl|tests)/[\w/]+\.py):([\w.]+)`", text)
    tests = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text)
    lessons = re.findall(r"`(lessons/\w+\.py)`", text)
    assert len(code) > 60 and len(tests) > 60 and lessons, "the formula table went missing"
    missing = [f"{p}:{name}" for p, name in code if not (repo / p).exists() or not _defines(repo / p, name)]
    missing += [f"{p}::{name}" for p, name in tests if not (repo / p).exists() or not _defines(repo / p, name)]
    missing += [p for p in lessons if not (repo / p).exists()]
    assert not missing, "ARCHITECTURE.md points at things that do not exist:\n" + "\n".join(missing)
