"""``tfpt verify`` on every fixture (forward and training equivalence), and the weight converters.

The fixture runs start one Keras and one torch worker process each; this test module
itself imports neither framework.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FIXTURES, MODEL_FIXTURE_NAMES
from converters import transfer
from converters.keras_source import ConcreteValueError, keras_source, model_expr
from converters.verify import EXIT_BAD_INPUT, module_constants, verify_file
from translator.translate import translate_source

TRAIN_STEPS = 3


# --------------------------------------------------------------------------- every fixture, both frameworks


#: fixtures whose models are never compiled (prediction only): forward equivalence only
FORWARD_ONLY = {"functional_multi_io", "gan", "gradient_tape", "quickstart_custom_loop"}  # custom loops: no compile


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in MODEL_FIXTURE_NAMES])
def test_fixture_verifies(name):
    lines: list[str] = []
    status = verify_file(str(FIXTURES / f"{name}.py"), train_steps=TRAIN_STEPS, out=lines.append)
    report = "\n".join(lines)
    assert status == 0, report
    assert "forward max abs" in report and "MISMATCH" not in report, report
    if name in FORWARD_ONLY:
        assert "— skipped" not in report, report
        return
    assert "skipped" not in report, report
    assert f"training {TRAIN_STEPS} steps" in report, report


def test_functional_models_verify_each_one():
    """Two-model file: the encoder alone and the model nesting it (shared weights, 3 inputs, 2 outputs)."""
    lines: list[str] = []
    assert verify_file(str(FIXTURES / "functional_multi_io.py"), out=lines.append) == 0, lines
    report = "\n".join(lines)
    assert "model 'encoder' (class Encoder): forward" in report, report
    assert "model 'model' (class Model): forward" in report, report


def test_verify_bad_input(tmp_path):
    out: list[str] = []
    assert verify_file(str(tmp_path / "missing.py"), out=out.append) == EXIT_BAD_INPUT
    bad = tmp_path / "bad.py"
    bad.write_text("import keras\nmodel = keras.Sequential([\n", encoding="utf-8")
    assert verify_file(str(bad), out=out.append) == EXIT_BAD_INPUT
    plain = tmp_path / "plain.py"
    plain.write_text("import keras\nprint(keras.__version__)\n", encoding="utf-8")
    assert verify_file(str(plain), out=out.append) == EXIT_BAD_INPUT
    assert any("no translated Keras model" in line for line in out), out


def test_verify_skips_models_with_parameters(tmp_path):
    src = tmp_path / "params.py"
    src.write_text(
        "import keras\n\n"
        "def build(units):\n"
        "    return keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(units)])\n",
        encoding="utf-8")
    out: list[str] = []
    assert verify_file(str(src), out=out.append) == EXIT_BAD_INPUT
    assert any("skipped" in line and "concrete values" in line for line in out), out


# --------------------------------------------------------------------------- Keras source


def _models(source: str):
    result = translate_source(source, "t.py")
    return result, {m.var: m for m in result.models}


def test_keras_source_from_ir():
    source = (FIXTURES / "cnn.py").read_text(encoding="utf-8")
    result, models = _models(source)
    text = keras_source(models["model"])
    assert text.startswith("import keras\n")
    assert "keras.Input(shape=(28, 28, 1))" in text
    assert "keras.layers.Conv2D(filters=32, kernel_size=(3, 3), activation='relu')" in text
    assert "input_shape" not in text
    compile(text, "<keras>", "exec")
    assert "optimizer='adam'" in result.keras_compiles["model"]


def test_keras_source_resolves_constants_and_inner_layers():
    import libcst as cst

    source = (FIXTURES / "bilstm.py").read_text(encoding="utf-8")
    _, models = _models(source)
    constants = module_constants(cst.parse_module(source))
    assert constants["vocab_size"] == 500 and constants["seq_len"] == 30
    expr = model_expr(models["model"], constants)
    assert "keras.Input(shape=(30,))" in expr
    assert "keras.layers.Embedding(input_dim=500, output_dim=8)" in expr
    assert "keras.layers.Bidirectional(layer=keras.layers.LSTM(units=16, return_sequences=True))" in expr


def test_keras_source_needs_concrete_values():
    _, models = _models(
        "import keras\n\ndef build(units):\n"
        "    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(units)])\n"
        "    return model\n")
    model = next(iter(models.values()))
    with pytest.raises(ConcreteValueError, match="concrete values"):
        model_expr(model)


# --------------------------------------------------------------------------- weight rules


RULES_SOURCE = """
import keras

