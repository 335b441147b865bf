"""Subclassed keras.Model / Layer: before/after of the class tfpt writes, and what stays Keras (where and why).

Numeric equivalence against the source's own Keras class (forward and training) is in
test_verify (fixtures subclassed_*): verify builds the original class, not a rebuild.
"""

from __future__ import annotations

import textwrap

import pytest

from translator.translate import translate_source

HEADER = "import numpy as np\nimport keras\nfrom keras import layers\n"


def tr(source: str):
    result = translate_source(HEADER + textwrap.dedent(source), "case.py")
    compile(result.code, "case.py", "exec")
    return result


def block(result, start: str) -> list[str]:
    """The stripped lines of the method starting with ``start`` in the translated class."""
    lines = result.code.split(start, 1)[1].splitlines()[1:]
    out = []
    for line in lines:
        if line.strip() and not line.startswith("        "):
            break
        if line.strip():
            out.append(line.strip())
    return out


MLP = """
    class MyModel(keras.Model):
        def __init__(self, hidden=32, num_classes=4):
            super().__init__()
            self.hidden = hidden
            self.dense1 = layers.Dense(hidden, activation="relu")
            self.dropout = layers.Dropout(0.5)
            self.dense2 = layers.Dense(num_classes)

        def call(self, inputs, training=False):
            x = self.dense1(inputs)
            if training:
                x = self.dropout(x, training=training)
            return self.dense2(x)

    model = MyModel()
    model.build((None, 8))
"""


def test_class_keeps_its_name_signature_attributes_and_plain_statements():
    result = tr(MLP)
    assert "class MyModel(nn.Module):" in result.code
    assert "keras.Model" not in result.code
    assert block(result, "    def __init__(") == [
        "super().__init__()",
        "self.hidden = hidden",
        "self.dense1 = nn.Linear(8, hidden)",
        "self.dropout = nn.Dropout(0.5)",
        "self.dense2 = nn.Linear(hidden, num_classes)",
        "self.reset_parameters()",
    ]
    assert "    def __init__(self, hidden=32, num_classes=4):" in result.code
    # `if training:` around Dropout is the module's mode; the training keyword goes
    assert block(result, "    def forward(self, inputs):") == [
        "x = torch.relu(self.dense1(inputs))",
        "x = self.dropout(x)",
        "x = self.dense2(x)",
        "return x",
    ]
    # torch builds in __init__: the build() call goes
    assert "model.build" not in result.code
    assert "model = MyModel()" in result.code
    assert not result.todos


@pytest.mark.parametrize("feed, shape", [
    pytest.param("model.build((None, 6))", "6", id="build"),
    pytest.param("model.build(input_shape=(None, 6))", "6", id="build-keyword"),
    pytest.param("model(keras.Input(shape=(6,)))", "6", id="called-on-Input"),
    pytest.param("x = np.random.rand(10, 6).astype('float32')\nmodel.fit(x, x, epochs=1)", "6", id="fit-array"),
    pytest.param("x = np.zeros((10, 6))\nprint(model.predict(x))", "6", id="predict-array"),
    pytest.param("x = np.random.normal(0, 1, size=(10, 6))\nmodel.fit(x, x)", "6", id="random-normal-size"),
    pytest.param("model.fit(np.random.random((10, 6)), np.zeros(10))", "6", id="inline-array"),
    pytest.param("(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()\n"
                 "x_train, x_test = x_train / 255.0, x_test / 255.0\n"
                 "x_train = x_train[..., np.newaxis].astype('float32')\n"
                 "model.fit(x_train, y_train)", "1", id="mnist-reassigned-with-newaxis"),
    pytest.param("import tensorflow as tf\n"
                 "x = np.expand_dims(np.zeros((10, 4, 6)), axis=1).reshape(-1, 6)\n"
                 "ds = tf.data.Dataset.from_tensor_slices((x, x)).shuffle(10).batch(2)\n"
                 "def step(xb):\n"
                 "    return model(xb)\n"
                 "for xb, yb in ds:\n"
                 "    step(xb)", "6", id="dataset-batch-through-a-function-parameter"),
])
def test_input_shape_comes_from_how_the_program_builds_or_feeds_the_model(feed, shape):
    result = tr(f"""
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.out = layers.Dense(3)

            def call(self, x):
                return self.out(x)

        model = Net()
        {textwrap.indent(feed, '        ').lstrip()}
    """)
    assert f"self.out = nn.Linear({shape}, 3)" in result.code, result.code
    assert "model(keras.Input" not in result.code


def test_helper_methods_are_inlined_and_shared_layers_called_twice():
    result = tr("""
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.conv = layers.Conv2D(4, 3, padding="same", activation="relu")
                self.pool = layers.MaxPooling2D()
                self.flatten = layers.Flatten()
                self.head = layers.Dense(2)

            def block(self, x):
                return self.pool(self.conv(x))

            def call(self, x, training=None):
                x = self.block(x)
                x = self.flatten(x)
                return self.head(x)

        model = Net()
        model.build((None, 8, 8, 4))
    """)
    forward = block(result, "    def forward(self, x):")
    assert forward[:3] == ["x = x.permute(0, 3, 1, 2)  # channels-last (Keras) -> channels-first (torch)",
                           "x = torch.relu(self.conv(x))", "x = self.pool(x)"]
    assert "self.head = nn.Linear(64, 2)" in result.code
    assert "def block" not in result.code


