"""Tests of :mod:`nnlib.layers`.

The first part is ONE generic suite that runs over every class in
``nnlib.layers.Layer.registry`` and over each class's ``test_cases()``, so a
new layer is tested for free as soon as it is defined in a module that
``nnlib/__init__.py`` imports.  The second part checks ``Dense`` against an
independent finite-difference Jacobian and covers its own API.

No test module may subclass ``Layer``: a subclass would register itself and
leak into the generic suite.
"""

import numpy as np
import pytest

import nnlib  # noqa: F401  -- imports every module that defines layers (fills the registry)
from nnlib.activations import ACTIVATIONS
from nnlib.checks import adjoint_test, taylor_test
from nnlib.layers import Dense, Layer

DTYPES = [
    pytest.param(np.float64, id="float64"),
    pytest.param(np.float32, id="float32"),
]


# --------------------------------------------------------------------------
# collection of the generic cases
# --------------------------------------------------------------------------


def _registered_cases():
    """``pytest.param(layer, n_examples)`` for every registered class's test cases.

    A class whose ``test_cases()`` raises contributes no case here; it is
    reported by :func:`test_every_registered_layer_has_test_cases` instead of
    breaking the collection of the whole module.
    """
    params = []
    for name in sorted(Layer.registry):
        try:
            cases = list(Layer.registry[name].test_cases())
        except Exception:  # reported by test_every_registered_layer_has_test_cases
            continue
        for i, (layer, n_examples) in enumerate(cases):
            params.append(pytest.param(layer, n_examples, id=f"{name}{i}-{layer!r}"))
    return params


CASES = _registered_cases()


def _setup(layer, n_examples, dtype, seed=0):
    """A generator, parameters and data for one case in the requested dtype."""
    rng = np.random.default_rng(seed)
    theta = np.asarray(layer.init_params(rng)).astype(dtype)
    Y = rng.standard_normal((layer.n_in, n_examples)).astype(dtype)
    return rng, theta, Y


# --------------------------------------------------------------------------
# the registry itself
# --------------------------------------------------------------------------


def test_registry_holds_the_core_layers():
    assert Layer.registry.get("Dense") is Dense
    assert len(CASES) >= len(Layer.registry)


@pytest.mark.parametrize("name", sorted(Layer.registry))
def test_every_registered_layer_has_test_cases(name):
    cls = Layer.registry[name]
    cases = list(cls.test_cases())
    assert len(cases) >= 1, f"{name}.test_cases() returned no cases"
    for case in cases:
        layer, n_examples = case
        assert isinstance(layer, cls), f"{name}.test_cases() returned a {type(layer).__name__}"
        assert isinstance(n_examples, (int, np.integer)) and n_examples >= 1
        assert isinstance(layer.n_params, (int, np.integer)) and layer.n_params >= 0


# --------------------------------------------------------------------------
# generic suite: every registered layer, every test case, float64 and float32
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer, n_examples", CASES)
def test_forward_shape_and_dtype(layer, n_examples, dtype):
    _, theta, Y = _setup(layer, n_examples, dtype)
    Z = layer.forward(theta, Y)
    assert isinstance(Z, np.ndarray)
    assert Z.ndim == 2
    assert Z.shape == layer.output_shape(Y)
    assert Z.shape[1] == n_examples
    if hasattr(layer, "n_out"):
        assert Z.shape == (layer.n_out, n_examples)
    assert Z.dtype == dtype, f"{dtype.__name__} in gave {Z.dtype} out"
    assert np.all(np.isfinite(Z))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer, n_examples", CASES)
def test_operator_shapes_and_dtypes(layer, n_examples, dtype):
    rng, theta, Y = _setup(layer, n_examples, dtype)
    Z = layer.forward(theta, Y)
    Jp = layer.jacobian_params(theta, Y)
    Ji = layer.jacobian_input(theta, Y)
    assert Jp.shape == (Z.size, layer.n_params)
    assert Ji.shape == (Z.size, Y.size)
    for J in (Jp, Ji):
        assert J.dtype == dtype
        m, p = J.shape
        Jv = J.matvec(rng.standard_normal(p).astype(dtype))
        JTw = J.rmatvec(rng.standard_normal(m).astype(dtype))
        assert Jv.shape == (m,) and Jv.dtype == dtype
        assert JTw.shape == (p,) and JTw.dtype == dtype
        assert np.all(np.isfinite(Jv)) and np.all(np.isfinite(JTw))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer, n_examples", CASES)