dense = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3)])
conv1d = keras.Sequential([keras.Input(shape=(10, 3)), keras.layers.Conv1D(5, 3)])
conv2d = keras.Sequential([keras.Input(shape=(8, 8, 3)), keras.layers.Conv2D(5, (3, 2))])
batch_norm = keras.Sequential([keras.Input(shape=(6,)), keras.layers.BatchNormalization()])
embedding = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Embedding(20, 4)])
lstm = keras.Sequential([keras.Input(shape=(5, 4)), keras.layers.LSTM(3)])
gru = keras.Sequential([keras.Input(shape=(5, 4)), keras.layers.GRU(3)])
simple_rnn = keras.Sequential([keras.Input(shape=(5, 4)), keras.layers.SimpleRNN(3)])
bidirectional = keras.Sequential([keras.Input(shape=(5, 4)), keras.layers.Bidirectional(keras.layers.LSTM(3))])
bidirectional_gru = keras.Sequential([keras.Input(shape=(5, 4)), keras.layers.Bidirectional(keras.layers.GRU(3))])
"""

#: Keras variable paths and shapes per case (what ``layer.weights`` gives for RULES_SOURCE)
_RNN = {"lstm": 4, "gru": 3, "simple_rnn": 1}


def _cell(kind: str, prefix: str) -> list[tuple[str, tuple]]:
    gates = _RNN[kind] * 3
    bias = (2, gates) if kind == "gru" else (gates,)
    return [(f"{prefix}/kernel", (4, gates)), (f"{prefix}/recurrent_kernel", (3, gates)), (f"{prefix}/bias", bias)]


KERAS_VARIABLES = {
    "dense": [("sequential/dense/kernel", (4, 3)), ("sequential/dense/bias", (3,))],
    "conv1d": [("sequential/conv1d/kernel", (3, 3, 5)), ("sequential/conv1d/bias", (5,))],
    "conv2d": [("sequential/conv2d/kernel", (3, 2, 3, 5)), ("sequential/conv2d/bias", (5,))],
    "batch_norm": [(f"sequential/batch_normalization/{n}", (6,)) for n in ("gamma", "beta", "moving_mean", "moving_variance")],
    "embedding": [("sequential/embedding/embeddings", (20, 4))],
    "lstm": _cell("lstm", "sequential/lstm/lstm_cell"),
    "gru": _cell("gru", "sequential/gru/gru_cell"),
    "simple_rnn": _cell("simple_rnn", "sequential/simple_rnn/simple_rnn_cell"),
    "bidirectional": _cell("lstm", "sequential/bidirectional/forward_lstm/lstm_cell")
    + _cell("lstm", "sequential/bidirectional/backward_lstm/lstm_cell"),
    "bidirectional_gru": _cell("gru", "sequential/bidirectional/forward_gru/gru_cell")
    + _cell("gru", "sequential/bidirectional/backward_gru/gru_cell"),
}

#: torch parameter shapes (the emitted modules' state dicts, without buffers)
TORCH_SHAPES = {
    "dense": {"weight": (3, 4), "bias": (3,)},
    "conv1d": {"weight": (5, 3, 3), "bias": (5,)},
    "conv2d": {"weight": (5, 3, 3, 2), "bias": (5,)},
    "batch_norm": {"weight": (6,), "bias": (6,), "running_mean": (6,), "running_var": (6,)},
    "embedding": {"weight": (20, 4)},
    "lstm": {"weight_ih_l0": (12, 4), "weight_hh_l0": (12, 3), "bias_ih_l0": (12,), "bias_hh_l0": (12,)},
    "gru": {"weight_ih_l0": (9, 4), "weight_hh_l0": (9, 3), "bias_ih_l0": (9,), "bias_hh_l0": (9,)},
    "simple_rnn": {"weight_ih_l0": (3, 4), "weight_hh_l0": (3, 3), "bias_ih_l0": (3,), "bias_hh_l0": (3,)},
}
for _bi, _kind in (("bidirectional", "lstm"), ("bidirectional_gru", "gru")):
    TORCH_SHAPES[_bi] = {**TORCH_SHAPES[_kind], **{k + "_reverse": v for k, v in TORCH_SHAPES[_kind].items()}}


@pytest.fixture(scope="module")
def rules():
    """case -> (torch attribute, rules) of the case's single layer, from the real translator."""
    result = translate_source(RULES_SOURCE, "rules.py")
    out = {}
    for model in result.models:
        (entry,) = result.emitted[model.class_name].weights
        out[model.var] = entry
    assert set(out) == set(KERAS_VARIABLES)
    return out


def _random(case: str, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(name, rng.standard_normal(shape).astype(np.float32)) for name, shape in KERAS_VARIABLES[case]]


@pytest.mark.parametrize("case", list(KERAS_VARIABLES))
def test_round_trip_is_bit_identical(rules, case):
    _, layer_rules = rules[case]
    keras_weights = _random(case)
    state = transfer.keras_to_torch(keras_weights, layer_rules, expected=TORCH_SHAPES[case])
    assert {k: v.shape for k, v in state.items()} == TORCH_SHAPES[case]
    back = transfer.torch_to_keras(state, layer_rules)
    assert len(back) == len(keras_weights)
    for (rule_name, b), (path, a) in zip(back, keras_weights):
        assert transfer.name_matches(path, rule_name)
        assert b.dtype == a.dtype and b.shape == a.shape
        assert np.array_equal(a, b), (case, rule_name)


