"""What `tlkeras export`, `evaluate` and `train` do, as functions."""

import contextlib
import json
import os
import time

import keras


def load(path: str) -> keras.Model:
    """A `.keras` model, with a clear error for a missing file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r} (a .keras file).")
    return keras.saving.load_model(path)


def dataset_for(model, source, *, batch_size, split=None, **options):
    """`source` read the way `model` takes inputs: images at its input
    size, or texts for a model on a text module."""
    from tlkeras import data

    if str(model.inputs[0].dtype) == "string":
        return data.text_dataset(
            source, batch_size=batch_size, split=split, shuffle=False, **options
        )
    height, width = model.input_shape[1:3]
    return data.image_dataset(
        source,
        image_size=(height, width),
        batch_size=batch_size,
        split=split,
        shuffle=False,
    )


def export(args) -> int:
    from tlkeras import export as exports

    model = load(args.model)
    exports.saved_model(
        model, args.out, input_dtype=args.input_dtype, overwrite=args.overwrite
    )
    print(f"SavedModel written to {args.out} (raw inputs)")
    if args.tflite:
        exports.tflite(
            model,
            args.tflite,
            input_dtype=args.input_dtype,
            quantize=args.quantize,
            overwrite=args.overwrite,
        )
        print(f"LiteRT file written to {args.tflite}")
    return 0


def evaluate(args) -> int:
    model = load(args.model)
    reported = getattr(model, "task", None) not in (None, "features")
    if args.tta is not None and not reported:
        raise ValueError(
            f"--tta {args.tta} averages predictions for the report, and "
            f"{args.model} is not a tlkeras classifier or regressor."
        )
    options = {}
    if args.text_column is not None:
        options["text_column"] = _column(args.text_column)
    if args.label_column is not None:
        options["label_column"] = _column(args.label_column)
    data = dataset_for(
        model,
        args.data,
        batch_size=args.batch_size,
        split=args.split,
        **options,
    )
    known = getattr(model, "class_names", None)
    if known and data.class_names and list(known) != list(data.class_names):
        raise ValueError(
            f"The data's classes {data.class_names} differ from the model's "
            f"{known}; labels would be misread."
        )
    if not model.compiled:
        model.compile()
    results = model.evaluate(data, return_dict=True, verbose=args.verbose)
    if reported:
        from tlkeras.evaluation import report

        evaluation = report(model, data, tta=args.tta)
        path = args.report or os.path.splitext(args.model)[0] + "_report.json"
        evaluation.to_json(path)
        print(f"{evaluation}\n\nreport written to {path}")
        if args.tta is not None:
            # Keras's figures stay as evaluate gives them; the report's
            # join them under their own names.
            results.update(
                {f"tta_{k}": v for k, v in evaluation.metrics.items()}
            )
    print(json.dumps({k: round(float(v), 6) for k, v in results.items()}))
    return 0


def _training_data(args, size):
    """(training, validation) datasets: a folder split by
    `--validation-split`, or a tfds dataset's `train` split cut by the same
    share with tfds split strings (`train[:80%]`, `train[80%:]`)."""
    import tlkeras as tlk

    options = dict(
        image_size=size,
        batch_size=args.batch_size,
        seed=args.seed,
        service=getattr(args, "data_service", None),
    )
    if not args.data.startswith("tfds:"):
        return tlk.data.image_dataset(
            args.data,
            validation_split=args.validation_split,
            subset="both",
            augment=args.augment,
            **options,
        )
    share = args.validation_split
    if not 0 < share < 1:
        raise ValueError(
            "--validation-split must be in (0, 1). Received: "
            f"{args.validation_split!r}"
        )
    cut = round(100 * (1 - share))
    training = tlk.data.image_dataset(
        args.data, split=f"train[:{cut}%]", augment=args.augment, **options
    )
    validation = tlk.data.image_dataset(
        args.data, split=f"train[{cut}%:]", shuffle=False, **options
    )
    return training, validation


def data_service(args) -> int:
    """`tlkeras data-service dispatcher|worker`: serve until stopped."""
    import tlkeras as tlk

    if args.role == "dispatcher":
        server = tlk.data.start_dispatcher(args.port, work_dir=args.work_dir)
    else:
        if not args.dispatcher:
            raise ValueError(
                "A worker needs --dispatcher host:port (the dispatcher's "
                "address)."
            )
        server = tlk.data.start_worker(args.port, args.dispatcher)
    print(
        f"tf.data service {args.role} serving on port {args.port}", flush=True
    )
    server.join()
    return 0


def _cluster_strategy():
    """`MultiWorkerMirroredStrategy` when `TF_CONFIG` describes a cluster
    (it must be made before anything starts TensorFlow's runtime), else
    `None`."""
    if not os.environ.get("TF_CONFIG"):
        return None
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    resolver = strategy.cluster_resolver
    workers = len(resolver.cluster_spec().as_dict().get("worker", []))
    print(
        f"Training on {workers} workers with MultiWorkerMirroredStrategy "
        f"(TF_CONFIG; this is {resolver.task_type} {resolver.task_id}): "
        "--batch-size is the global batch.",
        flush=True,
    )
    return strategy


def train(args) -> int:
    strategy = _cluster_strategy()
    size = (args.image_size, args.image_size)
    train_data, val_data = _training_data(args, size)
    keras.utils.set_random_seed(args.seed)
    with strategy.scope() if strategy else contextlib.nullcontext():
        return _train(args, size, train_data, val_data, strategy)


def _train(args, size, train_data, val_data, strategy) -> int:
    import tlkeras as tlk
    from tlkeras._utils import keras_internals
    from tlkeras._utils.atomic import atomic_path
    from tlkeras._utils.atomic import write_text

    model = tlk.build_classifier(
        args.base,
        len(train_data.class_names),
        input_shape=size + (3,),
        weights=None if args.weights == "none" else args.weights,
        base_kwargs=json.loads(args.base_kwargs) if args.base_kwargs else None,
        class_names=train_data.class_names,
    )
    start = time.perf_counter()
    if args.strategy == "auto":
        # The recipe for the task and data size; it keeps its best epoch.
        history = tlk.recipes.auto(
            model,
            train_data,
            val_data,
            lr=args.lr,
            fine_tune_epochs=args.epochs,
            verbose=args.verbose,
        )
        best_epoch = history.best_epoch
    else:
        # As EarlyStopping(restore_best_weights=True), across both stages.
        best = tlk.callbacks.BestWeights("val_loss")
        history = tlk.recipes.run_strategy(
            model,
            args.strategy,
            train_data,
            val_data,
            epochs=args.epochs,
            lr=args.lr,
            verbose=args.verbose,
            callbacks=[best],
        )
        best_epoch = best.restore()
    seconds = time.perf_counter() - start
    final = model.evaluate(val_data, return_dict=True, verbose=0)
    if strategy is not None and keras_internals.worker_index(strategy):
        # Saving reads the mirrored weights with collective ops, so every
        # worker saves; as Keras 2 did, the others into a temporary folder.
        import shutil
        import tempfile

        folder = tempfile.mkdtemp()
        model.save(os.path.join(folder, "model.keras"))
        shutil.rmtree(folder, ignore_errors=True)
        return 0
    os.makedirs(args.out, exist_ok=True)
    with atomic_path(os.path.join(args.out, "model.keras")) as tmp:
        model.save(tmp)
    report = {
        "base": args.base,
        "strategy": args.strategy,
        "recipe": getattr(history, "recipe", args.strategy),
        "target": getattr(history, "target", None),
        "classes": train_data.class_names,
        "epochs": args.epochs,
        "seconds": round(seconds, 1),
        "best_epoch": None if best_epoch is None else best_epoch + 1,
        "validation": {k: float(v) for k, v in final.items()},
        "history": {
            k: [float(v) for v in values]
            for k, values in history.history.items()
        },
    }
    write_text(
        os.path.join(args.out, "report.json"), json.dumps(report, indent=2)
    )
    chose = ""
    if args.strategy == "auto":
        chose = f": {history.recipe} (target {history.target!r})"
    print(f"\n{'base':12} {args.base}\n{'strategy':12} {args.strategy}{chose}")
    if best_epoch is not None:
        print(f"{'best epoch':12} {best_epoch + 1} (lowest val loss; saved)")
    for key, value in final.items():
        print(f"{'val ' + key:12} {value:.4f}")
    print(f"{'seconds':12} {seconds:.1f}\nsaved        {args.out}/model.keras")
    return 0


def _column(value: str):
    return int(value) if value.isdigit() else value


def compare(args) -> int:
    import tlkeras as tlk

    size = (args.image_size, args.image_size)
    names = [s.strip() for s in args.strategies.split(",") if s.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if args.test:
        train_data = tlk.data.image_dataset(
            args.data, image_size=size, batch_size=args.batch_size, seed=0
        )
        test_data = tlk.data.image_dataset(
            args.test,
            image_size=size,
            batch_size=args.batch_size,
            shuffle=False,
        )
    else:
        train_data, test_data = tlk.data.image_dataset(
            args.data,
            image_size=size,
            batch_size=args.batch_size,
            validation_split=args.validation_split,
            subset="both",
            seed=0,
        )
    table = tlk.compare(
        names,
        train_data,
        test_data,
        base=args.base,
        input_shape=size + (3,),
        weights=None if args.weights == "none" else args.weights,
        base_kwargs=json.loads(args.base_kwargs) if args.base_kwargs else None,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        seeds=seeds,
        class_names=train_data.class_names,
        out=args.out,
        title=f"{args.base} on {os.path.basename(os.path.normpath(args.data))}",
        verbose=args.verbose,
    )
    print(f"\n{table}\n\nwritten to {args.out}")
    return 0
