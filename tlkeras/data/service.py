"""The `tf.data` service: decode and resize on other processes or hosts.

A user starts one dispatcher and any number of workers (`tlkeras
data-service dispatcher|worker`, or the functions below), then passes
`service="grpc://host:port"` to `image_dataset` or `text_dataset`: the
reading, decoding, resizing and batching run on the workers, and the
trainer receives batches.
"""

from typing import Optional

import tensorflow as tf

# "distributed_epoch": the workers split one pass over the files between
# them (each example once per epoch, order not fixed); "parallel_epochs":
# each worker makes a whole pass (each example once per worker).
PROCESSING_MODES = ("distributed_epoch", "parallel_epochs")


def check_service(service: Optional[str], processing_mode: str) -> None:
    """Check the `service` and `processing_mode` arguments.

    Example:

    >>> check_service("grpc://localhost:5000", "distributed_epoch")
    """
    if processing_mode not in PROCESSING_MODES:
        raise ValueError(
            f"`processing_mode` must be one of {PROCESSING_MODES}. "
            f"Received: processing_mode={processing_mode!r}"
        )
    if service is not None and (
        not isinstance(service, str) or "://" not in service
    ):
        raise ValueError(
            "`service` is the tf.data service's dispatcher address, "
            f"'grpc://host:port'. Received: service={service!r}"
        )


def distribute(batches, service: str, processing_mode: str):
    """`batches`, made by the service's workers
    (`tf.data.experimental.service.distribute`)."""
    return batches.apply(
        tf.data.experimental.service.distribute(
            processing_mode=processing_mode, service=service
        )
    )


def start_dispatcher(
    port: int, *, work_dir: Optional[str] = None
) -> tf.data.experimental.service.DispatchServer:
    """Start a `tf.data` service dispatcher on `port` (in this process; it
    serves until the process ends or `.stop()`). With `work_dir`, it
    journals its state there and survives a restart.

    Example:

    >>> server = start_dispatcher(0)
    >>> server.target.startswith("grpc://")
    True
    >>> server.stop()
    """
    config = tf.data.experimental.service.DispatcherConfig(
        port=port,
        work_dir=work_dir,
        fault_tolerant_mode=work_dir is not None,
    )
    return tf.data.experimental.service.DispatchServer(config)


def start_worker(
    port: int, dispatcher: str
) -> tf.data.experimental.service.WorkerServer:
    """Start a `tf.data` service worker on `port` that serves the
    dispatcher at `dispatcher` (`host:port` or `grpc://host:port`).

    Example:

    >>> dispatcher = start_dispatcher(0)
    >>> worker = start_worker(0, dispatcher.target)
    >>> worker.stop(); dispatcher.stop()
    """
    address = dispatcher.split("://", 1)[-1]
    config = tf.data.experimental.service.WorkerConfig(
        dispatcher_address=address, port=port
    )
    return tf.data.experimental.service.WorkerServer(config)
