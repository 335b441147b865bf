"""Weights and proofs: moving Keras weights to the translated torch modules, and verifying.

``transfer`` maps arrays (numpy only) with the spec's weight rules; ``keras_source``
rebuilds a recognised model as Keras code; ``verify`` runs both frameworks, each in
its own worker process (``verify_worker``), and compares them. Importing this package
imports neither TensorFlow nor torch.
"""
