"""Arithmetic units: one Amaranth component per op class of rtl/spec/ops.py, and the FunctionalUnit that
joins them into the per-lane unit of a PCU stage.

Every unit is fully pipelined: it accepts one operation per cycle and returns its result exactly
``latency`` cycles later (the class latency from the op table), with ``o.valid`` following ``i.valid``.
There is no back-pressure inside a unit; whoever issues operations guarantees room for the results
(a PCU stalls at its inputs, by credits). Semantics are those of the op table (DAZ/FTZ, RNE,
canonical NaN); ops of another class give an unspecified result that the FunctionalUnit never selects.
"""


from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .pipeline import delay, stage
from .spec.ops import (CANONICAL_NAN, FU_LATENCY, LFSR_ZERO_SUBSTITUTE, OP_CLASSES, Op, OPS, lfsr_lane_mix,
                  lfsr_seed)

__all__ = ["OperandSignature", "ResultSignature", "IntAlu", "IntMul", "FpCompare", "FpAdd", "FpMul",
           "Convert", "FpFma", "FunctionalUnit", "UNIT_CLASSES"]

OperandSignature = wiring.Signature({
    "valid": Out(1),
    "op": Out(Op),
    "a": Out(32),
    "b": Out(32),
    "c": Out(32),
})
"""Operands of one operation (driven by the issuer)."""

ResultSignature = wiring.Signature({
    "valid": Out(1),
    "data": Out(32),
})
"""Result of one operation (driven by the unit)."""

_INF = 0x7F800000


def _leading_zeros(m: Module, value, name: str):
    """Count of leading zeros of *value* (its width when zero)."""
    width = len(value)
    count = Signal(range(width + 1), name=name)
    m.d.comb += count.eq(width)
    for i in range(width):  # the highest set bit is assigned last and wins
        with m.If(value[i]):
            m.d.comb += count.eq(width - 1 - i)
    return count


class _Fp32:
    """Fields and classes of an fp32 word, with subnormals already read as zero (DAZ)."""

    def __init__(self, word):
        self.sign = word[31]
        self.exp = word[23:31]
        self.frac = word[0:23]
        self.zero = self.exp == 0
        self.inf = (self.exp == 0xFF) & (self.frac == 0)
        self.nan = (self.exp == 0xFF) & (self.frac != 0)
        # Significand with its hidden bit; zero for zeros and (flushed) subnormals.
        self.mant = Mux(self.zero, 0, Cat(self.frac, Const(1, 1)))
        # Magnitude ordering key (exponent and fraction) with subnormals flushed.
        self.mag = Mux(self.zero, 0, word[0:31])


def _align(m: Module, value, shift, name: str):
    """*value* shifted right by *shift* (unsigned, or signed and >= 0), the bits shifted out ORed into
    the lowest bit (sticky); *value* != 0 when the shift passes its width."""
    width = len(value)
    bits = (width - 1).bit_length()
    aligned = Signal(width, name=name)
    with m.If(shift >= width):
        m.d.comb += aligned.eq(value != 0)
    with m.Else():
        amount = shift[0:bits]
        lost = (value & ((Const(1, 1 << bits) << amount) - 1)[0:width]) != 0
        m.d.comb += aligned.eq((value >> amount) | lost)
    return aligned


def _normalise(m: Module, total, exp, name: str):
    """A sum *total* (its top bit the carry) to a 24-bit significand with guard and sticky bits and its
    exponent: shifted right by one on a carry, else left by its leading zeros."""
    width = len(total) - 1
    mant, guard, sticky = Signal(24, name=f"{name}_mant"), Signal(name=f"{name}_guard"), Signal(name=f"{name}_sticky")
    out_exp = Signal(signed(12), name=f"{name}_exp")
    lz = _leading_zeros(m, total[0:width], f"{name}_lz")
    normalised = Signal(width, name=f"{name}_shifted")
    m.d.comb += normalised.eq((total[0:width] << lz)[0:width])
    with m.If(total[width]):
        m.d.comb += [mant.eq(total[width - 23:width + 1]), guard.eq(total[width - 24]),
                     sticky.eq(total[0:width - 24] != 0), out_exp.eq(exp + 1)]
    with m.Else():
        m.d.comb += [mant.eq(normalised[width - 24:width]), guard.eq(normalised[width - 25]),
                     sticky.eq(normalised[0:width - 25] != 0), out_exp.eq(exp - lz)]
    return mant, guard, sticky, out_exp