def test_taylor_jacobian_params(layer, n_examples, dtype):
    rng, theta, Y = _setup(layer, n_examples, dtype)
    result = taylor_test(
        lambda th: layer.forward(th, Y),
        layer.jacobian_params(theta, Y),
        theta,
        rng=rng,
        name=f"{layer!r} d/dtheta",
    )
    assert result, f"{result}\n{result.table()}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer, n_examples", CASES)
def test_taylor_jacobian_input(layer, n_examples, dtype):
    rng, theta, Y = _setup(layer, n_examples, dtype)
    result = taylor_test(
        lambda Yh: layer.forward(theta, Yh),
        layer.jacobian_input(theta, Y),
        Y,
        rng=rng,
        name=f"{layer!r} d/dY",
    )
    assert result, f"{result}\n{result.table()}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer, n_examples", CASES)
def test_adjoint_jacobian_params(layer, n_examples, dtype):
    rng, theta, Y = _setup(layer, n_examples, dtype)
    result = adjoint_test(layer.jacobian_params(theta, Y), rng=rng, name=f"{layer!r} d/dtheta")
    assert result.rtol == (1e-4 if dtype == np.float32 else 1e-10)
    assert result, str(result)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer, n_examples", CASES)
def test_adjoint_jacobian_input(layer, n_examples, dtype):
    rng, theta, Y = _setup(layer, n_examples, dtype)
    result = adjoint_test(layer.jacobian_input(theta, Y), rng=rng, name=f"{layer!r} d/dY")
    assert result.rtol == (1e-4 if dtype == np.float32 else 1e-10)
    assert result, str(result)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer, n_examples", CASES)
def test_inputs_not_mutated(layer, n_examples, dtype):
    rng, theta, Y = _setup(layer, n_examples, dtype)
    theta0, Y0 = theta.copy(), Y.copy()

    Z = layer.forward(theta, Y)
    Jp = layer.jacobian_params(theta, Y)
    Ji = layer.jacobian_input(theta, Y)
    vectors = []
    for J in (Jp, Ji):
        m, p = J.shape
        v = rng.standard_normal(p).astype(dtype)
        w = rng.standard_normal(m).astype(dtype)
        v0, w0 = v.copy(), w.copy()
        J.matvec(v)
        J.rmatvec(w)
        vectors.append((v, v0, w, w0))

    np.testing.assert_array_equal(theta, theta0)
    np.testing.assert_array_equal(Y, Y0)
    for v, v0, w, w0 in vectors:
        np.testing.assert_array_equal(v, v0)
        np.testing.assert_array_equal(w, w0)
    # Operators built earlier still describe the original point.
    np.testing.assert_array_equal(layer.forward(theta, Y), Z)


@pytest.mark.parametrize("layer, n_examples", CASES)
def test_init_params_is_deterministic(layer, n_examples):
    a = layer.init_params(np.random.default_rng(42))
    b = layer.init_params(np.random.default_rng(42))
    assert isinstance(a, np.ndarray) and a.shape == (layer.n_params,)
    assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    if layer.n_params > 0:
        c = layer.init_params(np.random.default_rng(43))
        assert not np.array_equal(a, c), "init_params ignores its generator"


# --- bad inputs -------------------------------------------------------------


