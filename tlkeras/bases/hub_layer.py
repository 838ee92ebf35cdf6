"""`HubLayer`: a TF2 SavedModel from TF-Hub as a Keras 3 layer.

`tensorflow_hub.KerasLayer` works only with Keras 2 (`tf_keras`), and
Keras 3's `TFSMLayer` copies the module's variables, calls its inference
endpoint, stores an absolute path and does not load under `safe_mode`.
`HubLayer` calls the module's own `__call__` (with `training` when it takes
one), its Keras weights *are* the module's `tf.Variable`s, it splits them
into blocks by variable-name prefix (the layer groups of a hub base), and it
saves as its handle plus the fine-tuned weights.
"""

import re
from typing import List
from typing import Optional

import keras
import tensorflow as tf

from tlkeras._utils import keras_internals
from tlkeras._utils.batch_norm import check_bn
from tlkeras.bases.hub_handles import UntrustedHubHandleError
from tlkeras.bases.hub_handles import is_trusted
from tlkeras.bases.hub_handles import relocated
from tlkeras.bases.hub_handles import resolve_handle
from tlkeras.bases.hub_handles import trust_handle


@keras.saving.register_keras_serializable(package="tlkeras")
class HubBatchNormalization(keras.layers.Layer):
    """Stands for the BatchNormalization layers inside a TF-Hub module.

    A module runs as one function, so its BN layers are not Keras layers;
    this weightless sublayer of `HubLayer` carries their `trainable` flag
    with Keras's meaning: `False` keeps the statistics fixed (the module is
    called with `training=False`), `True` lets them update while the
    module trains. It is never called.
    """

    def call(self, inputs):
        raise NotImplementedError(
            f"{self.name!r} only carries a flag; call its HubLayer."
        )


@keras.saving.register_keras_serializable(package="tlkeras")
class HubBlock(keras.layers.Layer):
    """The variables of one block of a TF-Hub module (e.g. all of
    `MobilenetV3/expanded_conv_3/...`). It is never called: `HubLayer` runs
    the module; a block exists so freezing can work per block."""

    def call(self, inputs):
        raise NotImplementedError(
            f"HubBlock {self.name!r} holds weights; call its HubLayer."
        )


def _check_no_replicas():
    """Refuse a strategy with several replicas: the module's variables are
    its own `tf.Variable`s, which no strategy mirrors."""
    if not tf.distribute.has_strategy():
        return
    strategy = tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    if replicas > 1 or keras_internals.is_multi_worker(strategy):
        raise ValueError(
            "A TF-Hub module's variables are the module's own tf.Variables, "
            f"which {type(strategy).__name__} does not mirror across its "
            f"{replicas} replicas: the replicas would train different "
            "weights. Train TF-Hub bases without a distribution strategy, "
            "or use a keras.applications base (its variables are made under "
            f"the strategy). Received: strategy={type(strategy).__name__}"
        )


