"""Every reliance of tlkeras on Keras internals, in one place.

Keras 3 has no public API for a few things tlkeras must do: walk every
nested layer, set one layer's `trainable` flag without it cascading to its
sublayers, unbuild an optimizer so it can be rebuilt on other variables,
adopt an existing `tf.Variable` as a Keras variable. Each function below
wraps one such reliance, says which Keras behaviour it works around, and
has a test in `tests/utils/test_keras_internals.py` that fails when a Keras
upgrade changes that behaviour. Upgrading Keras is then this file's work.

Nothing else in tlkeras touches a private Keras attribute.
"""

import contextlib
import warnings
from typing import Iterator
from typing import List
from typing import Optional

import keras
import tensorflow as tf

# === Layers ===


def flatten_layers(
    layer: keras.layers.Layer, include_self: bool = True
) -> List[keras.layers.Layer]:
    """Every layer nested in `layer`, at any depth (`Layer._flatten_layers`).

    Keras has no public recursive walk: `Model.layers` lists only the top
    level, and a `HubLayer`'s blocks or a head's sublayers hide below it.
    """
    return list(layer._flatten_layers(include_self=include_self))


def set_own_trainable(layer: keras.layers.Layer, trainable: bool) -> None:
    """Set `layer`'s own `trainable` flag, leaving its sublayers alone.

    The public setter cascades to every sublayer (Keras `Layer.trainable`),
    so a container such as a base model cannot be opened without
    unfreezing everything in it. This sets `_trainable` and the `trainable`
    attribute of the layer's own variables only.
    """
    layer._trainable = bool(trainable)
    for variable in layer._trainable_variables:
        variable.trainable = bool(trainable)


def own_variables(layer: keras.layers.Layer) -> list:
    """The variables `layer` created itself, not its sublayers', in the
    order Keras's `Layer.save_own_variables` writes them ("0", "1"...)."""
    return layer._trainable_variables + layer._non_trainable_variables


def own_trainable_variables(layer: keras.layers.Layer) -> list:
    """The trainable variables `layer` holds itself (no sublayers')."""
    return list(layer._trainable_variables)


def lora_frozen_variable(layer: keras.layers.Layer):
    """The weight `enable_lora` froze, without the adapters: `_kernel`
    (`_embeddings` for `Embedding`).

    Keras's public `kernel` / `embeddings` property returns the merged
    `W + (alpha / rank) A B` once LoRA is enabled; the pretrained `W` alone
    is only reachable through the private attribute.
    """
    if isinstance(layer, keras.layers.Embedding):
        return layer._embeddings
    return layer._kernel


def lora_adapters(layer: keras.layers.Layer) -> tuple:
    """A LoRA-enabled layer's adapters `(A, B)`: `lora_kernel_a/b`, or
    `lora_embeddings_a/b` for `Embedding` (public, but named per class)."""
    if isinstance(layer, keras.layers.Embedding):
        return layer.lora_embeddings_a, layer.lora_embeddings_b
    return layer.lora_kernel_a, layer.lora_kernel_b


def track_variable(layer: keras.layers.Layer, variable) -> None:
    """Make `layer` own `variable`, created outside its `build`
    (`Layer._track_variable`; `add_weight` always creates a new one)."""
    layer._track_variable(variable)


class AdoptedVariable(keras.Variable):
    """A Keras variable that *is* an existing `tf.Variable`, not a copy.

    `keras.Variable` always allocates new storage from an initializer
    (`TFSMLayer` copies a SavedModel's variables this way); a TF-Hub module's
    functions read its own variables, so training must update those. This
    overrides the private `_initialize_with_initializer` hook to hand Keras
    the module's variable itself.
    """

    def __init__(self, variable: tf.Variable, name: str):
        self._adopted = variable
        super().__init__(
            initializer=_never_called,
            shape=tuple(variable.shape),
            dtype=variable.dtype.name,
            trainable=variable.trainable,
            name=name,
        )

    def _initialize_with_initializer(self, initializer):
        self._initialize(self._adopted)


def _never_called(shape, dtype):  # pragma: no cover - replaced above
    raise AssertionError("an adopted variable is never initialized")


# === Optimizers ===


def current_learning_rate(optimizer: keras.optimizers.Optimizer):
    """The rate the optimizer applies at its current step, schedules
    evaluated (`Optimizer._get_current_learning_rate`; the public
    `learning_rate` property does the same but raises on MultiOptimizer)."""
    return optimizer._get_current_learning_rate()


