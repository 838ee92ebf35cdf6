"""`TransferHyperModel`: KerasTuner searches over heads, learning rates and
unfreeze depth, with the pretrained base read once and frozen-base trials
trained on cached features."""

import warnings
import weakref
from typing import Optional

import keras

from tlkeras import freezing
from tlkeras._utils import keras_internals
from tlkeras.builders import TransferModel
from tlkeras.builders import build_classifier
from tlkeras.cached import augments
from tlkeras.freezing import TrainTop
from tlkeras.freezing import layer_groups
from tlkeras.freezing import parse_policy
from tlkeras.heads import MLP
from tlkeras.heads import Linear
from tlkeras.heads import resolve_head
from tlkeras.strategies import FeatureCache
from tlkeras.strategies import extractor_of
from tlkeras.strategies import fit_head
from tlkeras.tasks import get_task
from tlkeras.training import discriminative
from tlkeras.tuning.search_space import DEFAULT_SPACE
from tlkeras.tuning.search_space import check_search
from tlkeras.tuning.search_space import sample

# This module is imported on first use of `tlkeras.tuning.TransferHyperModel`
# (see tlkeras/tuning/__init__.py), so `import tlkeras` never loads
# KerasTuner.
try:
    import keras_tuner
except ImportError:  # pragma: no cover - depends on the install
    keras_tuner = None

# Pretrained base weights by (base, input_shape, weights, base_kwargs): read
# from disk once per process.
_PRETRAINED = {}