def _bad_input(kind, layer, theta, Y, rng):
    """Return (theta, Y, must-appear-in-message) for one kind of bad input."""
    n_in, n = Y.shape
    if kind == "theta_too_long":
        bad = np.concatenate([theta, np.zeros(1, dtype=theta.dtype)])
        return bad, Y, ["theta", str(layer.n_params), str(bad.shape)]
    if kind == "theta_too_short":
        if layer.n_params == 0:
            pytest.skip("layer has no parameters")
        bad = theta[:-1]
        return bad, Y, ["theta", str(layer.n_params), str(bad.shape)]
    if kind == "Y_1d":
        bad = Y[0].copy()
        return theta, bad, ["Y", f"({n_in},", str(bad.shape)]
    if kind == "Y_3d":
        bad = Y[:, :, None].copy()
        return theta, bad, ["Y", f"({n_in},", str(bad.shape)]
    if kind == "Y_wrong_rows":
        bad = rng.standard_normal((n_in + 1, n)).astype(Y.dtype)
        return theta, bad, ["Y", f"({n_in},", str(bad.shape)]
    if kind == "Y_nan":
        bad = Y.copy()
        bad[-1, -1] = np.nan
        return theta, bad, ["Y", "nan"]
    if kind == "theta_nan":
        if layer.n_params == 0:
            pytest.skip("layer has no parameters")
        bad = theta.copy()
        bad[-1] = np.nan
        return bad, Y, ["theta", "nan"]
    raise AssertionError(kind)


BAD_KINDS = ["theta_too_long", "theta_too_short", "Y_1d", "Y_3d", "Y_wrong_rows", "Y_nan", "theta_nan"]


