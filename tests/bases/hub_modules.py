"""TF2 SavedModels following the reusable API, written by the tests."""

import numpy as np
import tensorflow as tf

REG_SCALE = 0.01


class ImageModule(tf.train.Checkpoint):
    """Conv -> batch-statistics normalization -> ReLU -> pooling -> dense,
    with a moving mean (non-trainable), a regularization loss, `training`,
    images of any size in [0, 1]."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.kernel = tf.Variable(
            rng.normal(size=(3, 3, 3, 4)).astype("float32") * 0.5,
            name="net/block1/conv/kernel",
        )
        self.moving_mean = tf.Variable(
            np.full(4, 0.1, "float32"),
            trainable=False,
            name="net/block1/bn/moving_mean",
        )
        self.dense = tf.Variable(
            rng.normal(size=(4, 6)).astype("float32"),
            name="net/block2/dense/kernel",
        )
        self.bias = tf.Variable(
            np.zeros(6, "float32"), name="net/block2/dense/bias"
        )
        # The reusable SavedModel API: variables listed as attributes.
        self.variables = [self.kernel, self.moving_mean, self.dense, self.bias]
        self.trainable_variables = [self.kernel, self.dense, self.bias]
        self.regularization_losses = [
            tf.function(
                lambda: REG_SCALE * tf.reduce_sum(tf.square(self.dense)),
                input_signature=[],
            )
        ]

    @tf.function
    def __call__(self, inputs, training=False):
        x = tf.nn.conv2d(inputs, self.kernel, 1, "SAME")
        if training:
            mean = tf.reduce_mean(x, [0, 1, 2])
            self.moving_mean.assign(0.9 * self.moving_mean + 0.1 * mean)
        else:
            mean = self.moving_mean
        x = tf.reduce_mean(tf.nn.relu(x - mean), [1, 2])
        return tf.matmul(x, self.dense) + self.bias


class TextModule(tf.train.Checkpoint):
    """Hashed word embeddings averaged per sentence; a signature with a
    dict output."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(1)
        self.table = tf.Variable(
            rng.normal(size=(32, 5)).astype("float32"),
            name="text/embedding/table",
        )
        self.variables = [self.table]
        self.trainable_variables = [self.table]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, sentences):
        words = tf.strings.split(sentences)
        ids = tf.strings.to_hash_bucket_fast(words, 32)
        return tf.reduce_mean(tf.gather(self.table, ids), axis=1)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(self, sentences):
        embedding = self(sentences)
        return {"embedding": embedding, "norm": tf.norm(embedding, axis=1)}


def write_image_module(path) -> str:
    module = ImageModule()
    spec = tf.TensorSpec([None, None, None, 3], tf.float32)
    for training in (False, True):
        module.__call__.get_concrete_function(spec, training=training)
    tf.saved_model.save(module, str(path))
    return str(path)


def write_text_module(path) -> str:
    module = TextModule()
    tf.saved_model.save(
        module, str(path), signatures={"serving_default": module.serve}
    )
    return str(path)
