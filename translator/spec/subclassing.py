"""What a subclassed ``keras.Model`` / ``keras.layers.Layer`` may contain, as tables.

``translator/subclassing.py`` traces ``__init__`` and ``call``; these tables say which
other methods go (and what the report says about them), which keep the class in Keras,
and which layers may sit under ``if training:`` (torch applies them in train mode only,
so the branch is the layer itself).
"""

from __future__ import annotations

#: base classes (as the name resolver spells them) whose subclasses are translated
BASES = frozenset({"keras.Model", "keras.models.Model", "keras.layers.Layer"})

#: methods with no torch counterpart: removed, with this note in the report
DROPPED_METHODS = {
    "get_config": "get_config() dropped: a torch module is rebuilt from its constructor arguments",
    "from_config": "from_config() dropped: a torch module is rebuilt from its constructor arguments",
    "get_build_config": "get_build_config() dropped: torch modules are built in __init__",
    "build_from_config": "build_from_config() dropped: torch modules are built in __init__",
    "compute_output_shape": "compute_output_shape() dropped: torch has no symbolic shapes",
    "compute_output_spec": "compute_output_spec() dropped: torch has no symbolic shapes",
}

#: methods that keep the whole class in Keras (the reason goes into the TODO)
BLOCKING_METHODS = {
    "train_step": "an overridden train_step() is not translated yet: the class is left in Keras",
    "test_step": "an overridden test_step() is not translated yet: the class is left in Keras",
    "predict_step": "an overridden predict_step() is not translated yet: the class is left in Keras",
    "compute_mask": "compute_mask() (masking) is not translated: the class is left in Keras",
}

#: the ``call`` parameters Keras passes by keyword, besides the inputs
FLAG_PARAMS = frozenset({"training", "mask"})

#: layers that are the identity at inference: ``if training: x = self.dropout(x)`` is the layer itself
IDENTITY_AT_INFERENCE = frozenset({
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout",
    "GaussianNoise", "GaussianDropout", "RandomFlip", "RandomContrast", "RandomRotation", "RandomZoom",
    "RandomTranslation", "RandomBrightness",
})

#: layers that behave differently in training: in a ``call`` without a ``training`` parameter Keras 3
#: runs them in inference mode, even inside ``fit``
MODE_DEPENDENT = IDENTITY_AT_INFERENCE | {"BatchNormalization", "RandomCrop"}

#: array constructors whose shape a subclassed model's input can be read from (fit(x_train) with
#: ``x_train = np.random.rand(256, 20)``): function -> how the shape is given
ARRAY_SHAPES = {
    "numpy.random.rand": "args",
    "numpy.random.randn": "args",
    "numpy.random.random": "size",
    "numpy.random.random_sample": "size",
    "numpy.random.uniform": "size",
    "numpy.random.normal": "size",
    "numpy.random.standard_normal": "size",
    "numpy.random.randint": "size",
    "numpy.zeros": "shape",
    "numpy.ones": "shape",
    "numpy.empty": "shape",
    "numpy.full": "shape",
    "tensorflow.zeros": "shape",
    "tensorflow.ones": "shape",
    "tensorflow.random.normal": "shape",
    "tensorflow.random.uniform": "shape",
}
#: where the shape argument sits for the "size" / "shape" kinds: (keyword, position)
SHAPE_ARGUMENT = {
    "size": {"numpy.random.random": ("size", 0), "numpy.random.random_sample": ("size", 0),
             "numpy.random.uniform": ("size", 2), "numpy.random.normal": ("size", 2),
             "numpy.random.standard_normal": ("size", 0), "numpy.random.randint": ("size", 2)},
    "shape": ("shape", 0),
}
#: methods on an array that keep its shape
SHAPE_KEEPING_METHODS = frozenset({"astype", "copy"})
#: functions of one array that keep its shape (``np.asarray(x)``, ``tf.cast(x, tf.float32)``)
SHAPE_KEEPING_FUNCTIONS = frozenset({
    "numpy.array", "numpy.asarray", "numpy.float32", "numpy.ascontiguousarray", "tensorflow.cast",
    "tensorflow.convert_to_tensor", "tensorflow.constant", "tf.cast", "tf.convert_to_tensor", "tf.constant",
})
#: ``np.expand_dims(x, axis)``
EXPAND_DIMS = frozenset({"numpy.expand_dims", "tensorflow.expand_dims"})
#: ``x[..., np.newaxis]``
NEWAXIS = frozenset({"numpy.newaxis", "tensorflow.newaxis", "tf.newaxis"})
#: ``keras.datasets.<name>.load_data()``: the shape of one x sample
DATASET_SHAPES = {
    "keras.datasets.mnist": (28, 28),
    "keras.datasets.fashion_mnist": (28, 28),
    "keras.datasets.cifar10": (32, 32, 3),
    "keras.datasets.cifar100": (32, 32, 3),
    "keras.datasets.boston_housing": (13,),
    "keras.datasets.california_housing": (8,),
}
#: tf.data methods that keep an element's shape past the batch axis (``batch`` adds it; it is dropped anyway)
DATASET_SHAPE_KEEPING = frozenset({"shuffle", "batch", "prefetch", "cache", "repeat", "take", "skip"})
FROM_TENSOR_SLICES = "tf.data.Dataset.from_tensor_slices"