def test_constructor_parameters_stay_parameters_in_sizes():
    result = tr("""
        class Net(keras.Model):
            def __init__(self, filters=8):
                super().__init__()
                self.conv1 = layers.Conv2D(filters + 2, 3)
                self.flatten = layers.Flatten()
                self.out = layers.Dense(1)

            def call(self, x):
                return self.out(self.flatten(self.conv1(x)))

        model = Net()
        model.build((None, 5, 5, 1))
    """)
    assert "self.conv1 = nn.Conv2d(1, filters + 2, 3)" in result.code
    # a product over a sum keeps its parentheses
    assert "self.out = nn.Linear(3 * 3 * (filters + 2), 1)" in result.code


def test_dropout_in_a_call_without_training_never_applies_like_keras_3():
    result = tr("""
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.drop = layers.Dropout(0.5)
                self.out = layers.Dense(2)

            def call(self, x):
                return self.out(self.drop(x))

        model = Net()
        model.build((None, 4))
    """)
    assert "Dropout" not in result.code and "self.drop" not in result.code
    assert any("inference mode" in d.reason and d.severity == "note" for d in result.diagnostics)


def test_get_config_is_dropped_with_a_note():
    result = tr(MLP.replace("        def call(", "        def get_config(self):\n"
                            "            return {'hidden': self.hidden}\n\n        def call("))
    assert "get_config" not in result.code
    notes = [d for d in result.diagnostics if "get_config" in d.reason]
    assert len(notes) == 1 and notes[0].severity == "note"


LEFT = [
    pytest.param("""
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.out = layers.Dense(2)

            def call(self, x):
                return self.out(x)

        model = Net()
    """, 10, "input shape of Net is unknown", id="no-input-shape"),
    pytest.param("""
        class Total(keras.layers.Layer):
            def build(self, input_shape):
                self.total = self.add_weight(shape=(input_shape[-1],), initializer="zeros", trainable=False)

            def call(self, inputs):
                self.total.assign_add(keras.ops.sum(inputs, axis=0))
                return inputs + self.total

        layer = Total()
        layer.build((None, 4))
    """, 7, "self.total.assign_add", id="weight-updated-in-call"),
    pytest.param("""
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.bn = layers.BatchNormalization()

            def call(self, x):
                return self.bn(x)

        model = Net()
        model.build((None, 4))
    """, 8, "add `training=None`", id="batchnorm-without-training-argument"),
    pytest.param("""
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.bn = layers.BatchNormalization()

            def call(self, x, training=False):
                if training:
                    x = self.bn(x)
                return x

        model = Net()
        model.build((None, 4))
    """, 8, "not the identity at inference", id="if-training-around-batchnorm"),
    pytest.param("""
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.d = layers.Dense(2)

            def call(self, x, training=False):
                return self.d(x) if training else x

        model = Net()
        model.build((None, 4))
    """, 8, "condition on `training`", id="training-as-a-condition"),
    pytest.param("""
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.d = layers.Dense(2)

            def call(self, a, b):
                return self.d(a)

        model = Net()
        model.build((None, 4))
    """, 7, "several inputs", id="two-inputs"),
    pytest.param("""
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.d = layers.Dense(2)

            def train_step(self, data):
                return {}

            def call(self, x):
                return self.d(x)

        model = Net()
        model.build((None, 4))
    """, 7, "train_step", id="train-step-override"),
    pytest.param("""
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.d = layers.Dense(2)

            def call(self, x):
                return self.d(x[:, :2])

        model = Net()
        model.build((None, 4))
    """, 8, "slicing", id="slicing-a-tensor"),
    pytest.param("""
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.d = layers.Dense(2)

            def call(self, x):
                return self.d(x)

        model = Net()
        model.build((None, 4))
        other = Net()
        other.build((None, 5))
    """, 13, "inputs of different shapes", id="two-input-shapes"),
]


@pytest.mark.parametrize("source, line, reason", LEFT)
def test_what_stays_keras_is_marked_at_its_line(source, line, reason):
    result = tr(source)
    todos = [d for d in result.todos if d.construct == "subclassed model"]
    assert len(todos) == 1, result.diagnostics
    # `line` counts from the case's first line (the blank one dedent keeps)
    assert todos[0].line == line + HEADER.count("\n"), todos[0]
    assert reason in todos[0].reason, todos[0].reason
    assert "nn.Module" not in result.code
    assert "# TODO(tfpt): " in result.code


def test_a_class_left_in_keras_keeps_its_model_calls_in_keras():
    result = tr("""
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.d = layers.Dense(2)

            def call(self, x):
                return self.d(x)

        model = Net()
        model.compile(optimizer="adam", loss="mse")
    """)
    assert 'model.compile(optimizer="adam", loss="mse")' in result.code
    assert len(result.todos) == 1


