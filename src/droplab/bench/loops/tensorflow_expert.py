"""The Keras loop an expert writes: ``keras.Sequential`` + ``model.compile(SGD)`` +
``model.fit(validation_data=...)``: Keras shuffles, batches, compiles the train step (XLA where
the model supports it, Keras' default) and evaluates the test split after every epoch. Mixed
precision: Keras's ``mixed_bfloat16`` policy, the logits cast back to float32 as Keras's guide
does.

    python src/droplab/bench/loops/tensorflow_expert.py --epochs 10 [--precision mixed_bfloat16]
"""

from __future__ import annotations

import os
from typing import Any

from droplab.bench.loops import script


def model(keras: Any, n_inputs: int, dropout: tuple[float, float], precision: str) -> Any:
    """The concise model under ``precision`` (Keras's global dtype policy)."""
    keras.mixed_precision.set_global_policy(precision)
    return keras.Sequential([
        keras.Input((n_inputs,)),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(dropout[0]),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(dropout[1]),
        keras.layers.Dense(10),
        keras.layers.Activation("linear", dtype="float32"),
    ])


def run(data: Any, *, epochs: int = 10, batch_size: int = 256, lr: float = 0.1, seed: int = 0,
        dropout: tuple[float, float] = (0.5, 0.5), device: str = "cpu",
        precision: str = "float32") -> dict[str, Any]:
    kind, index = script.device_parts(device)
    script.check_precision(precision)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    keras = tf.keras
    keras.utils.set_random_seed(seed)
    epochs_ = script.Epochs()

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            epochs_.start()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            epochs_.stop(logs["loss"], logs["val_accuracy"])

    with tf.device(f"/{kind.upper()}:{index}"):
        net = model(keras, data.train_x.shape[1], dropout, precision)
        net.compile(optimizer=keras.optimizers.SGD(lr),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
        net.fit(data.train_x, data.train_y, batch_size=batch_size, epochs=epochs,
                validation_data=(data.val_x, data.val_y), shuffle=True, verbose=0,
                callbacks=[Timer()])
    return epochs_.result()


if __name__ == "__main__":
    raise SystemExit(script.main(run))