@keras.saving.register_keras_serializable(package="tlkeras")
class HubLayer(keras.layers.Layer):
    """A TF2 SavedModel (TF-Hub / Kaggle Models reusable API) as a layer.

    Its weights are the module's variables, split into `blocks` (one
    `HubBlock` per variable-name prefix such as `expanded_conv_3`, in the
    order the module uses them); freezing a block stops its training. It is
    called with `training=True` only while training, when some block is
    trainable and `bn="train"`: with `bn="frozen"` the module's
    BatchNormalization statistics never change even while its weights
    train. The module's regularization losses join the model's losses while
    it trains. Built inside a `tf.distribute` strategy with several replicas
    (or workers) it raises: the module's variables cannot be mirrored.

    Args:
        handle: string, a URL (tfhub.dev, Kaggle Models, `gs://`), cached
            in `tlkeras.bases.hub_cache_dir()`, or a local SavedModel folder.
        signature: string or `None`, call this signature (e.g.
            `"serving_default"`) instead of `__call__`. Signatures are
            inference-only. Defaults to `None`.
        output_key: string or `None`, the output to use when the module
            returns a dict. Defaults to `None` (the only output).
        arguments: dict or `None`, extra keyword arguments for every call,
            e.g. `{"batch_norm_momentum": 0.997}`. Defaults to `None`.
        bn: `"frozen"` or `"train"`. Defaults to `"frozen"`.

    Example:

    >>> import tlkeras as tlk
    >>> layer = tlk.bases.HubLayer("/no/such/module")
    Traceback (most recent call last):
    ...
    tlkeras.bases.hub_handles.HubModuleNotFoundError: No TF-Hub module ...
    """

    def __init__(
        self,
        handle: str,
        *,
        signature: Optional[str] = None,
        output_key: Optional[str] = None,
        arguments: Optional[dict] = None,
        bn: str = "frozen",
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        check_bn(bn)
        # Given by the user, or let through by `from_config`'s check: a
        # model file of this process may name it again (see from_config).
        trust_handle(handle)
        self.handle = relocated(handle)
        trust_handle(self.handle)
        self.signature = signature
        self.output_key = output_key
        self.arguments = dict(arguments or {})
        _check_no_replicas()
        self._module = tf.saved_model.load(resolve_handle(self.handle))
        self._function, self._input_name = self._pick_function()
        self._module_input_spec = self._read_input_spec()
        self._takes_training = self._accepts_training()
        self.blocks = self._make_blocks()
        self.batch_norm = HubBatchNormalization(
            name="batch_norm", trainable=bn == "train"
        )
        if not self.trainable:
            for layer in self.blocks + [self.batch_norm]:
                layer.trainable = False
        self.built = True

    @property
    def bn(self) -> str:
        """`"train"` when the module's BN statistics update in training
        (`self.batch_norm.trainable`), else `"frozen"`."""
        return "train" if self.batch_norm.trainable else "frozen"

    # === Module inspection ===

    def _pick_function(self):
        module = self._module
        if self.signature is None:
            if not callable(module):
                raise ValueError(
                    f"The module at {self.handle!r} does not follow the "
                    "reusable SavedModel API (a callable object); it may "
                    "be a TF1 hub module. Its "
                    f"signatures: {sorted(module.signatures)}; pass "
                    "`signature=` to call one."
                )
            return module, None
        if self.signature not in module.signatures:
            raise ValueError(
                f"The module at {self.handle!r} has no signature "
                f"{self.signature!r}. Its signatures: "
                f"{sorted(module.signatures)}."
            )
        function = module.signatures[self.signature]
        names = sorted(function.structured_input_signature[1])
        if len(names) != 1:
            raise ValueError(
                f"Signature {self.signature!r} of {self.handle!r} takes "
                f"{names}; HubLayer supports signatures with one input."
            )
        return function, names[0]

    def _accepts_training(self) -> bool:
        if self.signature is not None:
            return False
        spec = getattr(self._module.__call__, "function_spec", None)
        spec = getattr(spec, "fullargspec", None)
        return spec is not None and "training" in (
            list(spec.args) + list(spec.kwonlyargs)
        )

    def _concrete_function(self):
        if self.signature is not None:
            return self._function
        functions = getattr(self._module.__call__, "concrete_functions", [])
        return functions[0] if functions else None

    def input_spec_of_module(self) -> Optional[tf.TensorSpec]:
        """The `tf.TensorSpec` the module's function takes, if known."""
        return self._module_input_spec

    def _read_input_spec(self) -> Optional[tf.TensorSpec]:
        function = self._concrete_function()
        if function is None:
            return None
        args, kwargs = function.structured_input_signature
        if self._input_name is not None:
            return kwargs[self._input_name]
        first = args[0] if args else next(iter(kwargs.values()), None)
        return first if isinstance(first, tf.TensorSpec) else None

    def _make_blocks(self) -> List[HubBlock]:
        function = self._concrete_function()
        variables = getattr(self._module, "variables", None)
        if variables is None:  # a tf.Module saved as is: what it uses
            variables = [] if function is None else function.variables
        variables = _in_use_order(function, list(variables))
        keys, leaves = _block_keys([v.name for v in variables])
        members = {}
        for variable, key, leaf in zip(variables, keys, leaves):
            members.setdefault(key, []).append((leaf, variable))
        blocks = []
        with keras.name_scope(self.name, caller=self):
            for key, pairs in members.items():
                block = HubBlock(name=key, dtype=self.dtype_policy)
                with keras.name_scope(block.name, caller=block):
                    for leaf, variable in sorted(pairs, key=lambda p: p[0]):
                        keras_internals.track_variable(
                            block,
                            keras_internals.AdoptedVariable(variable, leaf),
                        )
                block.built = True
                blocks.append(block)
        return blocks

    # === Calling ===

    def trains(self) -> bool:
        """Whether any of the module's weights is trainable now."""
        return self.trainable and any(
            block.trainable and keras_internals.own_trainable_variables(block)
            for block in self.blocks
        )

    def call(self, inputs, training=None):
        spec = self._module_input_spec
        if spec is not None and spec.dtype.is_floating:
            inputs = tf.cast(inputs, spec.dtype)
        trains = self.trains()
        if self._input_name is not None:
            outputs = self._function(**{self._input_name: inputs})
        elif self._takes_training:
            module_training = (
                bool(training) and trains and self.batch_norm.trainable
            )
            outputs = self._function(
                inputs, training=module_training, **self.arguments
            )
        else:
            outputs = self._function(inputs, **self.arguments)
        if trains:
            for loss in self._module_losses():
                self.add_loss(loss())
        return self._select_output(outputs)

    def _module_losses(self):
        return list(getattr(self._module, "regularization_losses", []) or [])

    def _select_output(self, outputs):
        if not isinstance(outputs, dict):
            if self.output_key is not None:
                raise ValueError(
                    f"output_key={self.output_key!r} was given but the "
                    f"module at {self.handle!r} returns a single tensor."
                )
            return outputs
        if self.output_key is None:
            if len(outputs) == 1:
                return next(iter(outputs.values()))
            raise ValueError(
                f"The module at {self.handle!r} returns a dict; pass "
                f"`output_key`, one of {sorted(outputs)}."
            )
        if self.output_key not in outputs:
            raise ValueError(
                f"No output {self.output_key!r} in the module at "
                f"{self.handle!r}. Its outputs: {sorted(outputs)}."
            )
        return outputs[self.output_key]

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        # Keras's rule for TFSMLayer: an external SavedModel named in a
        # model file can run attacker-controlled graph code, so under
        # safe_mode only handles the user trusts are loaded, and nothing is
        # resolved or fetched before this check.
        handle = str(config.get("handle"))
        if safe_mode is None:
            safe_mode = keras_internals.in_safe_mode()
        if safe_mode is not False and not (
            is_trusted(handle) or is_trusted(relocated(handle))
        ):
            raise UntrustedHubHandleError(
                f"This model file names the TF-Hub module {handle!r}. A "
                "TF-Hub module is a SavedModel, which can carry arbitrary "
                "graph code, so under Keras's default safe_mode tlkeras "
                "loads only modules you trust (as Keras's TFSMLayer does). "
                "If you trust this file and module, load it inside `with "
                f"tlkeras.bases.trusted_hub_handles([{handle!r}]):`, or "
                "pass `safe_mode=False` to `keras.saving.load_model`, or "
                "call `keras.config.enable_unsafe_deserialization()`."
            )
        return cls(**config)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "handle": self.handle,
                "signature": self.signature,
                "output_key": self.output_key,
                "arguments": dict(self.arguments),
                "bn": self.bn,
            }
        )
        return config


