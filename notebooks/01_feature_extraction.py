# %% [markdown]
# # 01 · Feature extraction and linear probing
#
# The cheapest transfer is to keep a pretrained base frozen and train a new
# head on the features it computes. With the base frozen, those features
# never change, so computing them on every batch of every epoch (what a plain
# `model.fit` does) is wasted work: `tlk.strategies.fit_cached` computes them
# once and trains the head on them, at the cost of the head alone.
#
# This notebook uses the real ImageNet MobileNetV2 weights and the ants/bees
# photos from `../shared/assets` when they are there, and falls back to the
# digits task embedded in scikit-learn otherwise (no download either way).

# %%
# %matplotlib inline
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads

import keras
import numpy as np
from IPython.display import Image, display

import tlkeras as tlk
from _setup import HAVE_PHOTOS, OUT, PHOTOS, WEIGHTS

keras.utils.set_random_seed(0)
if HAVE_PHOTOS:
    size = (96, 96)
    train = tlk.data.image_dataset(PHOTOS / "train", image_size=size, seed=0)
    test = tlk.data.image_dataset(PHOTOS / "val", image_size=size, shuffle=False)
    model = tlk.build_classifier("mobilenet_v2", 2, input_shape=size + (3,),
                                 weights=str(WEIGHTS), base_kwargs={"alpha": 0.35},
                                 class_names=train.class_names)
else:
    from tlkeras.demo.digits import load_digits_split, pretrain_source
    source, target_train, target_test = load_digits_split(labels_per_class=20)
    base = pretrain_source(source, epochs=8, verbose=0)
    train = tlk.data.image_dataset(target_train, image_size=(8, 8), batch_size=16, seed=0)
    test = tlk.data.image_dataset(target_test, image_size=(8, 8), shuffle=False)
    model = tlk.build_classifier(base, 5)
print("photos" if HAVE_PHOTOS else "digits", train.class_names)
tlk.summary(model);

# %% [markdown]
# `summary` shows the layer groups: every base group is frozen and only the
# head trains. Now train the head on cached features. The first epoch pays
# for one pass of the base over the data; later epochs cost the head alone.

# %%
model.compile(optimizer=keras.optimizers.Adam(1e-3))
start = time.perf_counter()
history = tlk.strategies.fit_cached(model, train, validation_data=test, epochs=15, verbose=0)
print(f"15 epochs in {time.perf_counter() - start:.1f} s; "
      f"val accuracy {history.history['val_accuracy'][-1]:.3f}")

# %% [markdown]
# The trained head is part of an ordinary Keras model: it predicts from raw
# pixels (the base's own preprocessing is inside). The report is computed by
# scikit-learn's metrics, per class, and its confusion matrix plotted.

# %%
report = tlk.evaluation.report(model, test)
print(report)
display(Image(tlk.plots.confusion_matrix(report, OUT / "01_confusion.png", normalize="true")))
display(Image(tlk.plots.history(history, OUT / "01_history.png")))

# %% [markdown]
# **When to use it.** A linear probe is the right first step with little data
# or data close to the pretraining images: it cannot overfit the base, costs
# seconds, and sets the baseline that fine-tuning must beat (see notebook 02).
