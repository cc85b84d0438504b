"""The type stubs (__init__.pyi) cover everything public of the package, and py.typed ships."""

import ast
import pathlib

import ustack

PKG = pathlib.Path(ustack.__file__).parent


def stub_tree():
    return ast.parse((PKG / "__init__.pyi").read_text())


def test_stubs_name_every_public_module_attribute():
    names = set()
    for node in stub_tree().body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets)
    missing = sorted(set(ustack.__all__) - names)
    assert missing == []
    assert (PKG / "py.typed").exists()


def test_stubs_name_every_public_method_of_each_class():
    classes = {n.name: n for n in stub_tree().body if isinstance(n, ast.ClassDef)}
    for cls in (ustack.Host, ustack.Socket, ustack.Event):
        stubbed = {f.name for f in classes[cls.__name__].body if isinstance(f, ast.FunctionDef)}
        public = {n for n in dir(cls) if not n.startswith("_")} | {"__enter__", "__exit__"}
        assert sorted(public - stubbed) == [], cls.__name__
