from custom_layer import PReLU, PReLUFunction
from hypothesis import given

from tinygrad_edu import gradcheck
from tinygrad_edu.testing import strategies as st


@given(st.tensors(avoid=(0.0,)), st.tensors(shape=()))  # x away from the kink at 0
def test_prelu_function(x, a):
    assert gradcheck(PReLUFunction.apply, (x, a))


@given(st.tensors(shape=st.shapes(min_dims=1), avoid=(0.0,)))
def test_prelu_module(x):
    layer = PReLU().double()  # gradcheck needs float64
    assert gradcheck(lambda x, slope: layer(x), (x, layer.slope))