def _round_rne(m: Module, mant, guard, sticky, exp, name: str):
    """Round a 24-bit significand by its guard and sticky bits; returns (significand, exponent)."""
    up = guard & (sticky | mant[0])
    summed = Signal(25, name=f"{name}_sum")
    m.d.comb += summed.eq(mant + up)
    out_mant = Signal(24, name=f"{name}_mant")
    out_exp = Signal(signed(11), name=f"{name}_exp")
    with m.If(summed[24]):  # 1.111..1 rounded up to 10.000..0
        m.d.comb += [out_mant.eq(summed[1:25]), out_exp.eq(exp + 1)]
    with m.Else():
        m.d.comb += [out_mant.eq(summed[0:24]), out_exp.eq(exp)]
    return out_mant, out_exp


def _pack(m: Module, sign, exp, mant, *, nan, inf, inf_sign, zero, zero_sign, name: str):
    """The fp32 word of a rounded result, with overflow to infinity, FTZ, and special cases."""
    word = Signal(32, name=name)
    with m.If(nan):
        m.d.comb += word.eq(CANONICAL_NAN)
    with m.Elif(inf):
        m.d.comb += word.eq(Cat(Const(0, 23), Const(0xFF, 8), inf_sign))
    with m.Elif(zero):
        m.d.comb += word.eq(Cat(Const(0, 31), zero_sign))
    with m.Elif(exp >= 0xFF):
        m.d.comb += word.eq(Cat(Const(0, 23), Const(0xFF, 8), sign))
    with m.Elif(exp <= 0):
        m.d.comb += word.eq(Cat(Const(0, 31), sign))
    with m.Else():
        m.d.comb += word.eq(Cat(mant[0:23], exp[0:8], sign))
    return word


class _Unit(wiring.Component):
    """Common shape of the class units: operands in, one result ``latency`` cycles later.

    Ports: ``i`` (``OperandSignature``: valid, op, a, b, c) and ``o`` (``ResultSignature``: valid, data).
    Latency: the class latency of the op table; ``registered=False`` builds the same logic with no
    registers (latency 0): for loops that must close in one cycle, such as the PCU accumulator.
    Invariants: one operation per cycle; ``o.valid`` is ``i.valid`` delayed by the latency; no
    back-pressure (the issuer guarantees room for the results).
    """

    latency = 0  # each subclass sets its class latency from the op table
    i: In(OperandSignature)
    o: Out(ResultSignature)

    def __init__(self, registered: bool = True):
        self.registered = registered
        if not registered:
            self.latency = 0
        super().__init__()

    @property
    def _depth(self) -> int:
        return 1 if self.registered else 0

    def _finish(self, m: Module, result):
        """Register *result* (computed from the last pipeline stage) and align ``o.valid`` with it."""
        m.d[("sync" if self.registered else "comb")] += self.o.data.eq(result)
        m.d.comb += self.o.valid.eq(delay(m, self.i.valid, self.latency, "valid"))


