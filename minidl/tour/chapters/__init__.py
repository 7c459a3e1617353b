"""The tour's chapters, one module each; :data:`CHAPTERS` is the tour's table of contents.

Adding a chapter: write a module with one ``@chapter(key, title)`` function and put it in
:data:`CHAPTERS` where the tour should run it.
"""

from minidl.tour.chapters import cnn, data, distill, mlp, optimizers, pruning, quantization, search

CHAPTERS = (
    mlp.run,           # 1. an MLP learns the images: the model chapters 4 and 5 compress
    optimizers.run,    # 2. GD, SGD, momentum and Adam train the same MLP
    data.run,          # 3. standardizing with training statistics; accuracy vs amount of data
    pruning.run,       # 4. pruning chapter 1's MLP, and making it really smaller
    quantization.run,  # 5. int8 / 4-bit / QAT / half precision of chapter 1's MLP (and chapter 7's CNN)
    distill.run,       # 6. a small student learns from a large teacher
    cnn.run,           # 7. a small CNN and its filters
    search.run,        # 8. hyperparameter search: grid, random, halving, Bayesian
)

__all__ = ["CHAPTERS"]