def _in_use_order(function, variables) -> list:
    """`variables` in the order `function`'s graph first reads them (the
    module's block order); variables it does not read go last."""
    if function is None:
        return variables
    by_handle = {id(v.handle): v for v in variables}
    placeholders = {}
    for external, internal in zip(
        function.captured_inputs, function.graph.internal_captures
    ):
        if id(external) in by_handle:
            placeholders[internal.name] = by_handle[id(external)]
    ordered, seen = [], set()
    for op in function.graph.get_operations():
        for tensor in op.inputs:
            variable = placeholders.get(tensor.name)
            if variable is not None and id(variable) not in seen:
                seen.add(id(variable))
                ordered.append(variable)
    return ordered + [v for v in variables if id(v) not in seen]


def _block_keys(names):
    """Block and leaf names from variable names: the first path component
    after the prefix all names share (`MobilenetV3/expanded_conv_3/expand/
    weights:0` -> `expanded_conv_3`, `expand_weights`)."""
    parts = [name.split(":")[0].split("/") for name in names]
    if not parts:
        return [], []
    depth = 0
    while all(len(p) > depth + 1 for p in parts) and (
        len({p[depth] for p in parts}) == 1
    ):
        depth += 1
    keys, leaves = [], []
    for p in parts:
        if len(p) > depth + 1:
            keys.append(_clean(p[depth]))
            leaves.append(_clean("_".join(p[depth + 1 :])))
        else:
            keys.append("other")
            leaves.append(_clean(p[-1]))
    return keys, leaves


def _clean(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name)
