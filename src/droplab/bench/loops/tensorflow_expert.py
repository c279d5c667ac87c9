"""The chapter's concise model trained the way a Keras user writes it, without droplab.

    python -c "import droplab.data, droplab.bench.idiomatic_tensorflow as b; \
print(b.run(droplab.data.arrays()))"

``keras.Sequential`` + ``model.compile(SGD)`` + ``model.fit(validation_data=...)``: Keras shuffles,
batches, compiles the train step (XLA where the model supports it, Keras' default) and evaluates
the validation split after every epoch. This is the baseline droplab's TensorFlow learner is
compared with.
"""

from __future__ import annotations

import time

from droplab import devices
from droplab.data.arrays import Arrays


def run(data: Arrays, *, epochs: int = 10, batch_size: int = 256, lr: float = 0.1,
        seed: int = 0, dropout: tuple[float, float] = (0.5, 0.5),
        device: str = "cpu") -> dict[str, float]:
    """:func:`_run` on ``device`` ("cpu", "cuda[:N]")."""
    from droplab.backends.tensorflow import tf

    kind, index = devices.parse(device)
    with tf.device(f"/{kind.upper()}:{index}"):
        return _run(data, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, dropout=dropout)


def _run(data: Arrays, *, epochs: int, batch_size: int, lr: float, seed: int,
         dropout: tuple[float, float]) -> dict[str, float]:
    """Train the concise MLP with ``model.fit``; time training plus per-epoch validation.

    Returns:
        ``{"seconds": ..., "val_acc": ..., "train_loss": ...}`` (the last epoch's values).
    """
    # The backend module quiets TensorFlow's C++ logging before the first import.
    from droplab.backends.tensorflow import tf

    keras = tf.keras
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((data.train_x.shape[1],)),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(dropout[0]),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(dropout[1]),
        keras.layers.Dense(10),
    ])
    model.compile(optimizer=keras.optimizers.SGD(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(data.train_x, data.train_y, batch_size=batch_size, epochs=epochs,
                        validation_data=(data.val_x, data.val_y), shuffle=True, verbose=0)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "val_acc": float(history.history["val_accuracy"][-1]),
            "train_loss": float(history.history["loss"][-1])}
