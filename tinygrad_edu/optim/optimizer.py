"""``Optimizer``: the base class every optimizer shares (param groups, state, step, state dicts).

An optimizer holds *parameter groups*: dicts with a ``'params'`` list and one value for every
option (``lr``, ``momentum``, ...). Options given in a group override the constructor's
defaults, so one optimizer can train different parts of a model with different settings::

    SGD([{"params": body}, {"params": head, "lr": 0.1}], lr=0.01, momentum=0.9)

``step()`` walks every parameter that has a gradient and calls the subclass's update rule
on plain numpy arrays, changing ``param.data`` in place. Nothing here builds a graph: the
update is bookkeeping *about* the model, not part of it.

``state[param]`` is the per-parameter memory of the update rule (momentum buffers, running
averages, step counts): numpy arrays of the parameter's dtype and plain numbers.

Differences from PyTorch (each deliberate):

* a tensor that does not require grad, or a parameter listed twice in one group, is a
  ValueError (PyTorch accepts the first and warns about the second);
* ``state_dict()`` returns copies of the state arrays (a snapshot), PyTorch returns
  references; ``load_state_dict`` copies as PyTorch does;
* ``step`` is an ``int`` in the state, not a one-element tensor.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd import enable_grad, no_grad
from ..tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]

_SET_MESSAGE = (
    "optimizer parameters must be in an ordered collection (a list), not a set: the order of "
    "a set changes between runs, and state dicts refer to parameters by position"
)


class Optimizer:
    """Base class of all optimizers.

    Subclasses pass their options as ``defaults`` and write the update rule in
    ``_update(param, grad, state, group)`` (numpy arrays in, ``param`` changed in place).
    They may also write ``_init_state`` (the state before the first step) and
    ``_check_options`` (validation of one group's options, run for the defaults and for
    every group).
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]):
        if isinstance(params, (Tensor, dict)):
            raise TypeError(
                "params given to the optimizer must be an iterable of Tensors or of dicts "
                f"(param groups), but got a single {type(params).__name__}; wrap it in a list"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE)
        self._check_options(defaults)
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ hooks for subclasses

    def _check_options(self, options: dict[str, Any]) -> None:
        """Raise ValueError for an invalid option value (subclasses override)."""

    def _init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        """The state of ``param`` before its first update (empty unless overridden)."""
        return {}

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        """Change ``param`` in place using ``grad``; keep what the next step needs in ``state``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ param groups

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with its own options, to this optimizer.

        Useful to start training layers that were frozen: options missing from the group
        take the optimizer's defaults.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"a param group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        if "params" not in group:
            raise ValueError("a param group needs a 'params' entry")
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE)
        group["params"] = params = list(params)
        for index, param in enumerate(params):
            _check_param(param, index)
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter more than once")
        seen = {id(p) for existing in self.param_groups for p in existing["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._check_options(group)
        self.param_groups.append(group)

    # ------------------------------------------------------------------ the training step

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of all parameters: set them to None (default) or to zeros."""
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                elif param.grad.requires_grad:
                    # A gradient made with create_graph is part of a graph: replace, don't edit.
                    param.grad = Tensor(np.zeros_like(param.grad.data))
                else:
                    param.grad.data.fill(0)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; parameters whose grad is None are skipped.

        ``closure`` (optional) re-evaluates the model and returns the loss; it runs with grad
        mode on, before the update, and its loss is returned (as PyTorch).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for param in group["params"]:
                    if param.grad is None:
                        continue
                    grad = param.grad.data
                    _check_grad(param, grad, type(self).__name__)
                    state = self.state[param]
                    if not state:
                        state.update(self._init_state(param.data, group))
                    self._update(param.data, grad, state, group)
        return loss

    # ------------------------------------------------------------------ state dicts

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimizer in PyTorch's layout.

        ``{'state': {index: {name: array or number}}, 'param_groups': [{options...,
        'params': [index, ...]}]}``: parameters are numbered by their position across all
        groups, so the dict holds no Tensors and can be saved (e.g. with ``np.savez``).
        """
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
                packed["params"].append(index_of[id(param)])
            groups.append(packed)
        state = {
            index_of[id(param)]: {k: _copy_value(v) for k, v in param_state.items()}
            for param, param_state in self.state.items()
            if id(param) in index_of and param_state
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a snapshot from :meth:`state_dict` (of an optimizer over same-shaped params).

        The saved options replace the current ones; arrays are copied (and cast to each
        parameter's dtype), so later steps never write into ``state_dict``.
        """
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise ValueError(f"load_state_dict: not an optimizer state dict, no {key!r} entry")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"load_state_dict: the state dict has {len(saved_groups)} parameter group(s), "
                f"this optimizer has {len(self.param_groups)}"
            )
        param_of: dict[Any, Tensor] = {}
        for number, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"load_state_dict: parameter group {number} has {len(saved['params'])} "
                    f"parameter(s) in the state dict but {len(group['params'])} here"
                )
            param_of.update(zip(saved["params"], group["params"], strict=True))

        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for index, saved_state in state_dict["state"].items():
            if index not in param_of:
                raise ValueError(f"load_state_dict: state for unknown parameter index {index!r}")
            param = param_of[index]
            state[param] = {
                name: _load_value(value, param, index, name) for name, value in saved_state.items()
            }

        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            new_group = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            for name, default in self.defaults.items():
                new_group.setdefault(name, default)
            self._check_options(new_group)
            new_group["params"] = group["params"]
            new_groups.append(new_group)
        self.state = state
        self.param_groups = new_groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for number, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {number}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        lines.append(")")
        return "\n".join(lines)


def state_buffer(state: dict[str, Any], name: str, param: np.ndarray) -> np.ndarray:
    """``state[name]``, created as zeros shaped like ``param`` the first time it is asked for.

    For buffers only some options need (AMSGrad's maximum, RMSprop's momentum): they appear
    at the first step that uses them, even when the option is switched on mid-training.
    """
    if name not in state:
        state[name] = np.zeros_like(param)
    return state[name]


def _check_param(param: Any, index: int) -> None:
    if not isinstance(param, Tensor):
        raise TypeError(
            f"optimizer can only optimize Tensors, but params[{index}] is a {type(param).__name__}"
        )
    if not param.is_leaf:
        raise ValueError(
            f"can't optimize a non-leaf Tensor: params[{index}] (shape {param.shape}) was made "
            "by an op; optimize the leaf tensors it was computed from"
        )


def _check_grad(param: Tensor, grad: np.ndarray, name: str) -> None:
    if grad.shape != param.shape:
        raise ValueError(
            f"{name}.step: a parameter of shape {param.shape} has a gradient of shape {grad.shape}"
        )
    if grad.dtype != param.dtype:
        raise TypeError(
            f"{name}.step: a {param.dtype} parameter of shape {param.shape} has a "
            f"{grad.dtype} gradient"
        )


def _copy_value(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else copy.deepcopy(value)


def _load_value(value: Any, param: Tensor, index: Any, name: str) -> Any:
    """A private copy of one saved state value; arrays must match the parameter's shape."""
    if not isinstance(value, np.ndarray):
        return copy.deepcopy(value)
    if value.shape != param.shape:
        raise ValueError(
            f"load_state_dict: state {name!r} of parameter {index} has shape {value.shape}, "
            f"but the parameter has shape {param.shape}"
        )
    return np.array(value, dtype=param.dtype, copy=True)
