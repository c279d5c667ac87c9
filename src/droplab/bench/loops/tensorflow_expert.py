"""The Keras loop an expert writes: ``keras.Sequential`` + ``model.compile(SGD)`` +
``model.fit(validation_data=...)``: Keras shuffles, batches, compiles the train step (XLA where
the model supports it, Keras' default) and evaluates the test split after every epoch. Mixed
precision: Keras's ``mixed_bfloat16`` policy, the logits cast back to float32 as Keras's guide
does.

    python src/droplab/bench/loops/tensorflow_expert.py --epochs 10 [--precision mixed_bfloat16]
"""

from __future__ import annotations

from typing import Any

from droplab.bench.loops import models, script


def train(data: Any, s: script.Settings) -> dict[str, Any]:
    epochs = script.Epochs()
    with models.keras_mlp(s, data.train_x.shape[1]) as (tf, net):
        keras = tf.keras

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                epochs.start()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                epochs.stop(logs["loss"], logs["val_accuracy"])

        net.compile(optimizer=keras.optimizers.SGD(s.lr),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
        net.fit(data.train_x, data.train_y, batch_size=s.batch_size, epochs=s.epochs,
                validation_data=(data.val_x, data.val_y), shuffle=True, verbose=0,
                callbacks=[Timer()])
    return epochs.result()


run = script.loop(train)

if __name__ == "__main__":
    raise SystemExit(script.main(run))
