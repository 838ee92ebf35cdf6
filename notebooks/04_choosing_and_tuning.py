# %% [markdown]
# # 04 · Choosing a base, then tuning
#
# Before training anything, *transferability scores* estimate how well a
# base's frozen features suit your labels: LogME (You et al. 2021) is the
# evidence of a Bayesian linear model on the features, H-score (Bao et al.
# 2019) their class separability. `tlk.tuning.rank_bases` computes each
# base's features once and scores them. Then KerasTuner searches the head,
# the rates and how deep to unfreeze, with frozen-base trials trained on
# cached features.

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tempfile

import keras
import keras_tuner

import tlkeras as tlk
from _digits import accuracy, digits_task, fresh

base, train, test = digits_task()
random = keras.models.clone_model(base)  # the same network, never trained
random.name = "random_init"
pretrained = fresh(base)
pretrained.name = "pretrained"

# %% [markdown]
# Two candidates with the same architecture: the base pretrained on digits
# 0-4, and the same network with random weights. A good score ranks them as
# the accuracy they reach does.

# %%
scores = tlk.tuning.rank_bases([random, pretrained], train[0], labels=train[1],
                               image_size=(8, 8), batch_size=16)
for candidate in (random, pretrained):
    probe = tlk.build_classifier(candidate, 5)
    probe.compile(optimizer=keras.optimizers.Adam(3e-3))
    tlk.strategies.fit_cached(probe, *train, epochs=30, verbose=0)
    print(f"{candidate.name:12} linear-probe test accuracy {accuracy(probe, test):.3f}")

# %% [markdown]
# **Search.** `TransferHyperModel` covers the head (hidden layers, units,
# dropout, L2), the head's learning rate, the discriminative spread and the
# number of base groups to unfreeze; any of them can be fixed or narrowed.

# %%
hypermodel = tlk.tuning.TransferHyperModel(
    fresh(base), 5, input_shape=(8, 8, 1), batch_size=16,
    search={"head_layers": [0, 1], "unfreeze": [0, 1, 2]})
tuner = keras_tuner.RandomSearch(hypermodel, objective="val_accuracy", max_trials=4,
                                 seed=0, directory=tempfile.mkdtemp())
tuner.search(*train, validation_data=test, epochs=8, verbose=0)
best = tuner.get_best_hyperparameters(1)[0]
print({k: v for k, v in best.values.items()})
print(f"best trial's test accuracy {accuracy(tuner.get_best_models(1)[0], test):.3f}")

# %% [markdown]
# The test set doubles as validation here to keep the notebook short; in
# practice hold out a validation split. Frozen trials (`unfreeze=0`) cost
# seconds: their features were computed once for all of them.
