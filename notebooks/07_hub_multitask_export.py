# %% [markdown]
# # 07 · TF-Hub bases, multi-task models and export
#
# A base can come from TF-Hub (a SavedModel folder or handle), wrapped in
# tlkeras's own Keras 3 layer; one base can serve several tasks through named
# heads; and a trained model exports to a SavedModel or a LiteRT (TFLite)
# file whose serving signature takes raw pixels.

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tempfile

import keras
import numpy as np
import tensorflow as tf

import tlkeras as tlk
from _digits import fresh
from _setup import HUB
from tlkeras.demo.digits import load_digits_split, pretrain_source

# %% [markdown]
# **A TF-Hub base** (the MobileNetV3 feature-vector module in the shared
# assets, when present). Its variables become the layer's weights, split
# into blocks that freeze and train like any layer group.

# %%
if HUB.is_dir():
    hub_model = tlk.build_classifier(f"hub:{HUB}", 2, input_shape=(96, 96, 3))
    print([g.name for g in tlk.layer_groups(hub_model)][:4], "...")
    print(hub_model.predict(np.zeros((1, 96, 96, 3), "float32"), verbose=0))
else:
    print(f"no TF-Hub module at {HUB}: skipped")

# %% [markdown]
# **Multi-task.** One base, three heads: the digit (0-4), whether it is even
# (binary), and its mean ink (regression). Labels a head lacks are marked
# `-1` or NaN and count for nothing in that head's loss.

# %%
keras.utils.set_random_seed(0)
source, (x, y), (x_test, y_test) = load_digits_split(labels_per_class=30)
base = pretrain_source(source, epochs=8, verbose=0)
ink = x.mean(axis=(1, 2, 3)) / 255
multi = tlk.build_multitask(fresh(base), heads={"digit": 5, "even": "binary", "ink": "regression"},
                            loss_weights={"ink": 0.5})
multi.compile()
parity = (y % 2 == 0).astype("float32")
parity[::3] = np.nan  # a third of the parity labels missing
history = multi.fit(x, {"digit": y, "even": parity, "ink": ink}, epochs=20, batch_size=16, verbose=0)
outputs = multi.predict(x_test, verbose=0)
print({k: round(v[-1], 3) for k, v in history.history.items()})
print("digit accuracy", float(np.mean(outputs["digit"].argmax(-1) == y_test)))

# %% [markdown]
# **Export.** The SavedModel's `serving_default` takes `uint8` pixels and
# returns named outputs per head; TF Serving can load it without tlkeras.
# Here a PNG's raw bytes are decoded by TensorFlow and served.

# %%
folder = tlk.export.saved_model(multi, tempfile.mkdtemp() + "/1", verbose=0)
serve = tf.saved_model.load(folder).signatures["serving_default"]
png = tf.io.encode_png(x_test[:1].astype("uint8")[0])  # raw bytes, as a client sends them
pixels = tf.io.decode_png(png, channels=1)[None]
print({k: v.numpy().round(3).tolist() for k, v in serve(images=pixels).items()})

single = tlk.build_classifier(fresh(base), 5)
path = tlk.export.tflite(single, tempfile.mkdtemp() + "/digits.tflite", verbose=0)
print(tlk.export.run_tflite(path, pixels.numpy()))