BLOCK = """
    class Block(keras.layers.Layer):
        def __init__(self, units):
            super().__init__()
            self.dense = layers.Dense(units, activation="relu")

        def call(self, inputs):
            return self.dense(inputs) + inputs

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.first = Block(4)
            self.second = Block(4)
            self.out = layers.Dense(1)

        def call(self, x):
            return self.out(self.second(self.first(x)))

    model = Net()
    model.build((None, 4))
"""


def test_a_custom_layer_inside_a_model_becomes_a_submodule_built_by_the_outer_class():
    result = tr(BLOCK)
    assert "class Block(nn.Module):" in result.code and "class Net(nn.Module):" in result.code
    # the input size is the block's first constructor argument, as nn.Linear's in_features is
    assert "    def __init__(self, in_features, units):" in result.code
    assert "self.dense = nn.Linear(in_features, units)" in result.code
    assert block(result, "    def __init__(self):") == [
        "super().__init__()", "self.first = Block(4, 4)", "self.second = Block(4, 4)", "self.out = nn.Linear(4, 1)",
        "self.reset_parameters()"]
    assert block(result, "    def forward(self, x):")[:2] == ["x = self.first(x)", "x = self.second(x)"]
    assert not result.todos
    assert result.code.index("class Block(") < result.code.index("class Net(")


def test_one_block_class_serves_inputs_of_different_sizes_and_outputs_are_sized_per_instance():
    result = tr(BLOCK.replace("return self.dense(inputs) + inputs", "return self.dense(inputs)")
                .replace("self.first = Block(4)", "self.first = Block(16)"))
    assert result.code.count("class Block(nn.Module):") == 1
    assert block(result, "    def __init__(self):")[1:4] == [
        "self.first = Block(4, 16)", "self.second = Block(16, 4)", "self.out = nn.Linear(4, 1)"]
    assert not result.todos, result.todos


def test_a_custom_layer_called_on_two_shapes_stays_keras_with_one_todo():
    result = tr("""
        class Head(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.flat = layers.Flatten()
                self.dense = layers.Dense(2)

            def call(self, x):
                return self.dense(self.flat(x))

        inputs = keras.Input(shape=(4, 4, 3))
        a = Head()(inputs)
        b = Head()(layers.MaxPooling2D()(inputs))
        model = keras.Model(inputs, [a, b])
    """)
    assert "nn.Module" not in result.code
    assert len(result.todos) == 1, result.todos
    assert "Head is called on inputs of different shapes (4, 4, 3 and 2, 2, 3)" in result.todos[0].reason


def test_a_sequential_made_in_init_becomes_its_own_class_sized_by_its_first_call():
    result = tr("""
        class Block(keras.layers.Layer):
            def __init__(self, embed_dim, ff_dim):
                super().__init__()
                self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])

            def call(self, inputs):
                return inputs + self.ffn(inputs)

        block = Block(8, 16)
        block.build((None, 8))
    """)
    assert "class Ffn(nn.Module):" in result.code
    assert "self.dense = nn.Linear(8, ff_dim)" in result.code
    assert "self.ffn = Ffn(ff_dim, embed_dim)" in result.code
    assert result.code.index("class Ffn(") < result.code.index("class Block(")
    assert not result.todos, result.todos


def test_a_custom_layer_in_a_functional_graph_is_a_submodule_the_model_builds():
    result = tr("""
        class Scale(keras.layers.Layer):
            def __init__(self, units):
                super().__init__()
                self.dense = layers.Dense(units)

            def call(self, inputs):
                return inputs + self.dense(inputs)

        inputs = keras.Input(shape=(6,))
        block = Scale(6)
        x = block(inputs)
        outputs = Scale(6)(x)
        model = keras.Model(inputs, outputs)
    """)
    assert "class Scale(nn.Module):" in result.code and "keras" not in result.code.split("class Scale(")[1]
    assert block(result, "    def __init__(self):") == [
        "super().__init__()", "self.block = Scale(6, 6)", "self.scale = Scale(6, 6)"]
    assert "block = Scale(6)\n" not in result.code
    assert "model = Model()" in result.code
    assert not result.todos, result.todos


def test_a_list_of_layers_becomes_a_module_list_named_like_the_state_dict():
    result = tr("""
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.hidden = [layers.Dense(u, activation="relu") for u in (8, 4)]
                self.out = layers.Dense(1)

            def call(self, x):
                for layer in self.hidden:
                    x = layer(x)
                return self.out(x)

        model = Net()
        model.build((None, 3))
    """)
    assert block(result, "    def __init__(self):")[:5] == [
        "super().__init__()", "self.hidden = nn.ModuleList([", "nn.Linear(3, 8),", "nn.Linear(8, 4),", "])"]
    assert block(result, "    def forward(self, x):")[:2] == ["x = torch.relu(self.hidden[0](x))",
                                                            "x = torch.relu(self.hidden[1](x))"]
    assert not result.todos
