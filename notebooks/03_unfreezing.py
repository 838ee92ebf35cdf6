# %% [markdown]
# # 03 · Progressive and gradual unfreezing
#
# Unfreezing in stages (ULMFiT's gradual unfreezing) trains the head first,
# then opens the base from the top down. In plain Keras, flipping
# `trainable` in the middle of `fit` silently does nothing until you compile
# again; `tlk.callbacks.ProgressiveUnfreezing` makes the change take effect
# mid-`fit` (optimizer state rebuilt for the new variables, train function
# retraced), and logs it so the plot can mark it.

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
model = tlk.build_classifier(fresh(base), 5)  # the base starts frozen
groups = [g.name for g in tlk.layer_groups(model)]
print(groups)

# %%
schedule = tlk.callbacks.GradualUnfreezing(every=4)  # one more group every 4 epochs
model.compile(optimizer=keras.optimizers.Adam(1e-3))
history = model.fit(*train, validation_data=test, epochs=16, batch_size=16,
                    callbacks=[schedule], verbose=0)
print("trainable base groups per epoch:", history.history["trainable_groups"])
print(f"gradual unfreezing: test accuracy {accuracy(model, test):.3f}")
display(Image(tlk.plots.history(history, OUT / "03_gradual.png")))

# %% [markdown]
# Against the two-stage recipe (`tlk.recipes.fine_tune`: the head first,
# then everything at a lower rate, the best validation epoch kept;
# `target="near"` names that gentle setting, where the default would first
# measure whether this task needs the base adapted):

# %%
two = tlk.build_classifier(fresh(base), 5)
stages = tlk.recipes.fine_tune(two, train, validation_data=test, target="near",
                               fine_tune_epochs=8, lr=1e-3, verbose=0)
print(f"two-stage: test accuracy {accuracy(two, test):.3f}")
display(Image(tlk.plots.history(stages, OUT / "03_two_stage.png")))

# %% [markdown]
# The vertical lines mark each unfreezing and the start of the second stage.
# Both protect the lower layers while the head is still random (its large
# early gradients would otherwise wreck them). The recipe trains the head to
# convergence on cached features first, then the whole model at a rate 100x
# lower, keeping the best validation epoch; gradual unfreezing trains every
# stage at the full rate, which moves further from the pretrained weights:
# on a small target close to the source that can pay, as here, or cost.
