"""minidl.threads: how many threads minidl's own kernels use, and parallel_map / parallel_range,
which share a batch out over them with BLAS held to one thread per part."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from minidl import threads
from minidl.threads import blas_threads, get_num_threads, num_threads, parallel_map, parallel_range, set_num_threads

pytestmark = pytest.mark.numpy_only  # about threads, not arrays


def _blas_threads_now() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_num_threads_is_validated_set_and_restored():
    before = get_num_threads()
    with num_threads(3):
        assert get_num_threads() == 3
        with num_threads(None):  # None: every core
            assert get_num_threads() == threads._cpu_count()
    assert get_num_threads() == before
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="num_threads must be a positive int or None"):
            set_num_threads(bad)


def test_blas_threads_limits_the_kernels_too():
    with num_threads(2):
        with blas_threads(1):
            assert get_num_threads() == 1  # the one-thread benchmark rows run the kernels on one thread
        assert get_num_threads() == 2
        with blas_threads(None):  # no limit: both unchanged
            assert get_num_threads() == 2


def test_lesson_threads_limits_the_kernels_for_the_rest_of_the_process():
    saved = threads._Threads.count
    try:
        assert threads.lesson_threads(1) == 1
        assert get_num_threads() == 1
    finally:
        threads._Threads.count = saved


def test_parallel_map_runs_the_parts_side_by_side_in_order():
    barrier = threading.Barrier(2, timeout=10)  # passes only if both parts run at the same time
    seen = []

    def work(item):
        seen.append(threading.get_ident())
        if item in (0, 3):  # the first item of each of the two runs
            barrier.wait()
        return item * item

    with num_threads(2):
        assert parallel_map(work, range(6)) == [0, 1, 4, 9, 16, 25]
    assert len(set(seen)) == 2 and threading.get_ident() in seen  # the caller took one run


def test_parallel_map_holds_blas_to_one_thread_and_gives_it_back():
    with blas_threads(2), num_threads(2):
        inside = parallel_map(lambda _: _blas_threads_now(), range(2))
        assert all(n == 1 for per_part in inside for n in per_part)
        assert all(n == 2 for n in _blas_threads_now())


def test_parallel_map_on_one_thread_nested_or_after_an_error_is_the_plain_loop():
    idents = []
    with num_threads(1):
        parallel_map(lambda _: idents.append(threading.get_ident()), range(4))
    assert set(idents) == {threading.get_ident()}
    with num_threads(2):
        nested = parallel_map(lambda i: parallel_map(lambda j: 10 * i + j, range(3)), range(2))
        assert nested == [[0, 1, 2], [10, 11, 12]]

        def fail(i):
            if i == 3:
                raise KeyError("part two failed")
            return i

        with pytest.raises(KeyError, match="part two failed"):
            parallel_map(fail, range(4))
        assert parallel_map(lambda i: i + 1, range(4)) == [1, 2, 3, 4]  # the region was released
    assert all(n == 1 for n in _blas_threads_now())


@pytest.mark.parametrize("n, grain, parts", [(10, 1, 2), (10, 6, 1), (1, 1, 1), (0, 1, 1), (7, 3, 2)])
def test_parallel_range_covers_the_range_in_contiguous_parts(n, grain, parts):
    got = []
    with num_threads(2):
        parallel_range(lambda a, b: got.append((a, b)), n, grain=grain)
    got.sort()
    assert len(got) == parts
    assert got[0][0] == 0 and got[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(got, got[1:]))


def _split_in_child(_):
    with num_threads(2):
        return parallel_map(lambda i: i * 2, range(4))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_forked_child_starts_its_own_threads():
    with num_threads(2):
        parallel_map(lambda i: i, range(2))  # the parent's pool exists before the fork
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map_async(_split_in_child, [0]).get(timeout=60) == [[0, 2, 4, 6]]


def test_split_arrays_write_disjoint_slices():
    x = np.arange(100_000, dtype=np.float32)
    out = np.empty_like(x)
    with num_threads(2):
        parallel_range(lambda a, b: np.multiply(x[a:b], 2, out=out[a:b]), x.size, grain=1000)
    np.testing.assert_array_equal(out, 2 * x)