class IntAlu(_Unit):
    """int32 add, sub, and, or, xor, shl, shr, sra, min, max, lt, eq, select, pass.

    Latency 1 (operands -> registered result), throughput 1 per cycle.
    Ports and invariants: those of ``_Unit``.
    """

    latency = OP_CLASSES["int"].latency

    def elaborate(self, platform):
        m = Module()
        a, b, c = self.i.a, self.i.b, self.i.c
        amount = b[0:5]
        result = Signal(32)
        with m.Switch(self.i.op):
            with m.Case(Op.ADD):
                m.d.comb += result.eq(a + b)
            with m.Case(Op.SUB):
                m.d.comb += result.eq(a - b)
            with m.Case(Op.AND):
                m.d.comb += result.eq(a & b)
            with m.Case(Op.OR):
                m.d.comb += result.eq(a | b)
            with m.Case(Op.XOR):
                m.d.comb += result.eq(a ^ b)
            with m.Case(Op.SHL):
                m.d.comb += result.eq(a << amount)
            with m.Case(Op.SHR):
                m.d.comb += result.eq(a >> amount)
            with m.Case(Op.SRA):
                m.d.comb += result.eq(a.as_signed() >> amount)
            with m.Case(Op.MIN):
                m.d.comb += result.eq(Mux(a.as_signed() < b.as_signed(), a, b))
            with m.Case(Op.MAX):
                m.d.comb += result.eq(Mux(a.as_signed() > b.as_signed(), a, b))
            with m.Case(Op.LT):
                m.d.comb += result.eq(a.as_signed() < b.as_signed())
            with m.Case(Op.EQ):
                m.d.comb += result.eq(a == b)
            with m.Case(Op.SELECT):
                m.d.comb += result.eq(Mux(c != 0, a, b))
            with m.Default():  # pass
                m.d.comb += result.eq(a)
        self._finish(m, result)
        return m


class IntMul(_Unit):
    """int32 multiply, low 32 bits of the product.

    Latency 2: operands registered, product registered (the shape DSP blocks want). Throughput 1/cycle.
    Ports and invariants: those of ``_Unit``.
    """

    latency = OP_CLASSES["imul"].latency

    def elaborate(self, platform):
        m = Module()
        a = delay(m, self.i.a, self._depth, "a")
        b = delay(m, self.i.b, self._depth, "b")
        self._finish(m, (a * b)[0:32])
        return m


class FpCompare(_Unit):
    """fp32 fmin, fmax, flt, feq, fabs, fneg (DAZ; NaN results canonical; -0 < +0 for min/max only).

    Latency 1, throughput 1 per cycle.
    Ports and invariants: those of ``_Unit``.
    """

    latency = OP_CLASSES["fcmp"].latency

    def elaborate(self, platform):
        m = Module()
        a, b = self.i.a, self.i.b
        x, y = _Fp32(a), _Fp32(b)
        xw = Cat(x.mag, x.sign)  # the flushed words
        yw = Cat(y.mag, y.sign)
        # Total order of non-NaN words in which -0 < +0: negative numbers by descending magnitude.
        x_before_y = Signal()
        with m.If(x.sign != y.sign):
            m.d.comb += x_before_y.eq(x.sign)
        with m.Elif(x.sign):
            m.d.comb += x_before_y.eq(x.mag > y.mag)
        with m.Else():
            m.d.comb += x_before_y.eq(x.mag < y.mag)
        both_zero = x.zero & y.zero
        any_nan = x.nan | y.nan
        result = Signal(32)
        with m.Switch(self.i.op):
            with m.Case(Op.FMIN):
                m.d.comb += result.eq(Mux(any_nan, CANONICAL_NAN, Mux(x_before_y, xw, yw)))
            with m.Case(Op.FMAX):
                m.d.comb += result.eq(Mux(any_nan, CANONICAL_NAN, Mux(x_before_y, yw, xw)))
            with m.Case(Op.FLT):
                m.d.comb += result.eq(~any_nan & x_before_y & ~both_zero)
            with m.Case(Op.FEQ):
                m.d.comb += result.eq(~any_nan & ((xw == yw) | both_zero))
            with m.Case(Op.FABS):
                m.d.comb += result.eq(Mux(x.nan, CANONICAL_NAN, Cat(x.mag, Const(0, 1))))
            with m.Default():  # fneg
                m.d.comb += result.eq(Mux(x.nan, CANONICAL_NAN, Cat(x.mag, ~x.sign)))
        self._finish(m, result)
        return m