def has_fixed_learning_rate(optimizer: keras.optimizers.Optimizer) -> bool:
    """Whether the optimizer's rate is a number, not a schedule or callable
    (`Optimizer._learning_rate`: the public property evaluates schedules)."""
    rate = optimizer._learning_rate
    schedule = keras.optimizers.schedules.LearningRateSchedule
    return not (isinstance(rate, schedule) or callable(rate))


def tracked_variables(optimizer: keras.optimizers.Optimizer) -> list:
    """The variables a built optimizer updates (`_trainable_variables`)."""
    return list(getattr(optimizer, "_trainable_variables", []))


def unbuild_optimizer(optimizer: keras.optimizers.Optimizer) -> list:
    """Unbuild `optimizer` in place; return the state variables dropped.

    A built Keras optimizer refuses variables it has not seen ("Unknown
    variable ... recreate a new optimizer") and `build` returns early once
    built, so it cannot follow a trainability change. Keras keeps the
    variables created before `build` (iterations, learning rate) first in
    `_variables`, the state of each trained variable after them: this drops
    the latter and resets the bookkeeping `build` fills in.
    """
    keep = len(
        optimizer.__class__.from_config(optimizer.get_config())._variables
    )
    dropped = optimizer._variables[keep:]
    # The tracker appends to this very list object: shrink it in place.
    del optimizer._variables[keep:]
    optimizer._trainable_variables = []
    optimizer._trainable_variables_indices = {}
    optimizer.built = False
    return dropped


@contextlib.contextmanager
def record_created_variables(optimizers: list, created: list) -> Iterator:
    """Append `(reference variable or None, new variable)` to `created` for
    every state variable the given optimizers create inside the block.

    Keras names a slot after the variable it belongs to but keeps no public
    link from a slot to its variable; `add_variable_from_reference` is where
    that link exists. The methods are wrapped on these instances only, for
    the duration of the block.
    """
    for opt in optimizers:
        original_ref = opt.add_variable_from_reference
        original_add = opt.add_variable
        state = {"ref": None}

        def add_variable_from_reference(
            reference_variable,
            *args,
            _state=state,
            _original=original_ref,
            **kwargs,
        ):
            _state["ref"] = reference_variable
            try:
                return _original(reference_variable, *args, **kwargs)
            finally:
                _state["ref"] = None

        def add_variable(*args, _state=state, _original=original_add, **kw):
            variable = _original(*args, **kw)
            created.append((_state["ref"], variable))
            return variable

        opt.add_variable_from_reference = add_variable_from_reference
        opt.add_variable = add_variable
    try:
        yield
    finally:
        for opt in optimizers:
            del opt.add_variable_from_reference
            del opt.add_variable


def skip_single_replica_all_reduce(optimizer) -> None:
    """Skip the gradient all-reduce when no distribution strategy is active.

    Keras's TensorFlow optimizers all-reduce gradients through the replica
    context even under the default (single-replica) strategy, where a sum
    over one replica is the identity. That all-reduce registers a custom
    gradient for every trace, which keeps each retraced train function
    alive: plain Keras grows by over 100 MiB per retrace of a MobileNetV2.
    Under a real `tf.distribute` strategy the original all-reduce runs.
    Only this optimizer object is changed (`_all_reduce_sum_gradients`),
    never Keras's classes; calling it again does nothing.
    """
    if getattr(optimizer, "_tlk_skips_all_reduce", False):
        return
    original = getattr(optimizer, "_all_reduce_sum_gradients", None)
    if original is None:
        return

    def all_reduce(grads_and_vars, _original=original):
        if tf.distribute.has_strategy():
            return _original(grads_and_vars)
        return list(grads_and_vars)

    optimizer._all_reduce_sum_gradients = all_reduce
    optimizer._tlk_skips_all_reduce = True


# === Saving ===


def in_safe_mode():
    """Whether the `.keras` load in progress runs in `safe_mode`: True
    (the default), False (`safe_mode=False` or
    `keras.config.enable_unsafe_deserialization()`), or None outside any
    load (`serialization_lib.in_safe_mode`, what Keras's own `TFSMLayer`
    and `Lambda` consult; Keras does not pass `safe_mode` to `from_config`).
    """
    from keras.src.saving import serialization_lib

    return serialization_lib.in_safe_mode()


# === Models ===


