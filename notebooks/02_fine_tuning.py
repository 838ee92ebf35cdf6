# %% [markdown]
# # 02 · Fine-tuning with differential learning rates and the LR finder
#
# Fine-tuning lets the base's weights move too. Two things make it work in
# practice: a learning rate chosen from data rather than folklore, and
# *differential* rates, small for the early, generic layers and larger for
# the later, task-specific ones (ULMFiT's "discriminative fine-tuning").
# In tlkeras both live inside `model.fit`: one Keras optimizer per layer
# group, so callbacks, schedules and saving keep working.

# %%
# %matplotlib inline
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
from IPython.display import Image, display

import tlkeras as tlk
from _digits import accuracy, digits_task, fresh
from _setup import OUT

base, train, test = digits_task()
model = tlk.build_classifier(fresh(base), 5, freeze="none")
print([g.name for g in tlk.layer_groups(model)])

# %% [markdown]
# **The LR finder** trains for a few dozen steps while raising the rate
# exponentially, then puts the model back exactly as it was. The suggestion
# follows fastai's rules (steepest descent and the valley).

# %%
model.compile(optimizer=keras.optimizers.Adam(1e-3))
found = tlk.lr_find(model, train, num_iter=60, batch_size=16, verbose=0)
print({k: f"{v:.2e}" for k, v in found.suggestions.items()})
display(Image(found.plot(OUT / "02_lr_find.png")))

# %% [markdown]
# **Differential rates.** `discriminative(model, lr=(low, high))` spreads the
# rates geometrically from the first group to the head; each group gets its
# own optimizer and the history logs each group's rate.

# %%
lr = found.suggestions["steep"]
optimizer = tlk.training.discriminative(model, "adam", lr=(lr / 10, lr))
print({g: f"{r:.2e}" for g, r in optimizer.group_learning_rates().items()})
model.compile(optimizer=optimizer)
history = model.fit(*train, validation_data=test, epochs=15, batch_size=16, verbose=0)
print(f"differential rates: test accuracy {accuracy(model, test):.3f}")
display(Image(tlk.plots.history(history, OUT / "02_history.png")))

# %% [markdown]
# Against the same model with one rate for every layer:

# %%
same = tlk.build_classifier(fresh(base), 5, freeze="none")
same.compile(optimizer=keras.optimizers.Adam(lr))
same.fit(*train, epochs=15, batch_size=16, verbose=0)
print(f"one rate:           test accuracy {accuracy(same, test):.3f}")

# %% [markdown]
# The finder's suggestions differ by an order of magnitude or more; "steep"
# (where the loss falls fastest) suits fine-tuning a small model like this
# one, "valley" is the more cautious choice. Whether a spread of rates beats
# one rate depends on how far the target is from the pretraining data and on
# how much of it there is: with a base pretrained on similar digits, the
# early layers lose little by moving. One seed is noisy: the README's
# strategy table (`tlk.compare`, several seeds) is the fair comparison.