class FpAdd(_Unit):
    """fp32 fadd and fsub, round to nearest even, DAZ/FTZ, canonical NaN.

    Latency 3, throughput 1 per cycle. Stages: (1) unpack, order by magnitude, exponent difference;
    (2) align the smaller significand with guard/round/sticky bits, add or subtract;
    (3) normalise (leading-zero count), round, pack.
    Ports and invariants: those of ``_Unit``.
    """

    latency = OP_CLASSES["fadd"].latency

    def elaborate(self, platform):
        m = Module()
        a = _Fp32(self.i.a)
        b_word = Cat(self.i.b[0:31], self.i.b[31] ^ (self.i.op == Op.FSUB))
        b = _Fp32(b_word)

        # -- stage 1: order the operands so that |big| >= |small| ------------------------------------
        swap = b.mag > a.mag
        s1 = stage(
            m, self._depth,
            big_sign=Mux(swap, b.sign, a.sign),
            big_exp=Mux(swap, b.exp, a.exp),
            big_mant=Mux(swap, b.mant, a.mant),
            small_mant=Mux(swap, a.mant, b.mant),
            shift=Mux(swap, b.exp - a.exp, a.exp - b.exp)[0:8],
            subtract=a.sign ^ b.sign,
            nan=a.nan | b.nan | (a.inf & b.inf & (a.sign != b.sign)),
            inf=a.inf | b.inf,
            inf_sign=Mux(a.inf, a.sign, b.sign),
        )

        # -- stage 2: align and add; 24-bit significands extended by guard, round and sticky bits -----
        aligned = _align(m, Cat(Const(0, 3), s1.small_mant), s1.shift, "aligned")  # 27 bits
        big_ext = Cat(Const(0, 3), s1.big_mant)
        total = Signal(28)
        m.d.comb += total.eq(Mux(s1.subtract, big_ext - aligned, big_ext + aligned))
        s2 = stage(m, self._depth, total=total, exp=s1.big_exp, sign=s1.big_sign, subtract=s1.subtract, nan=s1.nan,
                    inf=s1.inf, inf_sign=s1.inf_sign)

        # -- stage 3: normalise, round, pack --------------------------------------------------------
        r_mant, r_exp = _round_rne(m, *_normalise(m, s2.total, s2.exp, "norm"), "round")
        # An exact zero sum is +0, unless both operands were zeros of the same sign (-0 + -0 = -0).
        result = _pack(m, s2.sign, r_exp, r_mant, nan=s2.nan, inf=s2.inf, inf_sign=s2.inf_sign,
                       zero=s2.total == 0, zero_sign=s2.sign & ~s2.subtract, name="packed")
        self._finish(m, result)
        return m


class FpMul(_Unit):
    """fp32 fmul, round to nearest even, DAZ/FTZ (after rounding), canonical NaN.

    Latency 3, throughput 1 per cycle. Stages: (1) unpack and 24x24 significand product;
    (2) normalise and round; (3) overflow/underflow/special cases and pack.
    Ports and invariants: those of ``_Unit``.
    """

    latency = OP_CLASSES["fmul"].latency

    def elaborate(self, platform):
        m = Module()
        a, b = _Fp32(self.i.a), _Fp32(self.i.b)

        # -- stage 1 ---------------------------------------------------------------------------------
        s1 = stage(
            m, self._depth,
            product=(a.mant * b.mant)[0:48],
            exp=a.exp + b.exp - 127,  # biased exponent of the product, signed
            sign=a.sign ^ b.sign,
            nan=a.nan | b.nan | (a.inf & b.zero) | (a.zero & b.inf),
            inf=a.inf | b.inf,
            zero=a.zero | b.zero,
        )

        # -- stage 2: the product of two significands in [1, 2) lies in [1, 4) --------------------------
        mant = Signal(24)
        guard = Signal()
        sticky = Signal()
        exp = Signal(signed(11))
        product = s1.product
        with m.If(product[47]):
            m.d.comb += [mant.eq(product[24:48]), guard.eq(product[23]),
                         sticky.eq(product[0:23] != 0), exp.eq(s1.exp + 1)]
        with m.Else():
            m.d.comb += [mant.eq(product[23:47]), guard.eq(product[22]),
                         sticky.eq(product[0:22] != 0), exp.eq(s1.exp)]
        r_mant, r_exp = _round_rne(m, mant, guard, sticky, exp, "round")
        s2 = stage(m, self._depth, mant=r_mant, exp=r_exp, sign=s1.sign, nan=s1.nan, inf=s1.inf, zero=s1.zero)

        # -- stage 3 ---------------------------------------------------------------------------------
        result = _pack(m, s2.sign, s2.exp, s2.mant, nan=s2.nan, inf=s2.inf, inf_sign=s2.sign,
                       zero=s2.zero, zero_sign=s2.sign, name="packed")
        self._finish(m, result)
        return m


