"""Public helpers for property-based tests of your own ops and layers (built on hypothesis).

    from hypothesis import given
    from tinygrad_edu import gradcheck
    from tinygrad_edu.testing import strategies as st

    @given(st.tensors(shape=st.shapes(max_dims=2)))
    def test_my_op(x):
        assert gradcheck(my_op, x)
"""

from . import strategies

__all__ = ["strategies"]