def dataset_ops(dataset: tf.data.Dataset) -> Optional[set]:
    """The names of the ops a `tf.data` pipeline runs, those of the
    functions it maps included, or `None` when it cannot be read (Python
    generators, `py_function`): nothing can be known then.

    Walks the pipeline's own Python objects (`Dataset._inputs()`, its
    mapped functions `Dataset._functions()`, private TensorFlow API) rather
    than serializing its graph (`Dataset._as_serialized_graph`), which
    copies every tensor it holds: a pipeline over 1.2 GB of arrays took
    6-12 s that way, the walk takes under a millisecond. A stage is named
    by its class (`ShuffleDataset`, `RandomDataset`...), a function's ops
    by their op names. A function that captures another pipeline (e.g.
    `interleave(lambda _: other)`) hides it from the walk: then, and only
    then, the graph is serialized.
    """
    ops, seen, stack = set(), set(), [dataset]
    try:
        while stack:
            stage = stack.pop()
            if id(stage) in seen:
                continue
            seen.add(id(stage))
            ops.add(type(stage).__name__.lstrip("_"))
            for wrapper in stage._functions():
                function = wrapper.function
                if any(t.dtype == tf.variant for t in function.captured_inputs):
                    return _serialized_ops(dataset)
                ops |= _function_ops(function.graph.as_graph_def())
            stack.extend(stage._inputs())
    except Exception:  # noqa: BLE001 - any failure means "cannot tell"
        return None
    return None if ops & _UNREADABLE else ops


_UNREADABLE = {"PyFunc", "EagerPyFunc", "GeneratorDataset"}


def _function_ops(graph) -> set:
    return {node.op for node in graph.node} | {
        node.op
        for function in graph.library.function
        for node in function.node_def
    }


def _serialized_ops(dataset: tf.data.Dataset) -> Optional[set]:
    serialized = dataset._as_serialized_graph().numpy()
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(serialized)
    ops = _function_ops(graph)
    return None if ops & _UNREADABLE else ops


def draws_random_numbers(
    dataset: tf.data.Dataset, unreadable: bool = True
) -> bool:
    """Whether a `tf.data` pipeline draws random numbers anywhere (random
    augmentation, `Dataset.random`...; an op named `*Random*`); shuffling
    alone does not count. A pipeline that cannot be read gives
    `unreadable`."""
    ops = dataset_ops(dataset)
    if ops is None:
        return unreadable
    return any("Random" in op for op in ops)


def shuffles(dataset: tf.data.Dataset) -> bool:
    """Whether a `tf.data` pipeline shuffles (a `Shuffle*` op)."""
    ops = dataset_ops(dataset) or set()
    return any(op.startswith("Shuffle") for op in ops)


def quiet_retracing(function) -> None:
    """Keep TensorFlow from warning that `function` (a `tf.function`)
    retraces too often (`Function._omit_frequent_tracing_warning`, private
    TensorFlow API).

    TensorFlow counts traces per Python function across every
    `tf.function` made from it, and warns after five in a row. A feature
    pass is traced once per extractor (a new `keras.Model` for each run):
    the five folds of a small target measurement are five extractors, five
    traces, each the right one, and no reason for the warning.
    """
    function._omit_frequent_tracing_warning = True


def retrace_train_function(model: keras.Model) -> None:
    """Have `fit` use a newly traced train function from its next step.

    Keras traces `trainable` into the train function and does not notice a
    later change (`Trainer._warn_if_trainable_state_changed` is never
    reached in 3.15). `fit` looks `model.train_function` up at every step,
    so replacing it takes effect even inside a running `fit`. The base
    class's method is called: a subclass override may be the caller.
    """
    keras.Model.make_train_function(model, force=True)


# === Multi-worker training ===


def is_multi_worker(strategy) -> bool:
    """Whether `strategy` all-reduces across workers (Keras's own test,
    `_collective_all_reduce_multi_worker` in its TensorFlow trainer)."""
    from keras.src.backend.tensorflow import trainer  # noqa: PLC0415

    return bool(trainer._collective_all_reduce_multi_worker(strategy))


def local_batch(strategy, batch):
    """A distributed batch as this worker's first replica sees it.

    Keras 3.15's `_maybe_symbolic_build` averages the first batch across
    workers with `strategy.reduce(..., axis=None)` just to learn its shapes,
    which `MultiWorkerMirroredStrategy` refuses ("Attempt to convert a value
    (PerReplica...)", keras-team/keras#20585); the local values have the
    same shapes and dtypes.
    """
    return tf.nest.map_structure(
        lambda v: (
            strategy.experimental_local_results(v)[0]
            if isinstance(v, tf.distribute.DistributedValues)
            else v
        ),
        batch,
    )


