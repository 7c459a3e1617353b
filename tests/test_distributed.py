"""minidl.distributed in one process: a world of one, the ring's schedule, the sampler, the cost
model and DDP's bookkeeping. The multi-process checks are in test_distributed_mpi.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
import minidl.distributed as dist
from minidl import nn, optim
from minidl.data import ArrayDataset, DataLoader, DistributedSampler
from minidl.train import fit


@pytest.fixture
def world_of_one():
    dist.init_process_group("mpi")
    yield
    dist.destroy_process_group()


def test_a_plain_python_process_is_a_world_of_one(world_of_one):
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    a = np.array([1.0, -2.0, 3.0])
    for op in dist.ReduceOp:
        dist.all_reduce(a, op=op)  # every collective is the identity in a world of one
        assert np.array_equal(a, [1.0, -2.0, 3.0])
    t = minidl.Tensor([4.0, 5.0])
    dist.broadcast(t, src=0)
    out = [np.zeros(2)]
    dist.all_gather(out, t)
    assert np.array_equal(out[0], [4.0, 5.0]) and dist.all_gather_object("x") == ["x"]
    dist.barrier()


def test_process_group_errors_name_the_problem(world_of_one):
    with pytest.raises(RuntimeError, match="twice"):
        dist.init_process_group()
    with pytest.raises(ValueError, match="src must be a rank in \\[0, 1\\)"):
        dist.broadcast(np.zeros(2), src=1)
    with pytest.raises(TypeError, match="ReduceOp"):
        dist.all_reduce(np.zeros(2), op="sum")
    with pytest.raises(ValueError, match="world_size=4 but MPI started this process with world_size=1"):
        dist.destroy_process_group()
        dist.init_process_group(world_size=4)


def test_rank_before_init_is_an_error():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        dist.init_process_group("nccl")


@settings(deadline=None, max_examples=60)
@given(world=st.integers(1, 6), size=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_simulated_ring_equals_the_sum_on_every_rank(world, size, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(size=size) for _ in range(world)]
    out = dist.simulate_ring_all_reduce(arrays)
    counter: dict[str, int] = {}
    dist.simulate_ring_all_reduce([np.zeros(world * 8) for _ in range(world)], counter=counter)
    assert counter.get("bytes_sent", 0) == dist.ring_bytes_per_rank(world * 8 * 8, world)  # measured = formula
    for o in out:
        np.testing.assert_allclose(o, np.sum(arrays, axis=0), rtol=1e-12, atol=1e-12)
        assert np.array_equal(o, out[0])  # the same bits everywhere: each chunk is summed once


@settings(deadline=None, max_examples=40)
@given(world=st.integers(2, 8))
def test_ring_schedule_sends_each_chunk_once_per_step_and_traffic_is_2_n_minus_1_over_n(world):
    for phase in ("reduce_scatter", "all_gather"):
        for step in range(world - 1):
            sends = [dist.ring_schedule(r, world, phase, step)[0] for r in range(world)]
            receives = [dist.ring_schedule(r, world, phase, step)[1] for r in range(world)]
            assert sorted(sends) == list(range(world))
            # what rank r receives is what its left neighbour sends
            assert receives == [sends[(r - 1) % world] for r in range(world)]
    nbytes = 8 * 12 * world  # chunks of equal size
    sent = 2 * (world - 1) * nbytes / world
    assert dist.ring_bytes_per_rank(nbytes, world) == pytest.approx(sent)


def test_ring_all_reduce_in_a_world_of_one_is_the_identity(world_of_one):
    a = np.arange(5.0)
    dist.ring_all_reduce(a)
    assert np.array_equal(a, np.arange(5.0))


def test_alpha_beta_fit_recovers_the_model_it_was_made_from():
    alpha, beta = 20e-6, 1 / 4e9
    sizes = [4096 * 4**k for k in range(7)]
    times = [dist.ring_allreduce_time(n, 2, alpha, beta) for n in sizes]
    a, b = dist.fit_alpha_beta(sizes, times, 2)
    assert a == pytest.approx(alpha, rel=1e-9) and b == pytest.approx(beta, rel=1e-9)
    # the tree's latency grows as log N, the ring's as N
    assert dist.tree_allreduce_time(4096, 1024, alpha, beta) < dist.ring_allreduce_time(4096, 1024, alpha, beta)
    assert dist.ring_allreduce_time(2**26, 1024, alpha, beta) < dist.tree_allreduce_time(2**26, 1024, alpha, beta)
    assert dist.ring_allreduce_time(2**26, 2, alpha, beta) == pytest.approx(2 * alpha + 2**26 * beta)
    assert dist.tree_allreduce_time(10, 8, 1.0, 0.0) == 2 * math.ceil(math.log2(8))


# -- DistributedSampler ----------------------------------------------------------------------

def _data(n: int) -> ArrayDataset:
    return ArrayDataset(np.arange(n, dtype=np.float64).reshape(n, 1), np.arange(n) % 3)


@settings(deadline=None, max_examples=60)
@given(n=st.integers(1, 50), world=st.integers(1, 7), shuffle=st.booleans(), drop_last=st.booleans(),
       epoch=st.integers(0, 3))
def test_sampler_splits_every_epoch_between_the_ranks(n, world, shuffle, drop_last, epoch):
    if drop_last and n < world:
        with pytest.raises(ValueError, match="no sample per rank"):
            DistributedSampler(_data(n), num_replicas=world, rank=0, drop_last=True)
        return
    samplers = [DistributedSampler(_data(n), world, r, shuffle=shuffle, seed=3, drop_last=drop_last)
                for r in range(world)]
    for s in samplers:
        s.set_epoch(epoch)
    parts = [s.indices() for s in samplers]
    per_rank = n // world if drop_last else math.ceil(n / world)
    assert all(len(p) == per_rank == len(s) for p, s in zip(parts, samplers))  # equal steps everywhere
    union = np.concatenate(parts)
    if drop_last:
        assert len(set(union.tolist())) == len(union)  # nothing twice, n mod N left out
    else:
        assert set(union.tolist()) == set(range(n))  # everything, the first few twice as padding


def test_sampler_matches_pytorchs_order_by_hand():
    # n=5, N=2, no shuffle: padded [0 1 2 3 4 0]; rank 0 takes [0 2 4], rank 1 [1 3 0]
    assert DistributedSampler(_data(5), 2, 0, shuffle=False).indices().tolist() == [0, 2, 4]
    assert DistributedSampler(_data(5), 2, 1, shuffle=False).indices().tolist() == [1, 3, 0]
    assert DistributedSampler(_data(5), 2, 1, shuffle=False, drop_last=True).indices().tolist() == [1, 3]
    s = DistributedSampler(_data(20), 2, 0, seed=1)
    first = s.indices()
    s.set_epoch(1)
    assert not np.array_equal(first, s.indices())  # set_epoch reshuffles


def test_sampler_and_loader_errors():
    with pytest.raises(ValueError, match="rank must be in \\[0, 2\\)"):
        DistributedSampler(_data(4), num_replicas=2, rank=2)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(_data(4))
    sampler = DistributedSampler(_data(4), 2, 0)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(_data(4), 2, shuffle=True, sampler=sampler)
    with pytest.raises(ValueError, match="made for a dataset of 4 samples, the DataLoader got one of 6"):
        DataLoader(_data(6), 2, sampler=sampler)


def test_loader_with_a_sampler_reads_the_samplers_indices_and_reshuffles_each_epoch():
    sampler = DistributedSampler(_data(10), num_replicas=2, rank=1, seed=5)
    loader = DataLoader(_data(10), batch_size=2, sampler=sampler)
    assert len(loader) == 3
    epochs = [np.concatenate([x.data[:, 0] for x, _ in loader]).astype(int) for _ in range(2)]
    sampler.set_epoch(0)
    assert epochs[0].tolist() == sampler.indices().tolist()
    assert epochs[0].tolist() != epochs[1].tolist()


# -- DDP in a world of one ----------------------------------------------------------------------

def test_ddp_in_a_world_of_one_trains_exactly_like_the_module_itself(world_of_one):
    from minidl.data import load_digits

    train = load_digits("train")
    results = []
    for wrap in (False, True):
        minidl.manual_seed(0)
        model = nn.MLP([64, 32, 10])
        net = nn.parallel.DistributedDataParallel(model) if wrap else model
        # in epoch 0 a world of one's sampler visits the same permutation as a loader with the
        # same seed (later epochs differ: the sampler reseeds with seed + epoch, as PyTorch's)
        loader = (DataLoader(train, 64, sampler=DistributedSampler(train, seed=1)) if wrap
                  else DataLoader(train, 64, shuffle=True, seed=1))
        fit(net, nn.CrossEntropyLoss(), optim.SGD(net.parameters(), lr=0.1), loader, epochs=1, progress=False)
        results.append(np.concatenate([p.data.ravel() for p in model.parameters()]))
        if wrap:
            assert net.module is model and "world_size=1" in repr(net)
            assert next(iter(net.state_dict())).startswith("module.")
    assert np.array_equal(results[0], results[1])


def test_ddp_refuses_what_it_cannot_wrap(world_of_one):
    with pytest.raises(TypeError, match="wraps a minidl.nn.Module"):
        nn.parallel.DistributedDataParallel(lambda x: x)
    with pytest.raises(ValueError, match="bucket_cap_mb must be > 0"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2), bucket_cap_mb=0)


def test_ddp_needs_the_process_group():
    with pytest.raises(RuntimeError, match="init_process_group"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))


def test_collectives_accept_a_tensor_holding_a_numpy_scalar(world_of_one):
    t = minidl.Tensor._wrap(np.float32(3.0))  # what a 0-d NumPy result often is (QAT's observers hold such)
    dist.broadcast(t, src=0)
    dist.all_reduce(t, dist.ReduceOp.AVG)
    assert float(t.data) == 3.0
    with pytest.raises(TypeError, match="Tensor or a NumPy array on the CPU"):
        dist.all_reduce([1.0, 2.0])
