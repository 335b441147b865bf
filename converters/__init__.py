"""Weights and proofs: moving Keras weights to the translated torch modules, and verifying.

``transfer`` maps arrays (numpy only) with the spec's weight rules; ``keras_source``
rebuilds a recognised model as Keras code; ``verify`` runs both frameworks, each in
its own worker process (``verify_worker``), and compares them. ``convert`` moves
checkpoints (``keras_files``/``keras_config`` read Keras files, ``torch_files`` state
dicts, ``convert_worker`` runs each framework's side, ``onnx_route`` the ONNX path);
``workers`` is the environment all worker processes share. Importing this package
imports neither TensorFlow nor torch.
"""
