"""Build the ONNX-route zoo: 13 small Keras models of everyday layers, seeded.

Run as a script in a TensorFlow-only process (the test process must not import
TensorFlow beside torch): ``python tests/onnx_zoo.py OUT_DIR [NAME ...]``. For each
model it writes ``NAME.keras``, the synthetic input ``NAME.input.npy`` and Keras'
output on it ``NAME.output.npy``, then prints the names as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

BATCH = 3
VOCAB = 50
SEQ = 7


def _seq(input_shape, *stack, dtype="float32"):
    return keras.Sequential([keras.Input(input_shape, dtype=dtype), *stack])


#: name -> (builder, input kind); "ints" inputs are token ids below VOCAB
ZOO = {
    "mlp": (lambda: _seq((8,), layers.Dense(16, activation="relu"), layers.Dense(4, activation="softmax")), "floats"),
    "cnn": (lambda: _seq((12, 12, 3), layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(),
                         layers.Flatten(), layers.Dense(5)), "floats"),
    "batchnorm_same_strides": (lambda: _seq((12, 12, 3), layers.Conv2D(4, 3, strides=2, padding="same"),
                                            layers.BatchNormalization(), layers.ReLU(),
                                            layers.Conv2D(6, 3, strides=2, padding="same"),
                                            layers.GlobalAveragePooling2D(), layers.Dense(3)), "floats"),
    "text_conv1d": (lambda: _seq((SEQ + 3,), layers.Embedding(VOCAB, 8), layers.Conv1D(6, 3, activation="relu"),
                                 layers.GlobalMaxPooling1D(), layers.Dense(1, activation="sigmoid"),
                                 dtype="int32"), "ints"),
    "lstm": (lambda: _seq((SEQ,), layers.Embedding(VOCAB, 8), layers.LSTM(6), layers.Dense(3), dtype="int32"),
             "ints"),
    "bilstm": (lambda: _seq((SEQ,), layers.Embedding(VOCAB, 8), layers.Bidirectional(layers.LSTM(5)),
                            layers.Dense(2), dtype="int32"), "ints"),
    "stacked_gru": (lambda: _seq((SEQ, 4), layers.GRU(6, return_sequences=True), layers.GRU(5), layers.Dense(2)),
                    "floats"),
    "simple_rnn": (lambda: _seq((SEQ, 4), layers.SimpleRNN(6), layers.Dense(2)), "floats"),
    "separable": (lambda: _seq((12, 12, 3), layers.DepthwiseConv2D(3, activation="relu"),
                               layers.SeparableConv2D(6, 3, padding="same"), layers.GlobalAveragePooling2D(),
                               layers.Dense(3)), "floats"),
    "layernorm_gelu": (lambda: _seq((10,), layers.LayerNormalization(), layers.Dense(16, activation="gelu"),
                                    layers.Dense(3)), "floats"),
    "deconv_upsample": (lambda: _seq((6, 6, 4), layers.Conv2DTranspose(3, 3, strides=2, padding="same"),
                                     layers.UpSampling2D(), layers.Conv2D(2, 3, padding="same")), "floats"),
    "linear_regression": (lambda: _seq((5,), layers.Dense(1)), "floats"),
    "logistic_regression": (lambda: _seq((5,), layers.Dense(1, activation="sigmoid")), "floats"),
}


def _randomise(model: keras.Model, rng: np.random.Generator) -> None:
    """Nonzero biases and BatchNorm statistics, so a dropped term shows in the outputs."""
    for var in model.weights:
        shape = tuple(var.shape)
        if "variance" in var.path:
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0.0, 0.4, shape)
        var.assign(value.astype(var.dtype))


def build(name: str, out_dir: Path, seed: int = 0) -> None:
    builder, kind = ZOO[name]
    keras.utils.set_random_seed(seed)
    model = builder()
    rng = np.random.default_rng(seed)
    _randomise(model, rng)
    shape = (BATCH, *model.inputs[0].shape[1:])
    x = rng.integers(0, VOCAB, shape).astype("int32") if kind == "ints" else rng.normal(size=shape).astype("float32")
    model.save(out_dir / f"{name}.keras")
    np.save(out_dir / f"{name}.input.npy", x)
    np.save(out_dir / f"{name}.output.npy", np.asarray(model(x, training=False)))


def main(argv: list[str]) -> None:
    out_dir = Path(argv[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    names = argv[1:] or list(ZOO)
    for name in names:
        build(name, out_dir)
    print(json.dumps(names))


if __name__ == "__main__":
    main(sys.argv[1:])
