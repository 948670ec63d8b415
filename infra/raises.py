"""What a function can raise: the domain errors it builds and those of the project code it calls.

Read from the source (``ast``), following calls into the project's own functions, methods and
constructors, as far as names can be resolved without running anything:

- module-level names and imports (also imports inside a function), closures;
- values whose class is known: parameters with annotations, ``x = Class(...)`` and
  ``x = function()`` with an annotated return, ``self`` in methods, and attributes annotated on
  their class (``rt.store`` of a ``Runtime``); a method is followed in its class and in every
  project subclass that overrides it, since any of them may be the one called;
- a function passed to another (``run_in_threadpool(render, data)``) counts as called;
- ``events.publish(db_session, Event(...))`` calls every handler subscribed to the event, and a
  ``Provided`` function calls what the composition provided (both wired before this runs);
- an error caught around a call (and not raised again) is not the call's caller's.

It over-approximates (a branch never taken still counts) and cannot see through values of
unknown type; the OpenAPI document built from it is held to the real answers by the
schemathesis run in tests/infra/test_schemathesis.py.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import importlib
import inspect
import textwrap
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

from infra import events
from infra.errors import SmartGoError

PROJECT_PACKAGES = ("infra", "catalog", "streaming", "entitlements", "recorder", "workers")


class Raised:
    """Domain errors a piece of code can raise, with the codes of those that take theirs when raised."""

    def __init__(self) -> None:
        # Per class: the literal codes it was raised with (errors that take their code when
        # raised), None where one was not a literal; an empty set for the others.
        self.errors: dict[type[SmartGoError], set[str] | None] = {}

    def add(self, cls: type[SmartGoError], codes: set[str] | None = frozenset()) -> None:  # type: ignore[assignment]
        """Record cls, raised with these literal codes (None: with a code that is not a literal)."""
        known = self.errors.setdefault(cls, set())
        if known is not None:
            self.errors[cls] = None if codes is None else known | set(codes)

    def merge(self, other: Raised, caught: tuple[type, ...] = ()) -> None:
        """Add what other holds, less what caught catches."""
        for cls, codes in other.errors.items():
            if not issubclass(cls, caught):
                self.add(cls, codes)

    def codes_of(self, cls: type[SmartGoError]) -> set[str] | None:
        """Return the codes cls can be answered with here, None if they are not all known."""
        if code_argument(cls) is None:
            return {cls.code}
        return self.errors[cls] or None


@functools.cache
def code_argument(cls: type[SmartGoError]) -> int | None:
    """Return the position of the argument an error takes its code from, if it does (PlaybackDenied)."""
    for klass in cls.__mro__:
        if klass is SmartGoError or "__init__" not in vars(klass):
            continue
        tree = _parse(vars(klass)["__init__"])
        if tree is None:
            return None
        params = [a.arg for a in tree.args.posonlyargs + tree.args.args][1:]
        for node in ast.walk(tree):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in params
                    and any(isinstance(t, ast.Attribute) and t.attr == "code" for t in node.targets)):
                return params.index(node.value.id)
        return None
    return None


_RAISED: dict[Callable, Raised] = {}


def raised_errors(func: Callable) -> Raised:
    """Return the domain errors func can raise: those it builds and those of the project code it calls."""
    func = inspect.unwrap(func)
    while isinstance(func, functools.partial):  # a handler the wiring bound to the runtime
        func = func.func
    try:
        cached = _RAISED.get(func)
    except TypeError:  # not hashable
        cached = None
    if cached is not None:
        return cached
    found = Raised()
    with contextlib.suppress(TypeError):
        _RAISED[func] = found  # filled in place: a call cycle sees what is found so far
    if isinstance(func, type):
        if _ours(func) and not issubclass(func, SmartGoError) and "__init__" in vars(func):
            found.merge(raised_errors(vars(func)["__init__"]))
    elif _ours(func) and callable(func):
        tree = _parse(func)
        if tree is not None:
            _visit(tree, _scope(func, tree), found, ())
    return found


# -- what the names in a function are -------------------------------------------------------------
class Instance:
    """A value the analysis knows only by its class (one of these)."""

    __slots__ = ("classes",)

    def __init__(self, classes: tuple[type, ...]) -> None:
        self.classes = classes


def _ours(obj: object) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] in PROJECT_PACKAGES


def _parse(func: Callable) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:  # a lambda's source is the middle of an expression; a file edited since import, anything
        node = ast.parse(textwrap.dedent(inspect.getsource(func))).body[0]
    except (OSError, TypeError, SyntaxError):
        return None
    return node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def _classes(annotation: Any) -> tuple[type, ...]:
    """Return the project classes an annotation names (through Annotated, Optional and unions)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _classes(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return tuple(c for arg in typing.get_args(annotation) for c in _classes(arg))
    return (annotation,) if isinstance(annotation, type) and _ours(annotation) else ()


def _hints(obj: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception:  # an annotation that names what only type checkers import
        return {}


@functools.cache
def subclasses(cls: type) -> tuple[type, ...]:
    """Return cls and all its subclasses."""
    found, todo = [], [cls]
    while todo:
        klass = todo.pop()
        found.append(klass)
        todo.extend(klass.__subclasses__())
    return tuple(found)


def _member(owner: Any, name: str) -> list[Any]:
    """Return what owner.name can be: a module's or class's attribute, an instance's methods or attribute class."""
    if isinstance(owner, (types.ModuleType, type)):
        value = getattr(owner, name, None)
        return [] if value is None else [value]
    if not isinstance(owner, Instance):
        return []
    found: list[Any] = []
    for cls in owner.classes:
        for klass in subclasses(cls):
            value = inspect.getattr_static(klass, name, None)
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if callable(value) and value not in found:
                found.append(value)
        classes = _classes(_hints(cls).get(name))
        if classes:
            found.append(Instance(classes))
    return found


def _resolve(node: ast.expr, scope: dict[str, Any]) -> list[Any]:
    """Return what a name or dotted attribute can refer to in scope."""
    if isinstance(node, ast.Name):
        value = scope.get(node.id, getattr(builtins, node.id, None))
        return [] if value is None else [value]
    if isinstance(node, ast.Attribute):
        return [m for owner in _resolve(node.value, scope) for m in _member(owner, node.attr)]
    return []


def _returns(target: Any) -> tuple[type, ...]:
    """Return the project classes a call of target gives."""
    if isinstance(target, type):
        return (target,) if _ours(target) else ()
    return _classes(_hints(target).get("return")) if callable(target) else ()


def _scope(func: Callable, tree: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, Any]:
    scope = dict(getattr(func, "__globals__", {}))
    code, closure = getattr(func, "__code__", None), getattr(func, "__closure__", None) or ()
    for name, cell in zip(code.co_freevars if code else (), closure):
        with contextlib.suppress(ValueError):  # an empty cell
            scope[name] = cell.cell_contents
    for node in ast.walk(tree):  # imports inside the function (kept there to avoid import cycles)
        for name, module, attr in _imports(node):
            with contextlib.suppress(ImportError):
                value = importlib.import_module(module)
                if attr is not None:
                    value = getattr(value, attr, None) or importlib.import_module(f"{module}.{attr}")
                scope[name] = value
    params = tree.args.posonlyargs + tree.args.args + tree.args.kwonlyargs
    owner = _owner(func)
    if owner is not None and params and params[0].arg in ("self", "cls"):
        scope[params[0].arg] = Instance((owner,))
    for name, annotation in _hints(func).items():
        if name != "return" and _classes(annotation):
            scope[name] = Instance(_classes(annotation))
    for node in ast.walk(tree):  # x = Class(...) / x = function() -> Class
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            classes = tuple(c for t in _resolve(node.value.func, scope) for c in _returns(t))
            for target in node.targets:
                if classes and isinstance(target, ast.Name) and target.id not in scope:
                    scope[target.id] = Instance(classes)
    return scope


def _imports(node: ast.AST) -> Iterator[tuple[str, str, str | None]]:
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        for alias in node.names:
            yield alias.asname or alias.name, node.module, alias.name
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                yield alias.asname, alias.name, None
            else:  # import a.b binds a
                yield alias.name.split(".")[0], alias.name.split(".")[0], None


def _owner(func: Callable) -> type | None:
    """Return the class a method is defined in, from its qualified name."""
    path = getattr(func, "__qualname__", "").split(".")
    if len(path) < 2 or "<locals>" in path:
        return None
    owner: Any = inspect.getmodule(func)
    for part in path[:-1]:
        owner = getattr(owner, part, None)
    return owner if isinstance(owner, type) else None


# -- walking a function ---------------------------------------------------------------------------
def _visit(node: ast.AST, scope: dict[str, Any], found: Raised, caught: tuple[type, ...]) -> None:
    if isinstance(node, ast.Try):
        inside = caught + _handled(node.handlers, scope)
        for child in node.body:
            _visit(child, scope, found, inside)
        for child in [*node.handlers, *node.orelse, *node.finalbody]:
            _visit(child, scope, found, caught)
        return
    if isinstance(node, ast.Call):
        for target in _resolve(node.func, scope):
            if isinstance(target, events.Provided):  # what the composition provides is what is called
                if target.implementation is not None:
                    found.merge(raised_errors(target.implementation), caught)
            elif target is events.publish and len(node.args) == 2 and isinstance(node.args[1], ast.Call):
                # An event's handlers run in the publisher's call: what they raise, it raises.
                for event_type in _resolve(node.args[1].func, scope):
                    for handler in events.subscribers(event_type) if isinstance(event_type, type) else ():
                        found.merge(raised_errors(handler), caught)
            elif isinstance(target, type) and issubclass(target, SmartGoError):
                if not issubclass(target, caught):
                    found.add(target, _literal_code(target, node))
            elif isinstance(target, (type, types.FunctionType, types.MethodType)):
                found.merge(raised_errors(target), caught)
        # A function handed to another to call (run_in_threadpool(render, data)) counts as called here.
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            if isinstance(arg, (ast.Name, ast.Attribute)):
                for target in _resolve(arg, scope):
                    if isinstance(target, (types.FunctionType, types.MethodType)):
                        found.merge(raised_errors(target), caught)
    for child in ast.iter_child_nodes(node):
        _visit(child, scope, found, caught)


def _literal_code(cls: type[SmartGoError], call: ast.Call) -> set[str] | None:
    """Return the code an error is built with here: its class's, or the literal it is given (None if not one)."""
    position = code_argument(cls)
    if position is None:
        return set()
    if len(call.args) > position and isinstance(call.args[position], ast.Constant):
        return {str(call.args[position].value)}
    return None


def _handled(handlers: list[ast.ExceptHandler], scope: dict[str, Any]) -> tuple[type, ...]:
    """Return the exception types these handlers catch and do not raise again."""
    handled: list[type] = []
    for handler in handlers:
        if any(isinstance(n, ast.Raise) and n.exc is None for n in ast.walk(handler)):
            continue  # caught, then raised again
        if handler.type is None:
            handled.append(BaseException)
            continue
        for expr in handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]:
            handled += [t for t in _resolve(expr, scope) if isinstance(t, type) and issubclass(t, BaseException)]
    return tuple(handled)