def worker_index(strategy) -> int:
    """This worker's index in a multi-worker cluster (0 for the chief, and
    on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not is_multi_worker(strategy):
        return 0
    if resolver.task_type == "chief":
        return 0
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return int(resolver.task_id) + (1 if has_chief else 0)


def set_backup_dir(callback, folder: str) -> None:
    """Point a `keras.callbacks.BackupAndRestore` at another folder: the
    paths it derives in `__init__` (`_weights_path`, ...: private)."""
    from keras.src.utils import file_utils  # noqa: PLC0415

    callback.backup_dir = folder
    callback._weights_path = file_utils.join(folder, "latest.weights.h5")
    callback._training_metadata_path = file_utils.join(
        folder, "training_metadata.json"
    )
    callback._prev_weights_path = f"{callback._weights_path}.bkp"
    callback._prev_training_metadata_path = (
        f"{callback._training_metadata_path}.bkp"
    )


@contextlib.contextmanager
def multi_worker_reductions(strategy) -> Iterator:
    """Inside, Keras's TensorFlow trainer reduces step outputs correctly
    under `MultiWorkerMirroredStrategy`.

    Keras 3.15 reduces every step output (the loss and metric results,
    scalars) with `strategy.reduce("MEAN", v, axis=0)` across workers,
    which fails for a scalar ("Invalid reduction dimension 0",
    keras-team/keras#20585). This swaps the trainer module's
    `reduce_per_replica` for one that reduces scalars with `axis=None`
    (their values are already global: metric variables are all-reduced)
    and hands everything else to Keras's, and puts it back on exit. Other
    strategies are left alone.
    """
    if not is_multi_worker(strategy):
        yield
        return
    from keras.src.backend.tensorflow import trainer  # noqa: PLC0415

    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean"):
            return original(values, strategy, reduction)

        def reduce(value):
            local = local_batch(strategy, value)
            axis = None if local.shape.rank == 0 else 0
            return strategy.reduce("MEAN", value, axis=axis)

        return tf.nest.map_structure(reduce, values)

    trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        trainer.reduce_per_replica = original


@contextlib.contextmanager
def quiet_end_of_data(x, steps) -> Iterator:
    """Silence Keras's "Your input ran out of data" warning where it is
    spurious: at the end of the first pass over a `tf.data.Dataset` of
    unknown length (one that skips unreadable files, say) when no step
    count was given. The warning is matched by its text."""
    with warnings.catch_warnings():
        unknown = isinstance(x, tf.data.Dataset) and int(
            x.cardinality()
        ) == int(tf.data.UNKNOWN_CARDINALITY)
        if unknown and steps is None:
            warnings.filterwarnings(
                "ignore", "Your input ran out of data", UserWarning
            )
        yield


# === KerasTuner ===


def keras_tuner_checkpoints(callbacks) -> list:
    """The callbacks KerasTuner's `Tuner.run_trial` adds to write each
    trial's best-epoch weights (`tuner_utils.SaveBestEpoch`, private; what
    `Tuner.load_model` reads back). Empty without KerasTuner."""
    try:
        from keras_tuner.src.engine.tuner_utils import SaveBestEpoch
    except ImportError:  # pragma: no cover - depends on the install
        return []
    return [c for c in callbacks or [] if isinstance(c, SaveBestEpoch)]


def graph_node_counts(layers) -> tuple:
    """How many functional-graph nodes (calls on symbolic inputs) each of
    `layers` holds, inbound and outbound. Keras keeps every such call's node
    on the layer, so a layer shared by many functional models keeps each
    model's graph reachable."""
    return tuple(
        (len(layer._inbound_nodes), len(layer._outbound_nodes))
        for layer in layers
    )


def drop_graph_nodes(layers, counts) -> None:
    """Forget the nodes `layers` gained since `graph_node_counts` gave
    `counts`. Only for nodes of models that are gone: a live model's
    `get_config` finds its nodes by their index on the layer."""
    for layer, (inbound, outbound) in zip(layers, counts):
        del layer._inbound_nodes[inbound:]
        del layer._outbound_nodes[outbound:]
