"""Two-base multiplication p^v · a^c, the shape of every proof equation, over Debian's libdecaf.

Checking a proof recomputes commitments ``base^response · value^challenge`` (``proofs``), each a
pair of scalar multiplications. libsodium has no multi-scalar multiplication; libdecaf
(``libdecaf.so.0``, Debian's ``libdecaf0``) does both in one pass at about half the cost. This
module binds the few libdecaf functions needed with ctypes and gives results **byte-identical**
to the plain path (``group``), which stays the definition (ADR 0007).

The bridge between the encodings. libdecaf's ``decaf_255`` points are the Ed25519 curve with the
cofactor quotiented out; its EdDSA bridge decodes an RFC 8032 point P as ψ(P) = 2·P (the
*decode ratio*) and encodes a point R as φ(R) = 4·R (the *encode ratio*), with libdecaf's base
point mapping to 4·g. On the prime-order subgroup both are group homomorphisms, so

    φ(x·base + y·ψ(A)) = 4x·g + 8y·A,

and g^v · A^c is φ(v/4 · base + c/8 · ψ(A)) with the divisions taken mod q (likewise
φ(v/8 · ψ(P) + c/8 · ψ(A)) = P^v · A^c). φ's output is the canonical RFC 8032 encoding, the
one libsodium writes. Torsion never enters: both inputs are ``GroupElement`` instances, which
only ``GroupElement.from_bytes`` (libsodium's subgroup check) makes; the fast path decodes
nothing from outside.

libdecaf 1.0.2's variable-time ``decaf_255_base_double_scalarmul_non_secret`` returns a wrong
point when its second scalar is 0 mod q (found by the cross-check tests); that case, and an
identity operand, take the plain path.

Which path runs: libdecaf when it loads, unless ``UNIONVOTE_GROUP_ARITHMETIC=libsodium`` is set
(read once, when first needed, so that worker processes inherit the choice) or
``set_enabled(False)`` was called. When libdecaf is missing, one ``RuntimeWarning`` says so and
the plain path runs.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import threading
import warnings
from typing import Final

from unionvote.crypto.errors import EncodingError
from unionvote.crypto.group import IDENTITY, GroupElement, Q, g, g_small_power

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "LIBRARY",
    "Decoded",
    "PointProduct",
    "arithmetic",
    "double_base",
    "internal_format",
    "plain_power_product",
    "power",
    "power_product",
    "set_enabled",
]

#: The shared object loaded (Debian's libdecaf0).
LIBRARY: Final = "libdecaf.so.0"
#: Set to ``libsodium`` to force the plain path (any other value, or none: the fast path).
ENVIRONMENT_VARIABLE: Final = "UNIONVOTE_GROUP_ARITHMETIC"

_POINT_BYTES: Final = 256  # sizeof(decaf_255_point_t): 4 coordinates of 5 limbs, each 32-aligned
_POINT_ALIGN: Final = 32
_SCALAR_BYTES: Final = 32  # sizeof(decaf_255_scalar_t): 4 64-bit limbs
_DECAF_SUCCESS: Final = -1
_INVERSE_4: Final = pow(4, -1, Q)
_INVERSE_8: Final = pow(8, -1, Q)
_IDENTITY_BYTES: Final = IDENTITY.to_bytes()

_forced: bool | None = None  # set_enabled's choice; None: the environment decides


class _Decaf:
    """The bound functions of one loaded libdecaf."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        pointer, buffer = ctypes.c_void_p, ctypes.c_char_p
        self.scalar_decode = lib.decaf_255_scalar_decode
        self.scalar_decode.argtypes = [pointer, buffer]
        self.scalar_decode.restype = ctypes.c_int
        self.point_decode = lib.decaf_255_point_decode_like_eddsa_and_mul_by_ratio
        self.point_decode.argtypes = [pointer, buffer]
        self.point_decode.restype = ctypes.c_int
        self.point_encode = lib.decaf_255_point_mul_by_ratio_and_encode_like_eddsa
        self.point_encode.argtypes = [buffer, pointer]
        self.point_encode.restype = None
        self.base_double = lib.decaf_255_base_double_scalarmul_non_secret
        self.base_double.argtypes = [pointer, pointer, pointer, pointer]
        self.base_double.restype = None
        self.double = lib.decaf_255_point_double_scalarmul
        self.double.argtypes = [pointer, pointer, pointer, pointer, pointer]
        self.double.restype = None
        self.add = lib.decaf_255_point_add
        self.add.argtypes = [pointer, pointer, pointer]
        self.add.restype = None
        self.scalarmul = lib.decaf_255_point_scalarmul
        self.scalarmul.argtypes = [pointer, pointer, pointer]
        self.scalarmul.restype = None
        self.precompute = lib.decaf_255_precompute
        self.precompute.argtypes = [pointer, pointer]
        self.precompute.restype = None
        self.precomputed_scalarmul = lib.decaf_255_precomputed_scalarmul
        self.precomputed_scalarmul.argtypes = [pointer, pointer, pointer]
        self.precomputed_scalarmul.restype = None
        self.table_bytes = ctypes.c_size_t.in_dll(lib, "decaf_255_sizeof_precomputed_s").value
        self.table_align = ctypes.c_size_t.in_dll(lib, "decaf_255_alignof_precomputed_s").value


