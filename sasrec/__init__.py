"""SASRec on TFX: the library behind the `sasrec` command, the pipeline and its user modules."""
import os

# TFX 1.16, TensorFlow Transform and TensorFlow Recommenders need Keras 2 (tf-keras). The switch is
# read when TensorFlow is first imported, so every package of the project sets it on import.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
