"""``Module``: a layer or a model, which owns Parameters, buffers and sub-modules.

Assigning attributes is all it takes to build a tree: ``self.fc = Linear(2, 3)`` registers a
sub-module, ``self.weight = Parameter(...)`` a parameter, and ``register_buffer`` adds state that
is saved but not trained (BatchNorm's running statistics). Names follow PyTorch exactly
(``features.0.weight``), so a ``state_dict`` from here loads into the same architecture in PyTorch
and back.

Saving and loading
------------------
``state_dict()`` maps each dotted name to a *copy* of the array (parameters, then persistent
buffers, then each child's entries). ``load_state_dict`` checks every key and shape before it
changes anything, so a failing load leaves the module as it was. ``save``/``load`` store the same
mapping as an ``.npz`` archive, written atomically (temporary file in the same folder, then
``os.replace``) and read with ``allow_pickle=False``.
"""

from __future__ import annotations

import errno
import os
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from ..files import atomic_write
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a trainable weight of a Module: assigning it to a Module registers it.

    ``Parameter(data, requires_grad=True)`` takes a Tensor (its array is shared, as in PyTorch),
    a float numpy array (shared) or Python numbers (float32). Parameters are always float32 or
    float64.
    """

    def __init__(self, data: Any, requires_grad: bool = True):
        array = Tensor(data).data  # Tensor's conversion rules; arrays and Tensors are shared
        if array.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"Parameter: only float32/float64 data can be a parameter, got {array.dtype}"
            )
        super().__init__(array, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` could not match (PyTorch's ``_IncompatibleKeys``)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class StateDictError(ValueError, RuntimeError):
    """A state dict does not fit a Module: every missing key, unexpected key and shape mismatch.

    It is a ValueError (our convention for wrong values and shapes) and also a RuntimeError, the
    type PyTorch raises here, so code written either way catches it.
    """


class Module:
    """Base class of every layer and model; subclass it and write ``forward``.

    ``__init__`` must call ``super().__init__()`` before assigning Parameters or sub-modules.
    Calling the module calls ``forward``. ``training`` is True until ``eval()``; it changes what
    Dropout and BatchNorm do.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward method; define one")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---------------------------------------------------------------- registration

    def _check_initialised(self) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign parameters, buffers or modules before {type(self).__name__} "
                "calls Module.__init__(); put super().__init__() first in __init__"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, (Parameter, Module)):
            self._check_initialised()
            self.__dict__.pop(name, None)  # a plain attribute of that name gives way
            if isinstance(value, Parameter):
                self.register_parameter(name, value)
            else:
                self.add_module(name, value)
            return
        for registry, what, expected in (("_parameters", "parameter", "nn.Parameter"),
                                         ("_modules", "child module", "nn.Module")):
            members = self.__dict__.get(registry)
            if members is not None and name in members:
                if value is not None:
                    raise TypeError(
                        f"cannot assign {type(value).__name__} as {what} {name!r} "
                        f"({expected} or None expected)"
                    )
                members[name] = None
                return
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer {name!r} "
                    "(Tensor or None expected)"
                )
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def _register(self, registry: str, name: str, value: Any) -> None:
        """Put ``value`` under ``name`` in one registry, removing the name from everywhere else.

        Re-assigning a name keeps its position, so parameter order stays as first assigned.
        """
        for other in ("_parameters", "_buffers", "_modules"):
            if other != registry:
                getattr(self, other).pop(name, None)
        if registry != "_buffers":
            self._non_persistent_buffers.discard(name)
        getattr(self, registry)[name] = value

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails. Read the registries through __dict__, so an
        # object that is not initialised yet (copy, pickle) gets an AttributeError, not recursion.
        for registry in ("_parameters", "_buffers", "_modules"):
            members = self.__dict__.get(registry)
            if members is not None and name in members:
                return members[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            members = self.__dict__.get(registry)
            if members is not None and name in members:
                del members[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def _check_new_name(self, name: str, what: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{what} name must be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{what} name must be non-empty and contain no '.', got {name!r}")
        if name in self.__dict__:
            raise KeyError(f"attribute {name!r} already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder, e.g. ``bias=False``) under ``name``."""
        self._check_initialised()
        self._check_new_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} as parameter {name!r} "
                "(nn.Parameter or None expected)"
            )
        self._register("_parameters", name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add state that is not trained (running statistics, counters) under ``name``.

        Persistent buffers appear in ``state_dict``; a None buffer is a placeholder that does not.
        """
        self._check_initialised()
        self._check_new_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign {type(tensor).__name__} as buffer {name!r} "
                "(Tensor or None expected)"
            )
        self._register("_buffers", name, tensor)
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (what ``self.name = module`` does)."""
        self._check_initialised()
        self._check_new_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._register("_modules", name, module)

    # ---------------------------------------------------------------- traversal

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant, depth first, each once (shared ones by first name)."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [
                (f"{name}.{child_name}" if name else child_name, child)
                for child_name, child in module._modules.items()
                if child is not None
            ]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules, in the order they were assigned."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        modules = self.named_modules() if recurse else iter([("", self)])
        seen: set[int] = set()
        for module_name, module in modules:
            for name, member in getattr(module, registry).items():
                if member is None or id(member) in seen:
                    continue
                seen.add(id(member))
                yield (f"{module_name}.{name}" if module_name else name), member

    def named_parameters(self, recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs; a Parameter shared by two modules comes once."""
        return self._named_members("_parameters", recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse):
            yield param

    def named_buffers(self, recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse):
            yield buffer

    def apply(self, fn) -> Module:
        """Call ``fn(module)`` on every descendant and then on this module; return self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---------------------------------------------------------------- modes and conversions

    def train(self, mode: bool = True) -> Module:
        """Set training mode here and in every descendant; return self."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: Dropout passes inputs through, BatchNorm uses its running stats."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch ``requires_grad`` of every parameter (freeze with False); return self."""
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def zero_grad(self) -> None:
        """Set the ``.grad`` of every parameter to None (as PyTorch's default ``set_to_none``)."""
        for param in self.parameters():
            param.grad = None

    def to(self, dtype: Any) -> Module:
        """Convert every float parameter, gradient and buffer to ``dtype`` in place; return self.

        The Parameter objects stay the same (only their arrays change), so an optimizer that
        already holds them keeps working. Integer buffers such as ``num_batches_tracked`` stay.
        """
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"to: modules convert to float32 or float64, not {dtype}")
        tensors = list(self.parameters()) + list(self.buffers())
        for tensor in tensors:
            if tensor.dtype.kind == "f":
                tensor.data = tensor.data.astype(dtype)
                if tensor.grad is not None:
                    tensor.grad = Tensor(tensor.grad.data.astype(dtype))
        return self

    def double(self) -> Module:
        """Convert float parameters and buffers to float64 (for gradchecks); return self."""
        return self.to(np.float64)

    def float(self) -> Module:
        """Convert float parameters and buffers to float32 (the default); return self."""
        return self.to(np.float32)

    # ---------------------------------------------------------------- state dicts

    def _state_tensors(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every state entry in PyTorch's order; a shared tensor appears under each of its names."""
        for name, param in self._parameters.items():
            if param is not None:
                yield prefix + name, param
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                yield prefix + name, buffer
        for name, child in self._modules.items():
            if child is not None:
                yield from child._state_tensors(prefix + name + ".")

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Dotted name -> a copy of the array, for parameters and persistent buffers.

        Keys and shapes are PyTorch's (``0.weight``, ``1.running_mean``,
        ``1.num_batches_tracked``), so ``{k: torch.from_numpy(v)}`` loads into the same
        architecture in PyTorch.
        """
        return OrderedDict((name, tensor.data.copy()) for name, tensor in self._state_tensors())

    def load_state_dict(self, state_dict: Mapping[str, Any],
                        strict: bool = True) -> IncompatibleKeys:
        """Copy arrays from ``state_dict`` into this module's parameters and buffers.

        Everything is checked before anything changes. With ``strict=True`` a missing key, an
        unexpected key or a shape mismatch raises one :class:`StateDictError` (a ValueError,
        also a RuntimeError as in PyTorch) naming every problem, and the module is unchanged.
        With ``strict=False`` matching entries load and the unmatched keys are returned as
        ``(missing_keys, unexpected_keys)``; shape mismatches still raise. Values may be numpy
        arrays, Tensors or anything ``np.asarray`` accepts; they are cast to the dtype of the
        tensor they replace.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping, got {type(state_dict).__name__}")
        targets = OrderedDict(self._state_tensors())
        missing = [name for name in targets if name not in state_dict]
        unexpected = [name for name in state_dict if name not in targets]
        problems = []
        if strict and missing:
            problems.append("Missing key(s) in state_dict: "
                            + ", ".join(f'"{k}"' for k in missing) + ".")
        if strict and unexpected:
            problems.append("Unexpected key(s) in state_dict: "
                            + ", ".join(f'"{k}"' for k in unexpected) + ".")
        arrays = {}
        for name, tensor in targets.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if array.dtype.kind not in "biuf":
                problems.append(f"value for {name} has dtype {array.dtype}; expected numbers.")
            elif array.shape != tensor.shape:
                problems.append(
                    f"size mismatch for {name}: copying a param with shape {array.shape} from "
                    f"checkpoint, the shape in current model is {tensor.shape}."
                )
            else:
                arrays[name] = array.astype(tensor.dtype, copy=True)
        if problems:
            raise StateDictError(
                f"Error(s) in loading state_dict for {type(self).__name__} "
                "(nothing was loaded):\n\t" + "\n\t".join(problems)
            )
        for name, array in arrays.items():
            targets[name].data = array
        return IncompatibleKeys(missing, unexpected)

    def save(self, path: str | os.PathLike) -> None:
        """Write ``state_dict()`` to ``path`` as an ``.npz`` archive (exactly that file name).

        The archive is written to a temporary file in the same folder and renamed over ``path``
        only when complete, so ``path`` is never half-written: if anything fails, an existing
        file there is left as it was.
        """
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(errno.ENOENT, "Module.save: no such folder", folder)
        with atomic_write(path) as file:
            _write_npz(file, self.state_dict())

    def load(self, path: str | os.PathLike, strict: bool = True) -> Module:
        """Load a file written by :meth:`save` into this module; return self.

        A missing file raises FileNotFoundError; a file that is not an ``.npz`` archive, is
        truncated, or holds other keys or shapes raises ValueError naming the file.
        """
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, "Module.load: no such checkpoint file", path)
        try:
            archive = np.load(path, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("it holds one .npy array, not an .npz archive")
            with archive:
                state = {key: archive[key] for key in archive.files}
        except (PermissionError, IsADirectoryError, FileNotFoundError):
            raise  # the file system's problem, not the file's: the message already says which
        except Exception as error:
            # A damaged archive fails in many ways inside zipfile and numpy (BadZipFile, EOFError,
            # OSError from a bad seek, NotImplementedError for a garbled version field, ...).
            raise ValueError(
                f"Module.load: {path!r} is not a readable checkpoint (an .npz archive written "
                f"by Module.save); it may be truncated or another kind of file: {error}"
            ) from error
        try:
            self.load_state_dict(state, strict=strict)
        except StateDictError as error:
            raise StateDictError(
                f"Module.load: {path!r} does not fit this module: {error}"
            ) from None
        return self

    # ---------------------------------------------------------------- printing

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (override in layers)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, module in self._modules.items():
            text = _indent(repr(module), 2)
            lines.append(f"({name}): {text}")
        main = type(self).__name__ + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def _indent(text: str, spaces: int) -> str:
    """Indent every line but the first (how PyTorch nests child reprs)."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [" " * spaces + line for line in rest])


def _write_npz(file, state: Mapping[str, np.ndarray]) -> None:
    """The archive ``np.savez`` writes, with any key allowed (``np.savez`` reserves some)."""
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for key, array in state.items():
            with archive.open(key + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


class Sequential(Module):
    """Modules applied one after another; children are named "0", "1", ...

    ``Sequential(a, b, c)`` or ``Sequential(OrderedDict(name=module, ...))``. Supports
    indexing (a slice gives a new Sequential sharing the modules), ``len``, iteration and
    ``append``.
    """

    def __init__(self, *modules: Module | Mapping[str, Module]):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def _index(self, index: int) -> int:
        if not -len(self) <= index < len(self):
            raise IndexError(
                f"index {index} is out of range for {type(self).__name__} of length {len(self)}"
            )
        return index % len(self)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return type(self)(OrderedDict(list(self._modules.items())[index]))
        return list(self._modules.values())[self._index(index)]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain list's would not be).

    Children are named "0", "1", ...; there is no ``forward``: you decide how to use them.
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, index: int) -> int:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for ModuleList of length {len(self)}")
        return index % len(self)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return self._modules[str(self._index(index))]

    def __setitem__(self, index: int, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[str(self._index(index))] = module

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self
