"""Tests of the backward rules in tinygrad_edu/ops, one file per op family."""