class Convert(_Unit):
    """Conversions: i2f (RNE), f2i (toward zero, saturating, NaN -> 0), f2bf (RNE), f2bf_sr.

    ``rand`` carries the 16 random bits that an ``f2bf_sr`` op adds below the bf16 cut; it is sampled
    with the operands. Latency 2, throughput 1 per cycle. Stage 1: leading-zero count for i2f, the
    whole of the other conversions; stage 2: i2f normalise and round.
    Ports and invariants: those of ``_Unit``.
    """

    latency = OP_CLASSES["cvt"].latency
    rand: In(16)

    def elaborate(self, platform):
        m = Module()
        a_word = self.i.a
        x = _Fp32(a_word)
        flushed = Cat(x.mag, x.sign)

        # -- f2i: 1.f * 2^31 shifted right by (31 - unbiased exponent) is the truncated magnitude ------
        f2i = Signal(32)
        unbiased = x.exp - 127  # signed
        magnitude = (Cat(Const(0, 8), x.frac, Const(1, 1)) >> (31 - unbiased)[0:5])[0:32]
        with m.If(x.nan | x.zero | (unbiased < 0)):
            m.d.comb += f2i.eq(0)
        with m.Elif(unbiased >= 31):
            m.d.comb += f2i.eq(Mux(x.sign, 0x80000000, 0x7FFFFFFF))
        with m.Else():
            m.d.comb += f2i.eq(Mux(x.sign, -magnitude, magnitude))

        # -- f2bf / f2bf_sr: add the rounding increment below the cut, then truncate ------------------
        increment = Mux(self.i.op == Op.F2BF_SR, self.rand, 0x7FFF + flushed[16])  # RNE: half, plus 1 if odd
        bf16 = Signal(32)
        m.d.comb += bf16.eq(Mux(x.nan, CANONICAL_NAN, Cat(Const(0, 16), (flushed + increment)[16:32])))

        # -- i2f stage 1: magnitude and leading zeros ---------------------------------------------------
        negative = a_word[31]
        int_mag = Signal(32)
        m.d.comb += int_mag.eq(Mux(negative, -a_word, a_word))
        lz = _leading_zeros(m, int_mag, "lz")
        s1 = stage(m, self._depth, int_mag=int_mag, lz=lz, negative=negative, op=self.i.op, f2i=f2i, bf16=bf16)

        # -- stage 2: i2f normalise and round ---------------------------------------------------------
        norm = Signal(32)
        m.d.comb += norm.eq((s1.int_mag << s1.lz)[0:32])
        r_mant, r_exp = _round_rne(m, norm[8:32], norm[7], norm[0:7] != 0, 127 + 31 - s1.lz, "round")
        i2f = Mux(s1.int_mag == 0, 0, Cat(r_mant[0:23], r_exp[0:8], s1.negative))
        result = Signal(32)
        with m.Switch(s1.op):
            with m.Case(Op.I2F):
                m.d.comb += result.eq(i2f)
            with m.Case(Op.F2I):
                m.d.comb += result.eq(s1.f2i)
            with m.Default():
                m.d.comb += result.eq(s1.bf16)
        self._finish(m, result)
        return m


