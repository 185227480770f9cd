"""What a memory holds, in pickled bytes, wherever the program put it and whatever it says about itself.

A program's footprint (``bytes`` / ``memory_kb``) is a score, so it is measured where a program
could hide state and without trusting any code the program wrote:

- **Everything reachable from the memory object.** A component class of ``design_space`` is
  pickled through its own ``__getstate__`` (which leaves out the toolkit's embedder, derived caches
  and growth slack) only while every method of the class and its bases comes from the installed
  ``design_space`` files; anything else (a class the program defines, a subclass of a component, a
  component whose methods were replaced) is measured as its ``__dict__`` and ``__slots__`` and,
  for a subclass of a built-in container, the contents read through the built-in type — no
  ``__getstate__`` / ``__reduce__`` of program code is called. Lambdas and nested functions count
  their closures and defaults.
- **The program's own module**: its globals, its classes' attributes, its functions' defaults,
  attributes, closures and ``lru_cache`` contents. Whatever differs from the module as loaded
  counts at its full size (replacing a padding constant hides nothing).
- **The toolkit**: a public attribute the program added to, or replaced on, the kit or its
  embedder. (Private attributes of other objects are refused by the validator.)
- **``design_space`` module state**: in the modules the program can reach (those its import
  statements name, anywhere in its source, and those their attributes lead to), a global that is not
  a function, class or module and changed since load counts.

State that cannot be measured (a generator, a lock, a subclass of a C type other than the
built-in containers) raises `FootprintError` naming the cause: an unknown footprint is never
scored as a small one.
"""
from __future__ import annotations

import collections
import functools
import gc
import hashlib
import importlib
import io
import os
import pickle
import re
import sys
import types
from typing import Any, Callable

import numpy as np

import design_space

PROTOCOL = pickle.HIGHEST_PROTOCOL
PROGRAM_MODULE = "candidate"
TRUSTED_PREFIX = "design_space"
TRUSTED_DIR = os.path.dirname(os.path.abspath(design_space.__file__)) + os.sep
COUNTERS = frozenset({"llm_calls", "llm_tokens", "hits", "misses"})  # ints the toolkit updates itself
_HEAPTYPE = 1 << 9

# A built-in container's contents, read through the built-in type rather than a subclass's overrides.
_CONTENTS: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (dict, lambda o: list(dict.items(o))),
    (list, list.copy),
    (set, set.copy),
    (frozenset, lambda o: set(frozenset.__iter__(o))),
    (tuple, lambda o: tuple.__getitem__(o, slice(None))),
    (str, str.__str__),
    (bytes, lambda o: bytes.__getitem__(o, slice(None))),
    (bytearray, bytearray.copy),
    (int, int.__int__),
    (float, float.__float__),
    (collections.deque, lambda o: list(collections.deque.__iter__(o))),
    (np.ndarray, lambda o: np.ndarray.view(o, np.ndarray)),
)
_SKIPPED_CLASS_KEYS = frozenset({"__dict__", "__weakref__", "__module__", "__doc__", "__qualname__",
                                 "__slots__", "__slotnames__", "_abc_impl", "__parameters__",
                                 "__orig_bases__"})  # __slotnames__: copyreg's cache, set by copy.copy
_OPAQUE = (types.MemberDescriptorType, types.GetSetDescriptorType, types.WrapperDescriptorType,
           types.MethodDescriptorType, types.BuiltinFunctionType, types.CodeType)


class FootprintError(Exception):
    """The memory's state cannot be measured; the message names what."""


def _functions(value: Any) -> list[types.FunctionType]:
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if isinstance(value, property):
        return [f for f in (value.fget, value.fset, value.fdel) if isinstance(f, types.FunctionType)]
    if isinstance(value, functools._lru_cache_wrapper):  # noqa: SLF001 - the type has no public name
        value = value.__wrapped__
    return [value] if isinstance(value, types.FunctionType) else []


def honours_hooks(cls: type, program_file: str) -> bool:
    """May `cls` pickle itself? Not if any method in its MRO is program code; a design_space class
    only while every method in its MRO is design_space code (its hooks leave out derived caches)."""
    design = (cls.__module__ or "").startswith(TRUSTED_PREFIX)
    for klass in cls.__mro__[:-1]:
        if design and not klass.__flags__ & _HEAPTYPE:
            return False  # a design_space class on a C base: its hooks are not all ours
        for value in list(vars(klass).values()):
            for fn in _functions(value):
                where = fn.__code__.co_filename
                if where == program_file or (design and not where.startswith(TRUSTED_DIR)):
                    return False
    return True


