"""Running one model on several processes: ``DistributedDataParallel`` (PyTorch's ``torch.nn.parallel``)."""

from minidl.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
