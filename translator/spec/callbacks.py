"""Keras callbacks and tf.data pipelines: what each becomes in PyTorch.

Callbacks: every row is a class of the same name and signature in the runtime
(``translator/runtime/torch_runtime.py``), copied into the translated script, so a
constructor call keeps its arguments and only loses its module prefix. ``fixed`` lists
the arguments the runtime class does not implement: they must be absent or at the
listed (harmless) values, or the call keeps a TODO.

Data pipelines: ``tf.data.Dataset.from_tensor_slices(...)`` chains become a
``torch.utils.data`` dataset or ``DataLoader``; ``DATASET_METHODS`` says what each
method of the chain becomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CallbackSpec:
    """``keras.callbacks.<keras>(...)`` -> the runtime class ``<keras>(...)``."""

    keras: str
    params: tuple[str, ...]  # Keras positional order
    #: arguments the runtime does not implement -> the source texts they may have
    fixed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    note: str = ""  # shown in the README


def _c(keras, params, fixed=None, note=""):
    return CallbackSpec(keras, tuple(params), fixed or {}, note)


CALLBACKS: dict[str, CallbackSpec] = {
    c.keras: c
    for c in [
        _c("EarlyStopping", ("monitor", "min_delta", "patience", "verbose", "mode", "baseline",
                             "restore_best_weights", "start_from_epoch")),
        _c("ModelCheckpoint", ("filepath", "monitor", "verbose", "save_best_only", "save_weights_only", "mode",
                               "save_freq", "initial_value_threshold"),
           note="writes `model.state_dict()` with `torch.save` (full and weights-only saves alike)"),
        _c("ReduceLROnPlateau", ("monitor", "factor", "patience", "verbose", "mode", "min_delta", "cooldown",
                                 "min_lr")),
        _c("LearningRateScheduler", ("schedule", "verbose")),
        _c("CSVLogger", ("filename", "separator", "append")),
        _c("TensorBoard", ("log_dir", "histogram_freq", "write_graph", "write_images", "write_steps_per_second",
                           "update_freq", "profile_batch", "embeddings_freq", "embeddings_metadata"),
           {"histogram_freq": ("0",), "write_images": ("False",), "write_steps_per_second": ("False",),
            "profile_batch": ("0", "None"), "embeddings_freq": ("0",), "embeddings_metadata": ("None",)},
           note="scalars only, through `torch.utils.tensorboard.SummaryWriter`; no model graph"),
        _c("History", ()),
        _c("TerminateOnNaN", ("raise_error",)),
        _c("LambdaCallback", ("on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end",
                              "on_train_batch_begin", "on_train_batch_end")),
    ]
}

#: the base class of custom callbacks; it becomes the runtime's ``Callback``
BASE = "Callback"

#: callbacks tfpt knows and leaves in Keras, with the reason
UNTRANSLATED_CALLBACKS = {
    "BackupAndRestore": "BackupAndRestore (resuming an interrupted fit) has no runtime equivalent yet",
    "ProgbarLogger": "ProgbarLogger is not translated: fit prints one line per epoch when verbose",
    "RemoteMonitor": "RemoteMonitor is not translated (it posts logs to a server)",
    "SwapEMAWeights": "SwapEMAWeights is not translated: the optimizers have no EMA weights",
    "CallbackList": "CallbackList is not translated: pass a plain list of callbacks",
}


# --------------------------------------------------------------------------- tf.data

#: the constructor tfpt translates
FROM_TENSOR_SLICES = "tf.data.Dataset.from_tensor_slices"


@dataclass(frozen=True)
class DatasetMethod:
    """A ``tf.data.Dataset`` method in a chain: its parameters and what tfpt does with it."""

    name: str
    params: tuple[str, ...]
    #: "drop" (no torch counterpart needed), "shuffle", "batch", "map" or "repeat"
    action: str
    #: arguments that must be absent or at these source texts
    fixed: dict[str, tuple[str, ...]] = field(default_factory=dict)


DATASET_METHODS: dict[str, DatasetMethod] = {
    m.name: m
    for m in [
        DatasetMethod("shuffle", ("buffer_size", "seed", "reshuffle_each_iteration", "name"), "shuffle",
                      {"reshuffle_each_iteration": ("None", "True")}),
        DatasetMethod("batch", ("batch_size", "drop_remainder", "num_parallel_calls", "deterministic", "name"),
                      "batch", {"num_parallel_calls": ("*",), "deterministic": ("*",)}),
        DatasetMethod("map", ("map_func", "num_parallel_calls", "deterministic", "name"), "map",
                      {"num_parallel_calls": ("*",), "deterministic": ("*",)}),
        DatasetMethod("repeat", ("count", "name"), "repeat"),
        DatasetMethod("prefetch", ("buffer_size", "name"), "drop"),
        DatasetMethod("cache", ("filename", "name"), "drop", {"filename": ('""', "''")}),
    ]
}

#: tf.data's "pick a value for me" constant: it only ever reaches methods the translation drops
AUTOTUNE = ("tf.data.AUTOTUNE", "tf.data.experimental.AUTOTUNE")

#: framework APIs with no PyTorch mapping in tfpt: the reason each stays in place
UNMAPPED_DATA = {
    "tf.data.TFRecordDataset": "TFRecord files have no PyTorch reader here: convert the records to arrays "
                               "(or write a torch Dataset that parses them) and feed a DataLoader",
    "tf.data.Dataset.from_generator": "Dataset.from_generator is not translated: pass the generator to fit "
                                      "itself (fit accepts generators of (x, y) batches)",
    "tf.data.Dataset.list_files": "Dataset.list_files is not translated: list the files with glob and write a "
                                  "torch Dataset that reads them",
    "tf.data.experimental": "tf.data.experimental is not translated",
    "tf.io": "tf.io (file reading, TFRecord parsing, image decoding) has no PyTorch mapping in tfpt: read the "
             "data with Python/NumPy (or torchvision.io) before it reaches the model",
    "tf.image": "tf.image ops are not translated: use torchvision.transforms.v2 (channels-first tensors) or "
                "NumPy on the arrays",
    "keras.utils.image_dataset_from_directory": "image_dataset_from_directory is not translated: "
                                                "torchvision.datasets.ImageFolder + DataLoader reads the same "
                                                "folder layout (channels-first)",
    "keras.utils.text_dataset_from_directory": "text_dataset_from_directory is not translated",
    "keras.utils.timeseries_dataset_from_array": "timeseries_dataset_from_array is not translated",
    "keras.preprocessing.image.ImageDataGenerator": "ImageDataGenerator is not translated: use "
                                                    "torchvision.transforms.v2 and a DataLoader",
}


def unmapped_reason(name: str) -> str | None:
    """The reason a framework name is left in place, for the name or a module above it."""
    while name:
        if name in UNMAPPED_DATA:
            return UNMAPPED_DATA[name]
        name = name.rpartition(".")[0]
    return None


# --------------------------------------------------------------------------- README

_TRANSLATED, _CAVEAT, _TODO = "translated", "translated, with a caveat", "marked TODO"

#: (area, construct, status, note): rows continuing the README's construct table
CONSTRUCTS = [
    ("Training", "`fit(callbacks=[...])`: " + ", ".join(f"`{c}`" for c in CALLBACKS), _TRANSLATED,
     "runtime classes of the same names and signatures, copied into the script; Keras's semantics (wait "
     "counting, restore at the end, cooldown, `learning_rate` in the logs, CSV format, checkpoint names)"),
    ("Training", "`ModelCheckpoint`", _CAVEAT, CALLBACKS["ModelCheckpoint"].note),
    ("Training", "`TensorBoard`", _CAVEAT, CALLBACKS["TensorBoard"].note + "; needs the `tensorboard` package"),
    ("Training", "`class C(keras.callbacks.Callback)`", _TRANSLATED,
     "keeps its code; its base becomes the runtime `Callback` (Keras's hooks; `self.model` is the torch model, "
     "`self.model.stop_training = True` stops)"),
    ("Training", ", ".join(f"`{c}`" for c in UNTRANSLATED_CALLBACKS) + ", `TensorBoard(histogram_freq=...)` "
     "and other options outside the runtime's", _TODO, "the callback stays Keras with the reason"),
    ("Training", "`fit(sample_weight=..., class_weight=...)`, `evaluate(sample_weight=...)`, "
     "`(x, y, sample_weight)` datasets", _TRANSLATED,
     "each sample's loss weighted, summed and divided by the batch size (not the weights' sum), as Keras; "
     "metrics unweighted; `validation_split` splits the weights too"),
    ("Training", "`fit`/`evaluate`/`predict` on a list of arrays (multi-input models)", _TRANSLATED,
     "`model(*inputs)`; `predict` of a multi-output model returns one array per output"),
    ("Training", "`fit` with one target per output, inputs in a dict", _TODO, "multi-output training is not "
     "translated yet"),
    ("Data", "`tf.data.Dataset.from_tensor_slices((x, y))` + `.map(fn)`, `.cache()`, `.shuffle(n)`, `.batch(b)`, "
     "`.prefetch(k)`, `.repeat()`, in one chain or over several statements", _CAVEAT,
     "`DataLoader(TensorDataset(...), batch_size=b, shuffle=True)`; `map` before `batch` -> the runtime's "
     "`MapDataset`, `repeat` -> `Repeat`; a buffer smaller than the data shuffles fully (a note says so)"),
    ("Data", "`fit`/`evaluate`/`predict` on a DataLoader, a dataset or a Python generator of `(x, y)` batches, "
     "`steps_per_epoch`, `validation_steps`", _TRANSLATED,
     "batches drawn like Keras's epoch iterator (steps continue across epochs; a used-up generator stays "
     "empty where Keras replays its first two batches)"),
    ("Data", "`keras.utils.pad_sequences` (`keras.preprocessing.sequence.pad_sequences`)", _TRANSLATED,
     "a NumPy helper with Keras's defaults (int32, `pre` padding and truncating, value 0)"),
    ("Data", "`shuffle`/`batch` of batches, `map` after `batch`, `take`/`skip`/`filter`/`zip`..., a shuffle in an "
     "`if`, `TFRecordDataset`, `from_generator`, `tf.io`, `tf.image`, `image_dataset_from_directory`", _TODO,
     "left in place with the reason and what to use instead"),
]


def construct_rows() -> list[str]:
    """Rows continuing the README's construct table (``translator/support_table.py``)."""
    return [f"| {area} | {construct} | {status} | {note} |" for area, construct, status, note in CONSTRUCTS]
