"""TensorFlow's tutorial loop ("writing a training loop from scratch"): a ``tf.data.Dataset``
shuffled and batched each epoch, a ``@tf.function`` train step with ``tf.GradientTape`` and
``optimizer.apply_gradients``, a Keras ``Mean`` metric for the running loss, and the test split
evaluated batch by batch after every epoch. Mixed precision: Keras's ``mixed_bfloat16`` policy.

    python src/droplab/bench/loops/tensorflow_tutorial.py --epochs 10 [--precision mixed_bfloat16]
"""

from __future__ import annotations

import os
from typing import Any

from droplab.bench.loops import script
from droplab.bench.loops.tensorflow_expert import model


def run(data: Any, *, epochs: int = 10, batch_size: int = 256, lr: float = 0.1, seed: int = 0,
        dropout: tuple[float, float] = (0.5, 0.5), device: str = "cpu",
        precision: str = "float32") -> dict[str, Any]:
    kind, index = script.device_parts(device)
    script.check_precision(precision)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    keras = tf.keras
    keras.utils.set_random_seed(seed)
    with tf.device(f"/{kind.upper()}:{index}"):
        net = model(keras, data.train_x.shape[1], dropout, precision)
        optimizer = keras.optimizers.SGD(lr)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        train = tf.data.Dataset.from_tensor_slices((data.train_x, data.train_y))
        train = train.shuffle(len(data.train_y), seed=seed).batch(batch_size)
        val = tf.data.Dataset.from_tensor_slices((data.val_x, data.val_y)).batch(batch_size)
        mean_loss = keras.metrics.Mean()
        accuracy = keras.metrics.SparseCategoricalAccuracy()

        @tf.function
        def train_step(x: Any, y: Any) -> None:
            with tf.GradientTape() as tape:
                loss = loss_fn(y, net(x, training=True))
            grads = tape.gradient(loss, net.trainable_variables)
            optimizer.apply_gradients(zip(grads, net.trainable_variables))
            mean_loss.update_state(loss, sample_weight=tf.shape(y)[0])

        @tf.function
        def eval_step(x: Any, y: Any) -> None:
            accuracy.update_state(y, net(x, training=False))

        epochs_ = script.Epochs()
        for _ in range(epochs):
            epochs_.start()
            mean_loss.reset_state()
            accuracy.reset_state()
            for x, y in train:
                train_step(x, y)
            for x, y in val:
                eval_step(x, y)
            epochs_.stop(float(mean_loss.result()), float(accuracy.result()))
    return epochs_.result()


if __name__ == "__main__":
    raise SystemExit(script.main(run))
