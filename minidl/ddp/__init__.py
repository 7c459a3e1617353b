"""Programs that run data-parallel jobs: the measurements behind lesson 12, ``make bench`` and
``minidl ddp -n 2`` (``measure``: ``mpiexec -n N python -m minidl.ddp.measure KIND``; ``demo``).

They train real models (nn, optim, data, train), so they sit at the top of the layers, beside
the tour and the CLI; :mod:`minidl.distributed` below them is the engine they drive.
"""
