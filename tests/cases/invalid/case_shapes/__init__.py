"""Helpers of the invalid case left_out_of_all.py, which star-imports this package."""

__all__ = ["area"]


def area(side):
    return side * side


def perimeter(side):
    return 4 * side
