"""Checks of the numbers users pass to constructors (layer sizes, hyperparameters): each bad
value is an ArgumentError naming the owner, the argument, what it got and what it expected."""
import math
import numbers

from .errors import ArgumentError


def number(owner, what, value, low=0.0, high=math.inf, low_open=False, high_open=False):
    """value as a float when it is a finite real number in its range, else ArgumentError in
    torch's words ("Invalid learning rate: nan") with the range expected."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low < value if low_open else low <= value) and \
        (value < high if high_open else value <= high)
    if not ok:
        expected = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ArgumentError(f"{owner}: Invalid {what}: {value!r}; expected a finite number in "
                            f"{expected}")
    return float(value)


def count(owner, what, value, minimum=1):
    """value as an int when it is an int (not a bool) of at least `minimum`."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ArgumentError(f"{owner}: {what} must be an int of at least {minimum}, got {value!r}")
    return int(value)


def counts(owner, what, value, minimum=1):
    """An int or a pair of ints (each checked by count) as a pair."""
    values = (value, value) if isinstance(value, numbers.Integral) else value
    if not isinstance(values, (tuple, list)) or len(values) != 2:
        raise ArgumentError(f"{owner}: {what} must be an int or a pair of ints, got {value!r}")
    return tuple(count(owner, what, v, minimum) for v in values)
