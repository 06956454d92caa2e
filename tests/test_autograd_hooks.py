"""Tensor.register_post_accumulate_grad_hook and engine.autograd.queue_callback, as torch's."""
import threading

import numpy as np
import pytest

import engine as eg
from engine import autograd, nn


def leaf(values):
    return eg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_hook_sees_the_final_gradient_once_per_backward():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append((t is x, t.grad.numpy().copy())))
    (x * x + x).sum().backward()  # x reaches the loss twice: one hook call, the summed grad
    assert len(seen) == 1 and seen[0][0]
    np.testing.assert_array_equal(seen[0][1], [3.0, 5.0])
    (x * 3).sum().backward()  # accumulates: the hook sees the sum of both passes
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[1][1], [6.0, 8.0])


def test_hooks_run_in_registration_order_and_remove():
    x = leaf([1.0])
    calls = []
    first = x.register_post_accumulate_grad_hook(lambda t: calls.append("first"))
    x.register_post_accumulate_grad_hook(lambda t: calls.append("second"))
    (x * 2).sum().backward()
    assert calls == ["first", "second"]
    first.remove()
    first.remove()  # a second remove is harmless
    (x * 2).sum().backward()
    assert calls == ["first", "second", "second"]
    with x.register_post_accumulate_grad_hook(lambda t: calls.append("scoped")):
        (x * 2).sum().backward()
    (x * 2).sum().backward()
    assert calls[-3:] == ["second", "scoped", "second"]


def test_hook_fires_for_each_leaf_and_not_for_autograd_grad():
    a, b = leaf([1.0]), leaf([2.0])
    calls = []
    for name, t in (("a", a), ("b", b)):
        t.register_post_accumulate_grad_hook(lambda t, name=name: calls.append(name))
    (a * b).sum().backward()
    assert sorted(calls) == ["a", "b"]
    eg.autograd.grad((a * b).sum(), [a, b])  # no .grad is accumulated, so no hook runs
    assert sorted(calls) == ["a", "b"]


def test_hook_runs_with_create_graph():
    x = leaf([2.0])
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.requires_grad))
    (x ** 3).sum().backward(create_graph=True)
    assert seen == [True]


def test_hook_only_on_leaves_that_require_grad():
    with pytest.raises(eg.GraphError, match="does not require grad"):
        eg.tensor([1.0]).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(eg.GraphError, match="only a leaf"):
        (leaf([1.0]) * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_queue_callback_runs_once_at_the_end_in_order():
    a, b = leaf([1.0]), leaf([2.0])
    events = []

    def second():
        events.append("second")
        autograd.queue_callback(lambda: events.append("third"))  # runs after the others

    def hook(t):
        events.append("hook")
        if len(events) == 1:
            autograd.queue_callback(lambda: events.append(("first", a.grad is not None,
                                                            b.grad is not None)))
            autograd.queue_callback(second)

    a.register_post_accumulate_grad_hook(hook)
    b.register_post_accumulate_grad_hook(hook)
    (a * b).sum().backward()
    # both hooks before any callback; every grad set by then; a callback may queue another
    assert events == ["hook", "hook", ("first", True, True), "second", "third"]
    events.clear()
    (a * b).sum().backward()  # callbacks of the last pass do not run again
    assert events == ["hook", "hook", ("first", True, True), "second", "third"]


def test_queue_callback_from_a_function_backward_and_in_autograd_grad():
    ran = []

    class Twice(eg.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            autograd.queue_callback(lambda: ran.append("done"))
            return (gy * 2,)

    x = leaf([1.0])
    eg.autograd.grad(Twice.apply(x).sum(), x)
    assert ran == ["done"]


def test_queue_callback_outside_backward_raises():
    with pytest.raises(eg.GraphError, match="no backward pass"):
        autograd.queue_callback(lambda: None)


def test_callbacks_do_not_run_when_backward_raises():
    ran = []

    class Fails(eg.Function):
        def forward(self, x):
            return x

        def backward(self, gy):
            raise RuntimeError("boom")

    x = leaf([1.0])
    x.register_post_accumulate_grad_hook(lambda t: autograd.queue_callback(
        lambda: ran.append("callback")))
    with pytest.raises(RuntimeError, match="boom"):
        (Fails.apply(x) + x).sum().backward()
    assert ran == []
    with pytest.raises(eg.GraphError):  # and the failed pass left nothing behind
        autograd.queue_callback(lambda: None)


def test_callback_queue_is_per_thread():
    """Thread A queues a callback and waits inside its backward while thread B runs a whole
    backward: B runs only its own callback, A's runs at the end of A's backward, in A."""
    ran = []
    a_inside, b_done = threading.Event(), threading.Event()

    def run(name, wait):
        x = leaf([1.0])

        def hook(t):
            autograd.queue_callback(lambda: ran.append((name, threading.current_thread().name)))
            if wait:
                a_inside.set()
                assert b_done.wait(10)

        x.register_post_accumulate_grad_hook(hook)
        if not wait:
            assert a_inside.wait(10)  # B's backward runs while A's is inside its hook
        (x * 2).sum().backward()
        if not wait:
            b_done.set()

    a = threading.Thread(target=run, args=("a", True), name="A")
    b = threading.Thread(target=run, args=("b", False), name="B")
    a.start()
    b.start()
    b.join(10)
    a.join(10)
    assert ran == [("b", "B"), ("a", "A")]


def test_the_last_layers_gradients_are_final_before_the_first_layers_backward():
    # what lets DistributedDataParallel reduce a bucket while backward still runs
    eg.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2))
    finished = []
    for name, p in net.named_parameters():
        p.register_post_accumulate_grad_hook(lambda p, name=name: finished.append(name))
    net(eg.ones(2, 3)).sum().backward()
    assert set(finished[:2]) == {"4.weight", "4.bias"}
    assert set(finished[2:4]) == {"2.weight", "2.bias"}
    assert set(finished[4:]) == {"0.weight", "0.bias"}