def test_layouts(rules):
    """Spot checks that the rules put numbers where torch expects them."""
    state = transfer.keras_to_torch(_random("dense"), rules["dense"][1])
    assert np.array_equal(state["weight"], _random("dense")[0][1].T)

    conv = _random("conv2d")
    state = transfer.keras_to_torch(conv, rules["conv2d"][1])
    assert np.array_equal(state["weight"][4, 2, 1, 0], conv[0][1][1, 0, 2, 4])  # (h, w, in, out) -> (out, in, h, w)

    gru = _random("gru")
    state = transfer.keras_to_torch(gru, rules["gru"][1])
    kernel, bias = gru[0][1], gru[2][1]
    # Keras gates (z, r, h), torch (r, z, n)
    assert np.array_equal(state["weight_ih_l0"][0:3], kernel[:, 3:6].T)
    assert np.array_equal(state["weight_ih_l0"][3:6], kernel[:, 0:3].T)
    assert np.array_equal(state["bias_hh_l0"][6:9], bias[1, 6:9])

    lstm = _random("lstm")
    state = transfer.keras_to_torch(lstm, rules["lstm"][1])
    assert np.array_equal(state["bias_ih_l0"], lstm[2][1])
    assert not state["bias_hh_l0"].any()


def test_mismatches_name_both_sides(rules):
    layer_rules = rules["dense"][1]
    kernel, bias = _random("dense")
    with pytest.raises(ValueError, match=r"'sequential/dense/bias'.*'kernel'"):
        transfer.keras_to_torch([bias, kernel], layer_rules)
    with pytest.raises(ValueError, match=r"sequential/dense/kernel.*kernel, bias"):
        transfer.keras_to_torch([kernel], layer_rules)
    with pytest.raises(ValueError, match=r"shape mismatch: Keras sequential/dense/kernel \(4, 3\).*'weight' is \(4, 3\)"):
        transfer.keras_to_torch([kernel, bias], layer_rules, expected={"weight": (4, 3), "bias": (3,)})
    # the directions of a Bidirectional layer are checked, not just the variable names
    bi = _random("bidirectional")
    with pytest.raises(ValueError, match=r"backward_lstm/lstm_cell/kernel.*'forward/kernel'"):
        transfer.keras_to_torch(bi[3:] + bi[:3], rules["bidirectional"][1])
    with pytest.raises(ValueError, match="missing"):
        transfer.torch_to_keras({"weight": kernel[1].T}, layer_rules)


def test_model_to_state_dict_pairs_layers_with_weights(rules):
    result = translate_source((FIXTURES / "mnist_dense.py").read_text(encoding="utf-8"), "m.py")
    emitted = next(iter(result.emitted.values()))
    rng = np.random.default_rng(1)
    # Keras layers: flatten (no weights), dense, dropout (no weights), dense_1
    keras_layers = [
        [],
        [("sequential/dense/kernel", rng.standard_normal((784, 128))), ("sequential/dense/bias", np.zeros(128))],
        [],
        [("sequential/dense_1/kernel", rng.standard_normal((128, 10))), ("sequential/dense_1/bias", np.ones(10))],
    ]
    expected = {"dense.weight": (128, 784), "dense.bias": (128,), "dense_1.weight": (10, 128), "dense_1.bias": (10,)}
    state = transfer.model_to_state_dict(keras_layers, emitted.weights, expected)
    assert {k: v.shape for k, v in state.items()} == expected
    assert np.array_equal(state["dense_1.weight"], keras_layers[3][0][1].T)
    back = transfer.state_dict_to_model(state, emitted.weights)
    assert [attr for attr, _ in back] == ["dense", "dense_1"]
    assert np.array_equal(back[0][1][0][1], keras_layers[1][0][1])
    with pytest.raises(ValueError, match="1 Keras layers with weights.*2 torch modules"):
        transfer.model_to_state_dict(keras_layers[:2], emitted.weights)


def test_check_load_allows_only_torch_buffers():
    transfer.check_load(["batch_normalization.num_batches_tracked"], [])
    with pytest.raises(ValueError, match="dense.bias"):
        transfer.check_load(["dense.bias"], [])
    with pytest.raises(ValueError, match="extra"):
        transfer.check_load([], ["extra.weight"])


def test_rules_survive_json(rules):
    import json

    weights = [rules[case] for case in KERAS_VARIABLES]
    again = transfer.rules_from_json(json.loads(json.dumps(transfer.rules_to_json(weights))))
    assert again == weights
