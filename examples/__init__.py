"""Runnable scripts that train something real (``make mnist-cnn``)."""
