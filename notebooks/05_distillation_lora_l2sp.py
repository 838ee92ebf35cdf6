# %% [markdown]
# # 05 · Distillation, LoRA and L2-SP
#
# Three tools for after plain fine-tuning works: a smaller model that keeps
# a big one's accuracy (distillation), fine-tuning that touches few
# parameters (LoRA), and fine-tuning that does not forget (L2-SP).

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import numpy as np

import tlkeras as tlk
from _digits import accuracy, digits_task, fresh

base, train, test = digits_task(labels_per_class=30)
teacher = tlk.build_classifier(fresh(base), 5, freeze="none", logits=True)
teacher.compile(optimizer=keras.optimizers.Adam(1e-3))
teacher.fit(*train, epochs=20, batch_size=16, verbose=0)
print(f"teacher: {teacher.count_params():,} parameters, test accuracy {accuracy(teacher, test):.3f}")

# %% [markdown]
# **Distillation** (Hinton et al. 2015): the student learns the teacher's
# softened outputs, `T^2 * KL(softmax(t/T) || softmax(s/T))`, beside the
# labels. Keras's own `Distiller` with its default loss misses the softmax
# and the `T^2`; tlkeras's computes the formula, caches the teacher's outputs
# (the teacher runs once, not every epoch) and honours sample weights.


# %%
def student(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.Flatten(),
        keras.layers.Dense(5)])


distiller = tlk.strategies.Distiller(teacher, student(1), temperature=4.0, alpha=0.1)
distiller.compile(optimizer=keras.optimizers.Adam(3e-3))
distiller.fit(*train, epochs=40, batch_size=16, verbose=0)
alone = student(1)
alone.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
alone.fit(*train, epochs=40, batch_size=16, verbose=0)
print(f"student ({distiller.student.count_params():,} parameters): "
      f"distilled {accuracy(distiller.student, test):.3f}, labels alone {accuracy(alone, test):.3f}")

# %% [markdown]
# With 30 labelled digits per class this small student learns nearly as
# well from the labels alone: distillation pays when labels are scarce and
# the teacher knows more than they say (in `tests/strategies/
# test_distillation.py`, a teacher trained on 1,200 digits lifts a student
# that sees 100 of them by about 4 points, on each of 3 seeds).
#
# **LoRA** as a freeze policy: the base is frozen and its convolutions get
# low-rank adapters `W + (alpha/rank) A B` (Keras's own `enable_lora`; Keras
# has none for depthwise convolutions, and the report says so). The file
# keeps the adapters trainable; exports fold them into the kernels.

# %%
lora = tlk.build_classifier(fresh(base), 5, freeze=tlk.freezing.LoRA(rank=2, alpha=4))
print(tlk.freezing.lora_report(lora))
tlk.summary(lora)
lora.compile(optimizer=keras.optimizers.Adam(3e-3))
lora.fit(*train, epochs=20, batch_size=16, verbose=0)
merged = tlk.freezing.merge_lora(lora)
print(f"LoRA test accuracy {accuracy(lora, test):.3f}; merged model identical: "
      f"{np.allclose(lora.predict(test[0], verbose=0), merged.predict(test[0], verbose=0), atol=1e-5)}")

# %% [markdown]
# **L2-SP** (Li et al. 2018) pulls the fine-tuned weights toward their
# pretrained values, `alpha/2 ||w - w0||^2`, instead of toward zero as weight
# decay does. The pretrained point is saved in the `.keras` file.


# %%
def distance(model):
    return sum(float(np.sum((a - b) ** 2)) for a, b in zip(model.base.get_weights(), base.get_weights()))


for name, regularization in (("plain", None), ("L2-SP", tlk.regularizers.L2SP(alpha=0.1, beta=0.01))):
    model = tlk.build_classifier(fresh(base), 5, freeze="none", regularization=regularization)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(*train, epochs=20, batch_size=16, verbose=0)
    print(f"{name:6} test accuracy {accuracy(model, test):.3f}, "
          f"squared distance from pretrained {distance(model):.2f}")

# %% [markdown]
# L2-SP keeps the base about three times closer to its pretrained weights.
# Here that costs accuracy: the target (digits 5-9) needs features the
# source (0-4) did not teach, so the base must move. L2-SP earns its keep
# when the pretrained features already fit and the labelled set is small
# enough to overfit; choose `alpha` on validation data (TLlib's default is
# 0.01, ten times weaker than this one).