def _library_class(cls: type) -> bool:
    """Found under its own name in an imported module other than the program's."""
    if cls.__module__ == PROGRAM_MODULE:
        return False
    found: Any = sys.modules.get(cls.__module__)
    for part in cls.__qualname__.split("."):
        found = getattr(found, part, None)
    return found is cls


@functools.lru_cache(maxsize=None)
def _layout(cls: type) -> tuple[tuple[tuple[str, Any], ...], Callable[[Any], Any] | None]:
    """Where an instance of `cls` keeps state besides __dict__: slot descriptors, and the reader of
    the built-in container under it (None for a plain Python class). A class's layout never changes."""
    slots = tuple((f"{klass.__qualname__}.{name}", descr) for klass in cls.__mro__
                  for name, descr in vars(klass).items() if isinstance(descr, types.MemberDescriptorType))
    for klass in cls.__mro__:
        if klass is object:
            return slots, None
        if not klass.__flags__ & _HEAPTYPE:
            reader = next((r for base, r in _CONTENTS if klass is base or issubclass(klass, base)), None)
            if reader is None:
                raise FootprintError(f"cannot measure a {cls.__qualname__}: it extends the built-in "
                                     f"{klass.__module__}.{klass.__qualname__}, whose state is not readable")
            return slots, reader
    return slots, None