@functools.cache
def _library() -> _Decaf | None:
    """libdecaf, loaded once per process; None (with one warning) when it cannot be."""
    if os.environ.get(ENVIRONMENT_VARIABLE, "").strip().lower() == "libsodium":
        return None
    try:
        return _Decaf(ctypes.CDLL(LIBRARY))
    except (OSError, AttributeError) as error:
        warnings.warn(
            f"unionvote: {LIBRARY} not usable ({error}); proofs are checked with libsodium "
            f"alone, about twice as slowly (install Debian's libdecaf0, or set "
            f"{ENVIRONMENT_VARIABLE}=libsodium to choose this)",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def _active() -> _Decaf | None:
    if _forced is False:
        return None
    return _library()


def set_enabled(enabled: bool | None) -> None:
    """Force the plain path (False), allow the fast one (True), or let the environment decide
    (None). For the command line's switch and for tests."""
    global _forced
    _forced = enabled


def arithmetic() -> str:
    """The path proof checks take now: ``"libdecaf"`` or ``"libsodium"``."""
    return "libdecaf" if _active() is not None else "libsodium"


def plain_power_product(
    p: GroupElement, v: int, a: GroupElement, c: int, shift: int = 0
) -> GroupElement:
    """p^v · (a / g^shift)^c with libsodium alone: the definition the fast path must equal."""
    if shift:
        a = a / g_small_power(shift)
    return p**v * a**c


def double_base(v: int, c: int, a: GroupElement) -> GroupElement:
    """g^v · a^c (g the generator), e.g. a Schnorr commitment g^response · X^challenge."""
    return power_product(g, v, a, c)


def power_product(
    p: GroupElement,
    v: int,
    a: GroupElement,
    c: int,
    *,
    secret: bool = False,
    shift: int = 0,
    recurring: bool = False,
) -> GroupElement:
    """p^v · (a / g^shift)^c: libdecaf when active, else (and in the cases it gets wrong)
    libsodium.

    ``shift`` (a small plaintext m): a proof about a ciphertext (α, β) encrypting m checks
    equations on β / g^m; folding g^(−m·c) into the multiplication spares computing and
    encoding that quotient.

    ``secret``: the computation must not take a time that depends on the scalars (a proof being
    made): libdecaf's constant-time two-point multiplication, never its variable-time one, and
    the same work whatever the inputs (no cache of decoded points).

    Otherwise (checking a proof: every scalar is public) the fastest form: libdecaf's
    variable-time multiplication with the base point's table for g; for another base p, a
    table of p's multiples made once per process when p is ``recurring`` (the election key:
    every ballot's proofs use it), else the constant-time two-point multiplication (a
    decryption proof's α, used once)."""
    decaf = _active()
    v, c = v % Q, c % Q
    if decaf is None or c == 0 or a.is_identity or p.is_identity:
        return plain_power_product(p, v, a, c, shift)
    work = _scratch()
    if secret:
        if shift:
            a = a / g_small_power(shift)
            if a.is_identity:
                return p**v
        if (
            decaf.point_decode(work.a.address, a.to_bytes()) != _DECAF_SUCCESS
            or decaf.point_decode(work.p.address, p.to_bytes()) != _DECAF_SUCCESS
        ):  # pragma: no cover - unreachable for subgroup points
            return plain_power_product(p, v, a, c)
        decaf.double(
            work.result.address,
            work.p.address,
            _scalar(decaf, v * _INVERSE_8, work.first),
            work.a.address,
            _scalar(decaf, c * _INVERSE_8, work.second),
        )
        return _encoded(decaf, work)
    a_point = work.decoded(decaf, a.to_bytes())
    if a_point is None:  # pragma: no cover - unreachable for subgroup points
        return plain_power_product(p, v, a, c, shift)
    table = _table(decaf, p.to_bytes()) if recurring and p != g else None
    if p == g:  # g^(v − shift·c) · a^c
        decaf.base_double(
            work.result.address,
            _scalar(decaf, (v - shift * c) * _INVERSE_4, work.first),
            a_point,
            _scalar(decaf, c * _INVERSE_8, work.second),
        )
    elif table is not None:  # p^v from p's table, times g^(−shift·c) · a^c
        decaf.precomputed_scalarmul(
            work.p.address, table.address, _scalar(decaf, v * _INVERSE_8, work.first)
        )
        decaf.base_double(
            work.result.address,
            _scalar(decaf, -shift * c * _INVERSE_4, work.first),
            a_point,
            _scalar(decaf, c * _INVERSE_8, work.second),
        )
        decaf.add(work.result.address, work.result.address, work.p.address)
    else:
        if shift:
            return power_product(p, v, a / g_small_power(shift), c)
        if decaf.point_decode(work.p.address, p.to_bytes()) != _DECAF_SUCCESS:  # pragma: no cover
            return plain_power_product(p, v, a, c)
        decaf.double(
            work.result.address,
            work.p.address,
            _scalar(decaf, v * _INVERSE_8, work.first),
            a_point,
            _scalar(decaf, c * _INVERSE_8, work.second),
        )
    return _encoded(decaf, work)


def _encoded(decaf: _Decaf, work: _Scratch) -> GroupElement:
    """The element ``work.result`` holds (ψ-scaled, see the module's docstring)."""
    decaf.point_encode(work.encoded, work.result.address)
    rfc8032 = work.encoded.raw
    return IDENTITY if rfc8032 == _IDENTITY_BYTES else GroupElement(rfc8032)


def power(p: GroupElement, k: int) -> GroupElement:
    """p^k in constant time (k may be secret: a nonce, a proof's commitment exponent), for a
    base p that recurs (an election key; a base used once would cost more in making its
    table than it saves): from p's table of multiples (:func:`_table`),
    about a fifth of libsodium's variable-base multiplication; libsodium's own fixed-base
    multiplication for g, and libsodium alone on the plain path."""
    decaf = _active()
    k %= Q
    if decaf is None or p == g or k == 0 or p.is_identity:
        return p**k
    table = _table(decaf, p.to_bytes())
    if table is None:  # pragma: no cover - unreachable for subgroup points
        return p**k
    work = _scratch()
    decaf.precomputed_scalarmul(
        work.result.address, table.address, _scalar(decaf, k * _INVERSE_8, work.first)
    )
    return _encoded(decaf, work)


class _Table:
    """libdecaf's table of a point's multiples (decaf_255_precomputed_s, 9 kB), for
    multiplying that point by many scalars at about a quarter of the cost of a general
    multiplication."""

    __slots__ = ("_buffer", "address")

    def __init__(self, decaf: _Decaf) -> None:
        self._buffer = ctypes.create_string_buffer(decaf.table_bytes + decaf.table_align)
        start = ctypes.addressof(self._buffer)
        self.address = start + (-start) % decaf.table_align


#: Tables kept per process: the bases that recur (an election's key, a few trustees' keys).
_TABLES_KEPT: Final = 8
_tables: dict[bytes, _Table] = {}
_tables_lock = threading.Lock()


def _table(decaf: _Decaf, rfc8032: bytes) -> _Table | None:
    """The table of the point ``rfc8032`` (a public base): made the first time, kept for the
    next :data:`_TABLES_KEPT` distinct bases."""
    table = _tables.get(rfc8032)
    if table is not None:
        return table
    point = _Point()
    if decaf.point_decode(point.address, rfc8032) != _DECAF_SUCCESS:  # pragma: no cover
        return None
    table = _Table(decaf)
    decaf.precompute(table.address, point.address)
    with _tables_lock:
        if len(_tables) >= _TABLES_KEPT:
            _tables.clear()
        _tables[rfc8032] = table
    return table


class _Scratch:
    """The buffers one ``power_product`` needs, made once per thread (allocating them for each
    of a ballot's thirty-odd equations cost about a tenth of its check), and the last few
    points decoded when checking (public points only: a proof about a ciphertext (α, β)
    multiplies α and β by one challenge per branch, so each is decoded once rather than once
    per branch)."""

    __slots__ = ("_decoded", "a", "encoded", "first", "p", "result", "second", "spare")

    _KEPT: Final = 4

    def __init__(self) -> None:
        self.a, self.p, self.result, self.spare = _Point(), _Point(), _Point(), _Point()
        self.first = ctypes.create_string_buffer(_SCALAR_BYTES)
        self.second = ctypes.create_string_buffer(_SCALAR_BYTES)
        self.encoded = ctypes.create_string_buffer(32)
        self._decoded: dict[bytes, _Point] = {}

    def decoded(self, decaf: _Decaf, rfc8032: bytes) -> int | None:
        """The address of ψ(point) for the encoding ``rfc8032`` (None if not a curve point)."""
        point = self._decoded.get(rfc8032)
        if point is None:
            point = _Point()
            if decaf.point_decode(point.address, rfc8032) != _DECAF_SUCCESS:
                return None
            if len(self._decoded) >= self._KEPT:
                self._decoded.clear()
            self._decoded[rfc8032] = point
        return point.address


_thread_scratch = threading.local()


def _scratch() -> _Scratch:
    work: _Scratch | None = getattr(_thread_scratch, "work", None)
    if work is None:
        work = _thread_scratch.work = _Scratch()
    return work


class _Point:
    """Room for one decaf_255_point_t, aligned as the library requires (32 bytes)."""

    __slots__ = ("_buffer", "address")

    def __init__(self) -> None:
        self._buffer = ctypes.create_string_buffer(_POINT_BYTES + _POINT_ALIGN)
        start = ctypes.addressof(self._buffer)
        self.address = start + (-start) % _POINT_ALIGN


def _scalar(
    decaf: _Decaf, value: int, into: ctypes.Array[ctypes.c_char] | None = None
) -> ctypes.Array[ctypes.c_char]:
    """A decaf_255_scalar_t holding ``value mod q`` (8-byte aligned, as ctypes allocates), in
    ``into`` if given."""
    scalar = into if into is not None else ctypes.create_string_buffer(_SCALAR_BYTES)
    if decaf.scalar_decode(scalar, (value % Q).to_bytes(32, "little")) != _DECAF_SUCCESS:
        raise AssertionError("a scalar below q was refused")  # pragma: no cover
    return scalar


class PointProduct:
    """A running product Π P_i^(w_i) of many group elements, for the tally.

    The tally multiplies every counted ballot's ciphertexts together: millions of products of
    elements that were each checked (``GroupElement.from_bytes``: on the curve, in the
    prime-order subgroup) when their ballot was accepted. The plain path decodes, re-checks and
    multiplies each one with libsodium (about 75 µs an element, mostly the subgroup check); the
    fast path decodes each into libdecaf's internal form (ψ(P) = 2·P, see the module's
    docstring) and adds there, about ten times faster, encoding only the final product:
    φ(1/8 · Σ ψ(P_i)) = Σ P_i. Products merge, and travel between processes, in that internal
    form too (:meth:`internal`, :meth:`absorb_internal`), so splitting a tally costs nothing.

    **Callers pass elements already checked to be in the subgroup.** The fast path refuses what
    is not a curve point, but does not repeat the subgroup check: it would map an element with a
    torsion component to its prime-order part where the plain path refuses it. Both give the
    same product, byte for byte, for checked elements (the tests cross-check them).
    """

    __slots__ = ("_decaf", "_empty", "_plain", "_point")

    def __init__(self) -> None:
        self._decaf = _active()
        self._plain = IDENTITY
        self._empty = True
        self._point = _Point() if self._decaf is not None else None

    def decode(
        self, rfc8032: bytes, weight: int | None = None, *, into: Decoded | None = None
    ) -> Decoded:
        """The element encoded as ``rfc8032``, raised to ``weight`` if given, ready for
        :meth:`add` (decoding a whole ballot first means a bad one adds nothing).

        ``into`` (from :meth:`Decoded.reusable`): decode into its room and return it, rather
        than allocate a new point (a tally decodes sixteen points a ballot; allocating each
        cost more than decoding it); what it held before is gone."""
        decaf = self._decaf
        if decaf is None:
            element = GroupElement.from_bytes(rfc8032)
            return Decoded(None, element if weight is None else element**weight)
        if rfc8032 == _IDENTITY_BYTES:
            if into is not None:
                into.point = into.element = None
                return into
            return Decoded(None, None)  # changes nothing (libdecaf's EdDSA decoding refuses it)
        point = into.room if into is not None and into.room is not None else _Point()
        if len(rfc8032) != 32 or decaf.point_decode(point.address, rfc8032) != _DECAF_SUCCESS:
            raise EncodingError("group_element", "not a point of Ed25519")
        if weight is not None:
            decaf.scalarmul(point.address, point.address, _scalar(decaf, weight))
        if into is not None:
            into.point, into.element = point, None
            return into
        return Decoded(point, None)

    def add(self, decoded: Decoded) -> None:
        """Multiply in an element from :meth:`decode` (of a product of the same path)."""
        if decoded.point is not None:
            self._add_point(decoded.point.address)
        elif decoded.element is not None:
            if self._point is not None:  # decoded on the plain path, added on the fast one
                self.add(self.decode(decoded.element.to_bytes()))
            else:
                self._plain = self._plain * decoded.element

    def multiply(self, rfc8032: bytes, weight: int | None = None) -> None:
        """Multiply in the element encoded as ``rfc8032``, raised to ``weight`` if given."""
        self.add(self.decode(rfc8032, weight))

    def merge(self, other: PointProduct) -> None:
        """Multiply in another product (of a disjoint set of elements)."""
        if self._point is not None and other._point is not None:
            if not other._empty:
                self._add_point(other._point.address)
        else:
            self.multiply(other.value().to_bytes())

    def internal(self) -> bytes | None:
        """The product in libdecaf's internal form, to carry to a process with the same
        :func:`internal_format` (``b""`` for the empty product); None on the plain path."""
        if self._point is None:
            return None
        return b"" if self._empty else ctypes.string_at(self._point.address, _POINT_BYTES)

    def absorb_internal(self, raw: bytes) -> None:
        """Multiply in a product from :meth:`internal`, made by a process whose
        :func:`internal_format` is this one's (the caller checks it)."""
        if self._point is None:
            raise ValueError("an internal-form product needs the libdecaf path")
        if not raw:
            return
        if len(raw) != _POINT_BYTES:
            raise EncodingError("group_element", "not a product in libdecaf's internal form")
        point = _scratch().spare
        ctypes.memmove(point.address, raw, _POINT_BYTES)
        self._add_point(point.address)

    def value(self) -> GroupElement:
        """The product so far (the identity when nothing, or only the identity, came in)."""
        decaf = self._decaf
        if decaf is None or self._point is None:
            return self._plain
        if self._empty:
            return IDENTITY
        scaled = _Point()
        decaf.scalarmul(scaled.address, self._point.address, _scalar(decaf, _INVERSE_8))
        encoded = ctypes.create_string_buffer(32)
        decaf.point_encode(encoded, scaled.address)
        rfc8032 = encoded.raw
        return IDENTITY if rfc8032 == _IDENTITY_BYTES else GroupElement(rfc8032)

    def _add_point(self, address: int) -> None:
        assert self._decaf is not None and self._point is not None
        if self._empty:
            ctypes.memmove(self._point.address, address, _POINT_BYTES)
            self._empty = False
        else:
            self._decaf.add(self._point.address, self._point.address, address)


class Decoded:
    """One element decoded for :meth:`PointProduct.add`: a libdecaf point, or (on the plain
    path) a checked element; neither for the identity. A :meth:`reusable` one has room for a
    point that :meth:`PointProduct.decode` fills again each time (``into``)."""

    __slots__ = ("element", "point", "room")

    def __init__(
        self, point: _Point | None, element: GroupElement | None, room: _Point | None = None
    ) -> None:
        self.point = point
        self.element = element
        self.room = room

    @classmethod
    def reusable(cls) -> Decoded:
        return cls(None, None, _Point())


def internal_format() -> str | None:
    """What a product's internal form means in this process: the library and the internal
    bytes of a known point (so two processes agree only if their libdecaf builds do); None on
    the plain path."""
    decaf = _active()
    return None if decaf is None else _format_of(decaf)


@functools.cache
def _format_of(decaf: _Decaf) -> str | None:
    point = _Point()
    if decaf.point_decode(point.address, g.to_bytes()) != _DECAF_SUCCESS:  # pragma: no cover
        return None
    raw = ctypes.string_at(point.address, _POINT_BYTES)
    # Each coordinate is 5 limbs of 8 bytes in a 64-byte slot; the rest of a slot is padding
    # that libdecaf leaves as it finds it, so only the limbs say what the form is.
    limbs = b"".join(raw[k : k + 40] for k in range(0, _POINT_BYTES, 64))
    return hashlib.sha256(LIBRARY.encode() + b"\0" + limbs).hexdigest()[:32]