@pytest.mark.parametrize("method", ["forward", "jacobian_params", "jacobian_input"])
@pytest.mark.parametrize("kind", BAD_KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer, n_examples", CASES)
def test_bad_inputs_raise_value_error(layer, n_examples, dtype, kind, method):
    rng, theta, Y = _setup(layer, n_examples, dtype)
    theta_bad, Y_bad, needles = _bad_input(kind, layer, theta, Y, rng)
    with pytest.raises(ValueError) as info:
        getattr(layer, method)(theta_bad, Y_bad)
    message = str(info.value)
    for needle in needles:
        assert needle.lower() in message.lower(), f"{needle!r} missing from message {message!r}"


# --------------------------------------------------------------------------
# Dense against an independent finite-difference Jacobian
# --------------------------------------------------------------------------


def _dense_matrix(J):
    """Materialize a LinearOperator twice: from J e_k (columns) and from J^T e_i (rows)."""
    m, p = J.shape
    from_matvec = np.column_stack([J.matvec(e) for e in np.eye(p)])
    from_rmatvec = np.column_stack([J.rmatvec(e) for e in np.eye(m)]).T
    return from_matvec, from_rmatvec


FD_ACTIVATIONS = ["tanh", "sigmoid", "softplus", "identity", "relu"]


@pytest.mark.parametrize("activation", FD_ACTIVATIONS)
@pytest.mark.parametrize("shape", [(3, 4, 5), (1, 2, 1), (4, 1, 3)], ids=lambda s: f"in{s[0]}-out{s[1]}-n{s[2]}")
def test_dense_jacobians_match_central_differences(activation, shape, fd_jacobian):
    n_in, n_out, n = shape
    layer = Dense(n_in, n_out, activation)
    rng = np.random.default_rng(7)
    theta = layer.init_params(rng)
    Y = rng.standard_normal((n_in, n))
    K, b = layer.unpack(theta)
    # Keep away from the kink of ReLU, where central differences straddle it.
    assert np.min(np.abs(K @ Y + b[:, None])) > 1e-4

    fd_params = fd_jacobian(lambda th: layer.forward(th, Y), theta)
    fd_input = fd_jacobian(lambda Yh: layer.forward(theta, Yh), Y)
    for J, fd in [
        (layer.jacobian_params(theta, Y), fd_params),
        (layer.jacobian_input(theta, Y), fd_input),
    ]:
        from_matvec, from_rmatvec = _dense_matrix(J)
        assert from_matvec.shape == fd.shape
        np.testing.assert_allclose(from_matvec, fd, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(from_rmatvec, fd, rtol=1e-6, atol=1e-8)


def test_dense_jacobian_params_is_kronecker_formula():
    """J_theta = diag(vec D) [Y^T kron I ... ] in row-major order, built by hand."""
    layer = Dense(2, 3, "tanh")
    rng = np.random.default_rng(3)
    theta = layer.init_params(rng)
    Y = rng.standard_normal((2, 4))
    K, b = layer.unpack(theta)
    D = 1 - np.tanh(K @ Y + b[:, None]) ** 2
    m, n = D.shape
    expected = np.zeros((m * n, layer.n_params))
    for i in range(m):
        for j in range(n):
            row = i * n + j  # row-major vec(Z)
            for k in range(layer.n_in):
                expected[row, i * layer.n_in + k] = D[i, j] * Y[k, j]
            expected[row, m * layer.n_in + i] = D[i, j]
    from_matvec, from_rmatvec = _dense_matrix(layer.jacobian_params(theta, Y))
    np.testing.assert_allclose(from_matvec, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(from_rmatvec, expected, rtol=1e-13, atol=1e-15)


# --------------------------------------------------------------------------
# Dense API
# --------------------------------------------------------------------------


def test_dense_forward_known_value():
    layer = Dense(2, 1, "identity")
    theta = layer.pack([[1.0, 2.0]], [3.0])
    np.testing.assert_array_equal(theta, [1.0, 2.0, 3.0])
    Z = layer.forward(theta, np.array([[1.0, 0.0], [1.0, -1.0]]))
    np.testing.assert_array_equal(Z, [[6.0, 1.0]])
    Z = Dense(2, 1, "relu").forward(theta, np.array([[1.0, 0.0], [1.0, -2.0]]))
    np.testing.assert_array_equal(Z, [[6.0, 0.0]])


def test_dense_pack_unpack_round_trip():
    layer = Dense(3, 2)
    theta = layer.init_params(np.random.default_rng(0))
    K, b = layer.unpack(theta)
    assert K.shape == (2, 3) and b.shape == (2,)
    assert layer.n_params == 2 * 3 + 2
    np.testing.assert_array_equal(layer.pack(K, b), theta)


def test_dense_init_params_dtype_and_scale():
    layer = Dense(400, 50)
    theta32 = layer.init_params(np.random.default_rng(0), dtype=np.float32)
    assert theta32.dtype == np.float32
    K, _ = layer.unpack(layer.init_params(np.random.default_rng(0)))
    # Entries N(0, 1/n_in): the sample variance of 20000 entries is close to 1/400.
    assert abs(K.var() * 400 - 1) < 0.05


def test_dense_mixed_dtypes_promote_to_float64():
    layer = Dense(3, 2)
    rng = np.random.default_rng(0)
    theta = layer.init_params(rng)
    Y = rng.standard_normal((3, 4)).astype(np.float32)
    assert layer.forward(theta, Y).dtype == np.float64
    assert layer.forward(theta.astype(np.float32), Y.astype(np.float64)).dtype == np.float64
    assert layer.jacobian_params(theta, Y).dtype == np.float64


def test_dense_accepts_integer_data():
    layer = Dense(2, 1, "identity")
    Z = layer.forward(np.array([1, 2, 3]), np.array([[1], [1]]))
    assert Z.dtype == np.float64
    np.testing.assert_array_equal(Z, [[6.0]])


@pytest.mark.parametrize(
    "args, needle",
    [
        ((0, 3), "n_in"),
        ((3, 0), "n_out"),
        ((2.5, 3), "n_in"),
        ((True, 3), "n_in"),
        ((3, 2, "bogus"), "bogus"),
    ],
)
def test_dense_constructor_rejects_bad_arguments(args, needle):
    with pytest.raises(ValueError, match=needle):
        Dense(*args)


@pytest.mark.parametrize("rng", [None, 0, np.random.RandomState(0)], ids=["None", "int", "RandomState"])
def test_dense_init_params_needs_a_generator(rng):
    with pytest.raises(ValueError, match="Generator"):
        Dense(2, 3).init_params(rng)


def test_dense_pack_rejects_wrong_shapes():
    layer = Dense(3, 2)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        layer.pack(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"length 2.*\(3,\)"):
        layer.pack(np.zeros((2, 3)), np.zeros(3))


def test_dense_repr_names_its_settings():
    assert repr(Dense(3, 5, "relu")) == "Dense(n_in=3, n_out=5, activation='relu')"


def test_dense_test_cases_cover_every_activation():
    names = {layer.activation.name for layer, _ in Dense.test_cases()}
    assert names == set(ACTIVATIONS)
