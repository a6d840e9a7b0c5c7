"""musicnn (Pons & Serra, 2019), a music-tagging CNN trained on MSD and MagnaTagATune, ported to PyTorch.

- :mod:`~musicgenre.musicnn.weights`: the weights family (:data:`~musicgenre.musicnn.weights.MUSICNN`);
- :mod:`~musicgenre.musicnn.download`: ``musicgenre download musicnn`` (the wheel from PyPI, checked, extracted);
- :mod:`~musicgenre.musicnn.tf_checkpoint`: TensorFlow checkpoints read without TensorFlow.
"""