def _slots(obj: Any, slots: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, descr in slots:
        try:
            out[key] = descr.__get__(obj, type(obj))
        except AttributeError:  # an unset slot
            pass
    return out


def _instance(obj: Any) -> tuple:
    slots, reader = _layout(type(obj))
    try:
        state = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        state = None
    return (type(obj).__qualname__, dict(state) if isinstance(state, dict) else None,
            _slots(obj, slots) if slots else None, reader(obj) if reader else None)


def _lru_contents(wrapper: Any) -> list:
    """Keys and results an lru_cache holds (the garbage collector sees them; Python code cannot list them)."""
    own = {id(wrapper.__wrapped__), id(getattr(wrapper, "__dict__", None))}
    out = []
    for ref in gc.get_referents(wrapper):
        if id(ref) in own or isinstance(ref, type) or type(ref) is object:
            continue
        if isinstance(ref, dict) and any(type(v).__name__ == "_lru_list_elem" for v in ref.values()):
            continue  # a bounded cache's index: its keys and results are referents already
        out.append(ref)
    return out


def _function(fn: types.FunctionType) -> tuple:
    cells = []
    for cell in fn.__closure__ or ():
        try:
            cells.append(cell.cell_contents)
        except ValueError:  # an empty cell
            cells.append(None)
    return (fn.__qualname__, fn.__defaults__, fn.__kwdefaults__, dict(vars(fn)), cells)


def _plan(cls: type, program_file: str) -> str:
    """How instances of `cls` are measured: "pickle" (their own reduce: C types, and library classes
    with hooks of their own), "getstate" (a trusted class's own __getstate__), or "plain" (__dict__,
    slots and built-in contents, whatever the class says)."""
    if not cls.__flags__ & _HEAPTYPE:
        return "pickle"  # a C type: no program code in it
    if not (_library_class(cls) and honours_hooks(cls, program_file)):
        return "plain"
    if cls.__reduce_ex__ is not object.__reduce_ex__ or cls.__reduce__ is not object.__reduce__:
        return "pickle"
    return "plain" if cls.__getstate__ is object.__getstate__ else "getstate"


def _state(payload: Any) -> tuple:
    """A reduce value whose payload is saved as state, after the object is memoised: cycles through
    the payload (a method's closure naming its class) end at the memo instead of recursing."""
    return (object, (), payload)


class _Pickler(pickle.Pickler):
    """Pickles data; reduces every object of untrusted origin to its plain state (see the module docstring)."""

    def __init__(self, file: io.BytesIO, program_file: str, toolkit: dict[int, str], count_lru: bool) -> None:
        super().__init__(file, protocol=PROTOCOL)
        self.program_file = program_file
        self.toolkit = toolkit
        self.count_lru = count_lru
        self._plans: dict[type, str] = {}

    def reducer_override(self, obj: Any) -> Any:  # noqa: PLR0911 - one rule per kind of object
        token = self.toolkit.get(id(obj))
        if token is not None:
            return (str, (token,))
        if isinstance(obj, types.ModuleType):
            return (str, (f"module {obj.__name__}",))
        if isinstance(obj, type):
            if not _library_class(obj):
                return _state((obj.__qualname__, {k: v for k, v in vars(obj).items() if k not in _SKIPPED_CLASS_KEYS}))
            return NotImplemented  # by reference
        if isinstance(obj, types.FunctionType):
            if obj.__code__.co_filename == self.program_file or "<" in obj.__qualname__:
                return _state(_function(obj))
            return NotImplemented  # by reference
        if isinstance(obj, functools._lru_cache_wrapper):  # noqa: SLF001
            return _state((obj.__wrapped__, _lru_contents(obj) if self.count_lru else None))
        if isinstance(obj, (staticmethod, classmethod)):
            return _state((type(obj).__name__, obj.__func__))
        if isinstance(obj, property):
            return _state(("property", obj.fget, obj.fset, obj.fdel))
        if isinstance(obj, types.MappingProxyType):
            return _state(dict(obj))
        if isinstance(obj, _OPAQUE):
            return (str, (type(obj).__name__,))
        cls = type(obj)
        plan = self._plans.get(cls)
        if plan is None:
            plan = self._plans[cls] = _plan(cls, self.program_file)
        if plan == "pickle":
            return NotImplemented
        if plan == "getstate":
            return _state((cls.__qualname__, obj.__getstate__()))
        return _state(_instance(obj))


def measure(obj: Any, program_file: str, toolkit: dict[int, str] | None = None, count_lru: bool = True) -> bytes:
    """`obj` pickled as the footprint sees it (FootprintError when it cannot be measured)."""
    buf = io.BytesIO()
    try:
        _Pickler(buf, program_file, toolkit or {}, count_lru).dump(obj)
    except FootprintError:
        raise
    except RecursionError:
        raise FootprintError("cannot measure the memory: its objects nest too deeply") from None
    except Exception as exc:  # noqa: BLE001 - pickling fails in many types; each means the same here
        raise FootprintError(f"cannot measure the memory: {exc}") from None
    return buf.getvalue()


def _immutable(value: Any, depth: int = 0) -> bool:
    if isinstance(value, (str, bytes, int, float, complex, bool, type(None), re.Pattern)):
        return type(value) in (str, bytes, int, float, complex, bool, type(None), re.Pattern)
    if type(value) in (tuple, frozenset) and depth < 3:
        return all(_immutable(v, depth + 1) for v in value)
    return False


def _skipped(name: str, value: Any, program: bool) -> bool:
    """Module globals that hold no data: dunders, modules, __future__ features; in design_space also its
    code (classes are checked by `honours_hooks` where used) and constants."""
    if (name.startswith("__") and name.endswith("__") or isinstance(value, types.ModuleType)
            or type(value).__module__ == "__future__"):
        return True
    return not program and (isinstance(value, type) or callable(value) or _immutable(value))


def imported_modules(source: str) -> list[str]:
    """Every module an import statement of `source` can bind (a superset: `import a.b` binds a, which
    leads to a.b; `from a import b` binds a.b if that is a module)."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # it was loaded, so this does not happen; nothing is reachable by import then
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append(alias.name)  # loaded, or bound under its alias
                if not alias.asname:
                    out.append(alias.name.split(".")[0])  # what the name binds
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out += [node.module if alias.name == "*" else f"{node.module}.{alias.name}" for alias in node.names]
    return out


_KINDS: dict[str, dict[str, tuple[Any, bool]]] = {}  # design_space module -> global -> (value, holds data)


def _trusted_globals(module: types.ModuleType) -> list[tuple[str, Any]]:
    """A design_space module's globals that may hold data; decided once per value bound to a name."""
    kinds = _KINDS.setdefault(module.__name__, {})
    out = []
    for name, value in list(vars(module).items()):
        kind = kinds.get(name)
        if kind is None or kind[0] is not value:
            kind = kinds[name] = (value, not _skipped(name, value, False))
        if kind[1]:
            out.append((name, value))
    return out


def prepare() -> None:
    """Sort the loaded design_space modules' globals now (a fork server does this once, before forking)."""
    for name, module in list(sys.modules.items()):
        if name.startswith(TRUSTED_PREFIX) and isinstance(module, types.ModuleType):
            _trusted_globals(module)


class Footprint:
    """Measures what a loaded program holds at the end of each episode (see the module docstring)."""

    def __init__(self, program: types.ModuleType, program_file: str, source: str) -> None:
        self.program = program
        self.program_file = program_file
        self._imports = imported_modules(source)
        for name in self._imports:  # load now what a stage method would import later: its state at load is known
            if name.startswith(TRUSTED_PREFIX + ".") and name not in sys.modules:
                try:
                    importlib.import_module(name)
                except Exception:  # noqa: BLE001 - an attribute, not a module; or it fails (and is reported) when used
                    pass
        self._modules_at_load = self._module_digests()
        self._toolkit_at_start: dict[int, tuple[Any, dict[str, int]]] = {}  # id -> (the object, its attributes' ids)

    def _module_digests(self) -> dict[tuple[str, str], tuple[bytes, int]]:
        buf = io.BytesIO()
        pickler = _Pickler(buf, self.program_file, {}, count_lru=True)
        out = {}
        for module, program in [(self.program, True)] + [(m, False) for m in self._reachable()]:
            pickler.count_lru = program
            for name, value in self._watched(module, program):
                start = buf.tell()
                pickler.clear_memo()  # each global measured on its own
                try:
                    pickler.dump(value)
                except FootprintError as exc:
                    raise FootprintError(f"module global {module.__name__}.{name}: {exc}") from None
                except Exception as exc:  # noqa: BLE001 - as in `measure`
                    raise FootprintError(f"module global {module.__name__}.{name}: cannot measure it: {exc}") from None
                data = buf.getbuffer()[start:]
                out[(module.__name__, name)] = (hashlib.blake2b(data, digest_size=16).digest(), len(data))
                data.release()
        return out

    def _reachable(self) -> list[types.ModuleType]:
        """The design_space modules the program can reach: those it imports (anywhere in its source,
        so imports inside functions count) or holds, and every module an attribute of those leads to.
        A program cannot reach a module otherwise (the validator refuses __globals__, __import__,
        importlib and sys), so only these can hold what it hides; scanning only them spares a forked
        job from touching, and copying, the whole server's heap."""
        stack = [v for v in list(vars(self.program).values()) if isinstance(v, types.ModuleType)]
        stack += [m for m in (sys.modules.get(name) for name in self._imports) if m is not None]
        seen: dict[str, types.ModuleType] = {}
        while stack:
            module = stack.pop()
            name = getattr(module, "__name__", "")
            if name in seen or not name.startswith(TRUSTED_PREFIX):
                continue
            seen[name] = module
            stack += [v for v in list(vars(module).values()) if isinstance(v, types.ModuleType)]
        return list(seen.values())

    @staticmethod
    def _watched(module: types.ModuleType, program: bool) -> list[tuple[str, Any]]:
        if program:
            return [(n, v) for n, v in list(vars(module).items()) if not _skipped(n, v, True)]
        return _trusted_globals(module)

    def watch(self, kit: Any) -> None:
        """Record the kit and its embedder as handed to the program, before it runs."""
        for obj in self._toolkit_objects(kit):
            seen = self._toolkit_at_start.get(id(obj))
            if seen is None or seen[0] is not obj:  # new (an id may be reused once an episode's kit is gone)
                self._toolkit_at_start[id(obj)] = (obj, {k: id(v) for k, v in vars(obj).items()})

    @staticmethod
    def _toolkit_objects(kit: Any) -> list[Any]:
        objs = [kit, getattr(kit, "embedder", None)]
        return [o for o in objs if o is not None and hasattr(o, "__dict__")]

    def module_bytes(self) -> int:
        """Module state (the program's, design_space's) that differs from the state at load."""
        total = 0
        for key, (digest, size) in self._module_digests().items():
            at_load = self._modules_at_load.setdefault(key, (digest, size))  # a module imported since: from now
            if at_load[0] != digest:
                total += size
        return total

    def toolkit_bytes(self, kit: Any, tokens: dict[int, str]) -> int:
        """Public attributes the program added to or replaced on the kit and its embedder."""
        changed = {}
        for obj in self._toolkit_objects(kit):
            start = self._toolkit_at_start.get(id(obj), (None, {}))[1]
            for k, v in vars(obj).items():
                if k.startswith("_") or start.get(k) == id(v):
                    continue
                if k in COUNTERS and type(v) is int and v.bit_length() <= 64:
                    continue
                changed[f"{type(obj).__name__}.{k}"] = v
        return len(measure(changed, self.program_file, tokens)) if changed else 0

    def episode_bytes(self, mem: Any, kit: Any) -> int:
        """Everything the program holds at the end of an episode."""
        tokens = {id(o): f"toolkit {type(o).__name__}" for o in self._toolkit_objects(kit)}
        try:
            state = object.__getattribute__(mem, "__dict__")
        except AttributeError:
            state = {}
        root = (type(mem).__qualname__, {k: v for k, v in state.items() if v is not kit},
                _slots(mem, _layout(type(mem))[0]))
        return len(measure(root, self.program_file, tokens)) + self.module_bytes() + self.toolkit_bytes(kit, tokens)