class TransferHyperModel(keras_tuner.HyperModel if keras_tuner else object):
    """A KerasTuner hypermodel for transfer learning.

    The space covers the head (`head_layers` 0-2 hidden layers of `units`,
    `dropout`, `l2`), the head's `learning_rate` and the discriminative
    `spread` (head rate / rate of the lowest trained group), how many base
    groups to `unfreeze` (0 to all: the freeze policy
    `tlkeras.freezing.TrainTop(unfreeze)`), and the `optimizer` (adam,
    adamw, sgd). Fix any of them with a value, narrow it with a list
    (choice) or a `(low, high)` tuple (range): `search={"unfreeze": 0,
    "units": [128, 256], "learning_rate": (1e-4, 1e-3)}`. Or fix what
    trains with any freeze policy instead of `unfreeze`:
    `search={"freeze": tlkeras.freezing.TrainGroups(["conv5"])}`.

    Fast by construction: the pretrained base is read from disk once per
    process (later trials copy its weights from memory), and trials whose
    base is frozen train the head alone on features computed once per
    dataset and reused by every such trial (`cache_features=True`). Data
    that augments at random (`tlkeras.cached.augments`: `tlkeras.data` with
    `augment=`, or a pipeline that draws random numbers) would have one
    draw frozen in the cache: its trials train the full model, with a
    warning that says so (`cache_features=False` says it first). Works
    with RandomSearch, BayesianOptimization and Hyperband, and with
    KerasTuner's distributed tuning (each worker process keeps its own
    caches).

    Args:
        base: as for `tlkeras.build_classifier`.
        num_classes: int.
        input_shape: tuple, the input shape.
        weights: as for `tlkeras.build_classifier`. Defaults to
            `"imagenet"`.
        base_kwargs: dict or `None`. Defaults to `None`.
        search: dict of overrides, as above. Defaults to `None`.
        cache_features: bool. Defaults to `True`.
        batch_size: int, the batch size of cached-feature training (arrays
            use it too). Defaults to `32`.
        name, tunable: as `keras_tuner.HyperModel`.

    Example:

    >>> import keras_tuner, numpy as np, tempfile
    >>> hm = TransferHyperModel(
    ...     "mobilenet_v2", 2, input_shape=(32, 32, 3), weights=None,
    ...     base_kwargs={"alpha": 0.35}, search={"unfreeze": 0})
    >>> tuner = keras_tuner.RandomSearch(
    ...     hm, objective="val_accuracy", max_trials=2,
    ...     directory=tempfile.mkdtemp(), seed=0)
    >>> x = np.random.rand(8, 32, 32, 3) * 255; y = np.arange(8) % 2
    >>> tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0)
    >>> [t.status for t in tuner.oracle.trials.values()]
    ['COMPLETED', 'COMPLETED']
    """

    def __init__(
        self,
        base,
        num_classes: int,
        *,
        input_shape,
        weights: Optional[str] = "imagenet",
        base_kwargs: Optional[dict] = None,
        search: Optional[dict] = None,
        cache_features: bool = True,
        batch_size: int = 32,
        name: Optional[str] = None,
        tunable: bool = True,
    ):
        if keras_tuner is None:
            raise ImportError(
                "TransferHyperModel needs KerasTuner: `pip install "
                "tlkeras[tuner]`."
            )
        super().__init__(name=name, tunable=tunable)
        self.base = base
        self.num_classes = num_classes
        self.input_shape = tuple(input_shape)
        self.weights = weights
        self.base_kwargs = dict(base_kwargs or {})
        self.search = check_search(search)
        self.cache_features = cache_features
        self.batch_size = batch_size
        self._features = FeatureCache()
        self._warned_augmentation = False

    # === Building ===

    def _key(self):
        base = self.base if isinstance(self.base, str) else id(self.base)
        return (base, self.input_shape, self.weights, repr(self.base_kwargs))

    def _model(self, head, freeze):
        """A classifier whose base has the pretrained weights, read from
        disk only the first time in this process. Frozen-base trials share
        one frozen base (and preprocessing): their build makes only the head
        and the functional graph around it."""
        frozen = self._trains_nothing(freeze)
        shared = getattr(self, "_frozen_model", None)
        if frozen and shared is not None:
            self._nodes.release()
            before = self._nodes.counts()
            model = TransferModel(
                shared.base,
                resolve_head(head).with_outputs(*self._outputs()),
                preprocessing=shared.preprocessing,
                input_shape=shared.input_shape_,
                input_dtype=shared.inputs_dtype,
                base_name=shared.base_name,
                task=shared.task,
                logits=shared.logits,
                bn=shared.bn,
            )
            freezing.apply(model, "base")
            self._nodes.built(model, before)
            return model
        model = self._fresh_model(head, freeze)
        if frozen and self.cache_features:
            # Only frozen trials use it: no trial ever trains this base.
            self._frozen_model = model
            self._nodes = _SharedNodes([model.base, model.preprocessing])
        return model

    def _outputs(self):
        task = get_task("binary" if self.num_classes == 1 else "multiclass")
        return self.num_classes, task.output_activation(False)

    def _trains_nothing(self, freeze) -> bool:
        policy = parse_policy(freeze)
        return policy in (parse_policy("base"), TrainTop(0))

    def _fresh_model(self, head, freeze):
        pretrained = _PRETRAINED.get(self._key())
        base, weights = self.base, self.weights
        if isinstance(base, keras.Model):
            base = keras.models.clone_model(self.base)
            base.set_weights(self.base.get_weights())
        elif pretrained is not None:
            weights = None  # random init, replaced below: no disk read
        model = build_classifier(
            base,
            self.num_classes,
            input_shape=self.input_shape,
            weights=weights,
            base_kwargs=self.base_kwargs or None,
            head=head,
            freeze=freeze,
        )
        if isinstance(self.base, str) and not self.base.startswith("hub:"):
            # Hub modules load their own variables each time.
            if pretrained is None:
                _PRETRAINED[self._key()] = model.base.get_weights()
            else:
                model.base.set_weights(pretrained)
        return model

    def _num_groups(self) -> int:
        if not hasattr(self, "_groups"):
            model = self._model("linear", "base")
            self._groups = len(layer_groups(model)) - 1
        return self._groups

    def build(self, hp):
        policy = self.search.get("freeze")
        value = {
            name: sample(
                hp, name, self.search.get(name, ...), self._num_groups()
            )
            for name in DEFAULT_SPACE
            if not (name == "unfreeze" and policy is not None)
        }
        if value["head_layers"]:
            head = MLP(
                units=(value["units"],) * value["head_layers"],
                dropout=value["dropout"],
                l2=value["l2"],
            )
        else:
            head = Linear(dropout=value["dropout"], l2=value["l2"])
        if policy is None:
            policy = TrainTop(value["unfreeze"])
        model = self._model(head, policy)
        model.compile(optimizer=self._optimizer(model, value))
        # Built now, so KerasTuner's checkpoints restore the optimizer state
        # too (an unbuilt optimizer skips it with a warning).
        model.optimizer.build(model.trainable_variables)
        return model

    def _optimizer(self, model, value):
        groups = layer_groups(model)
        trained = [i for i, g in enumerate(groups) if g.trainable]
        lr, spread = value["learning_rate"], value["spread"]
        # Geometric from lr / spread (lowest trained group) to lr (head);
        # frozen groups get no optimizer.
        last = max(len(trained) - 1, 1)
        rates = [0.0] * len(groups)
        for rank, index in enumerate(trained):
            rates[index] = lr / spread ** ((len(trained) - 1 - rank) / last)
        kwargs = {"momentum": 0.9} if value["optimizer"] == "sgd" else {}
        return discriminative(
            model, optimizer=value["optimizer"], lr=rates, **kwargs
        )

    # === Training ===

    def fit(self, hp, model, *args, **kwargs):
        """Train `model`; a trial whose base is frozen trains its head on
        cached features (same epochs, callbacks and logs)."""
        if not self.cache_features or model.base.trainable_variables:
            return model.fit(*args, **kwargs)
        if augments(args[0] if args else kwargs.get("x")):
            if not self._warned_augmentation:
                self._warned_augmentation = True
                warnings.warn(
                    "The training data augments at random, and cached "
                    "features would freeze one draw: frozen-base trials "
                    "train the full model instead, their augmentation live. "
                    "Pass cache_features=False to say so, or data without "
                    "random augmentation to train them on cached features.",
                    stacklevel=2,
                )
            return model.fit(*args, **kwargs)
        return self._fit_on_features(model, *args, **kwargs)

    @property
    def feature_computations(self) -> int:
        """How many passes over data computed features (tests, logs)."""
        return self._features.computations

    def _fit_on_features(self, model, x=None, y=None, **kwargs):
        # The same mechanism as tlkeras.cached.fit_cached: features
        # once per dataset, the model's own head trained on them, callbacks
        # (KerasTuner's checkpoints included) run against the full model.
        verbose = kwargs.get("verbose", 1)
        batch_size = kwargs.pop("batch_size", None) or self.batch_size
        if getattr(self, "_extractor", None) is None:
            # One for all trials: they share the frozen base (and the
            # pooling: heads differ only after it).
            self._extractor = extractor_of(model)
        extractor = self._extractor
        train, validation = self._features.get_both(
            extractor,
            x,
            y,
            kwargs.pop("validation_data", None),
            batch_size=batch_size,
            verbose=verbose,
        )
        # Step counts describe the original data, not the cached arrays;
        # the order is the user's (`shuffle`, default True as in `fit`).
        for key in ("steps_per_epoch", "validation_steps"):
            kwargs.pop(key, None)
        callbacks = kwargs.pop("callbacks", None)
        return fit_head(
            model,
            train,
            validation=validation,
            batch_size=batch_size,
            callbacks=callbacks,
            shuffle=kwargs.pop("shuffle", True),
            # KerasTuner reads the best epoch's checkpoint after the trial
            # (`load_model`, `get_best_models`): one head-only write at the
            # end instead of the full model at every improving epoch.
            head_checkpoints=keras_internals.keras_tuner_checkpoints(callbacks),
            # One step per call unless the user compiled for more: a
            # trial's few epochs do not repay tracing a multi-step loop
            # (bench_tuning.py).
            steps_per_execution=getattr(model, "steps_per_execution", 1),
            **kwargs,
        )


class _SharedNodes:
    """The functional-graph nodes that frozen-base trials add to the shared
    base and preprocessing layers, dropped once their models are gone.

    Keras keeps every call of a layer on symbolic inputs as a node on that
    layer, so each trial's model graph would stay reachable from the shared
    base: memory grew and every garbage collection (KerasTuner runs two per
    trial) slowed, trial after trial. Nodes are dropped newest first, and
    only while the newest tracked model is gone and nothing else was built
    on the layers since: a live model (one `get_best_models` returned, or
    any the user built) keeps its nodes, and so every older one.
    """

    def __init__(self, layers):
        self.layers = [layer for layer in layers if layer is not None]
        self._built = []  # (weakref to model, counts before, counts after)

    def counts(self):
        return keras_internals.graph_node_counts(self.layers)

    def built(self, model, before) -> None:
        self._built.append((weakref.ref(model), before, self.counts()))

    def release(self) -> None:
        while self._built:
            model, before, after = self._built[-1]
            if model() is not None or self.counts() != after:
                return
            keras_internals.drop_graph_nodes(self.layers, before)
            self._built.pop()