class FpFma(_Unit):
    """fp32 ffma: a x b + c with one rounding (round to nearest even), DAZ inputs, FTZ result, canonical
    NaN (rtl/spec/ops.py).

    Latency 3, throughput 1 per cycle. Both addends are 48-bit significands with their top bit set
    (or zero): the exact 24 x 24 product, normalised, and c's significand extended by 24 zero bits.
    Stages: (1) unpack, the product, its exponent; (2) order the addends by magnitude, align the smaller
    one with guard, round and sticky bits (51 bits), add or subtract; (3) normalise (leading-zero
    count), round to 24 bits, pack. 48 + 3 bits keep every bit the sum can need: the alignment loses only
    bits below three of the larger addend's, which the sticky bit stands for, so the rounding is that of
    the exact sum. Ports and invariants: those of ``_Unit``.
    """

    latency = OP_CLASSES["ffma"].latency

    def elaborate(self, platform):
        m = Module()
        a, b, c = _Fp32(self.i.a), _Fp32(self.i.b), _Fp32(self.i.c)

        # -- stage 1: the exact product, normalised to 48 bits with its top bit set ---------------------
        product = Signal(48)
        m.d.comb += product.eq(a.mant * b.mant)
        p_sign = a.sign ^ b.sign
        p_inf = a.inf | b.inf
        s1 = stage(
            m, self._depth,
            p_mant=Mux(product[47], product, product << 1)[0:48],
            p_exp=a.exp + b.exp - 127 + product[47],  # biased exponent of the top bit (signed)
            p_zero=a.zero | b.zero,
            p_sign=p_sign,
            c_mant=Cat(Const(0, 24), c.mant),
            c_exp=c.exp,
            c_zero=c.zero,
            c_sign=c.sign,
            nan=a.nan | b.nan | c.nan | (a.inf & b.zero) | (a.zero & b.inf) | (p_inf & c.inf & (p_sign != c.sign)),
            inf=p_inf | c.inf,
            inf_sign=Mux(p_inf, p_sign, c.sign),
        )

        # -- stage 2: order by magnitude, align the smaller addend, add or subtract ------------------------
        p_exp = Signal(signed(11))
        c_exp = Signal(signed(11))
        m.d.comb += [p_exp.eq(Mux(s1.p_zero, -512, s1.p_exp)), c_exp.eq(Mux(s1.c_zero, -512, s1.c_exp))]
        p_mant = Mux(s1.p_zero, 0, s1.p_mant)
        # |c| > |a x b|: the borrow of (exponent, significand) keys subtracted, not a comparison, so that a
        # constant c (the accumulator's unit has none) folds away without a constant comparison left
        order = Signal(signed(61))
        m.d.comb += order.eq(Cat(p_mant, (p_exp + 512)[0:11]) - Cat(s1.c_mant, (c_exp + 512)[0:11]))
        swap = order[60]
        big_mant = Mux(swap, s1.c_mant, p_mant)
        small_mant = Mux(swap, p_mant, s1.c_mant)
        big_exp = Signal(signed(11))
        shift = Signal(signed(12))
        m.d.comb += [big_exp.eq(Mux(swap, c_exp, p_exp)), shift.eq(Mux(swap, c_exp - p_exp, p_exp - c_exp))]
        # 51 bits: guard, round and sticky bits below the significand
        aligned = _align(m, Cat(Const(0, 3), small_mant), shift, "aligned")
        big_ext = Cat(Const(0, 3), big_mant)
        subtract = s1.p_sign ^ s1.c_sign
        total = Signal(52)
        m.d.comb += total.eq(Mux(subtract, big_ext - aligned, big_ext + aligned))
        both_zero = s1.p_zero & s1.c_zero
        s2 = stage(m, self._depth, total=total, exp=big_exp, sign=Mux(swap, s1.c_sign, s1.p_sign),
                   subtract=subtract, both_zero=both_zero, zero_sign=s1.p_sign & s1.c_sign, nan=s1.nan,
                   inf=s1.inf, inf_sign=s1.inf_sign)

        # -- stage 3: normalise, round, pack --------------------------------------------------------
        r_mant, r_exp = _round_rne(m, *_normalise(m, s2.total, s2.exp, "norm"), "round")
        # An exact zero is +0, unless both addends were zeros of the same sign.
        result = _pack(m, s2.sign, r_exp, r_mant, nan=s2.nan, inf=s2.inf, inf_sign=s2.inf_sign,
                       zero=s2.total == 0, zero_sign=s2.both_zero & s2.zero_sign, name="packed")
        self._finish(m, result)
        return m


UNIT_CLASSES = {cls.__name__: cls for cls in (IntAlu, IntMul, FpCompare, FpAdd, FpMul, Convert, FpFma)}
assert {c.unit for c in OP_CLASSES.values()} == set(UNIT_CLASSES), "op table names a missing unit"


class FunctionalUnit(wiring.Component):
    """One lane's functional unit: every op of the op table, with one latency for all of them.

    Ports: ``i`` (``OperandSignature``), ``o`` (``ResultSignature``), ``seed``/``reseed`` (the lane's
    stochastic-rounding generator). Latency ``FU_LATENCY`` (0 with ``registered=False``).
    Invariants: each class unit computes every cycle; its result is delayed to ``FU_LATENCY`` cycles and the op
    (delayed alongside) selects which one leaves. So a result appears exactly ``FU_LATENCY`` cycles
    after its operands whatever the op, and a stream of mixed ops keeps its order. Op codes beyond the
    op table give 0.

    The lane's stochastic-rounding generator (see rtl/spec/ops.py) is loaded from ``seed`` when ``reseed``
    is high (reseed wins over an f2bf_sr op in the same cycle, which then uses the old state) and
    steps once for each valid f2bf_sr op.

    Parameters: ``lane``, this unit's lane index (it selects the generator's initial state);
    ``registered=False`` gives the same ops with no pipeline registers (latency 0); ``static_op=True``
    is for an op that does not change while operands are in flight (a PCU's configured op: the
    configuration only changes while the unit is held in reset): ``i.op`` itself selects the result,
    which saves the op's ``FU_LATENCY`` pipeline registers and leaves the selection a function of the
    configuration alone, which a simulator specialised to a bitstream folds away with the unused units.
    """

    latency = FU_LATENCY

    i: In(OperandSignature)
    o: Out(ResultSignature)
    seed: In(32)
    reseed: In(1)

    def __init__(self, lane: int = 0, registered: bool = True, static_op: bool = False):
        if not isinstance(lane, int) or lane < 0:
            raise ValueError(f"FunctionalUnit lane = {lane!r} is invalid: must be a non-negative integer")
        self.lane = lane
        self.registered = registered
        self.static_op = static_op
        if not registered:
            self.latency = 0
        super().__init__()

    def elaborate(self, platform):
        m = Module()

        state = Signal(32, init=lfsr_seed(0, self.lane))
        mixed = self.seed ^ lfsr_lane_mix(self.lane)
        with m.If(self.reseed):
            m.d.sync += state.eq(Mux(mixed == 0, LFSR_ZERO_SUBSTITUTE, mixed))
        with m.Elif(self.i.valid & (self.i.op == Op.F2BF_SR)):
            s1 = state ^ (state << 13)[0:32]
            s2 = s1 ^ (s1 >> 17)
            m.d.sync += state.eq(s2 ^ (s2 << 5)[0:32])

        results = {}
        for name, cls in UNIT_CLASSES.items():
            unit = m.submodules[name] = cls(registered=self.registered)
            m.d.comb += [unit.i.valid.eq(self.i.valid), unit.i.op.eq(self.i.op),
                         unit.i.a.eq(self.i.a), unit.i.b.eq(self.i.b), unit.i.c.eq(self.i.c)]
            if cls is Convert:
                m.d.comb += unit.rand.eq(state[16:32])
            results[name] = delay(m, unit.o.data, self.latency - unit.latency, f"{name}_out")

        op = self.i.op if self.static_op else delay(m, self.i.op, self.latency, "op")
        with m.Switch(op):
            for info in OPS:
                with m.Case(info.code):
                    m.d.comb += self.o.data.eq(results[info.op_class.unit])
            with m.Default():  # codes beyond the op table (the encoders never emit them) give 0
                m.d.comb += self.o.data.eq(0)
        m.d.comb += self.o.valid.eq(delay(m, self.i.valid, self.latency, "valid"))
        return m
