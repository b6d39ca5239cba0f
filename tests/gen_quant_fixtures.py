"""Golden bytes for seq_quant.h's ggml blocks: an independent numpy re-implementation of
ggml's quantize_row_*_ref (ggml-quants.c), every float operation in float32 and in the
reference's order (numpy float32 scalars round each operation like C without FMA).
Writes tests/fixtures/quant_fixtures.h. Run: /usr/bin/python3 tests/gen_quant_fixtures.py"""
import struct
import numpy as np

F = np.float32


def f16(x):
    return np.array([x], dtype=np.float32).astype(np.float16).view(np.uint16)[0]  # RNE


def f16f(h):
    return F(np.array([h], dtype=np.uint16).view(np.float16)[0])


def le16(v):
    return list(struct.pack('<H', int(v)))


def nearest_int(x):
    return int(np.rint(F(x)))  # ties to even, as ggml's 1.5*2^23 trick


def round_away(x):  # C's roundf: half away from zero
    return int(np.copysign(np.floor(abs(float(x)) + 0.5), float(x)))


def trunc_i8(x):
    return int(np.trunc(F(x)))


def absmax_signed(x):
    amax, mx = F(0), F(0)
    for v in x:
        if amax < abs(v):
            amax, mx = F(abs(v)), v
    return amax, mx


def q8_0(x):
    out = []
    for b in range(len(x) // 32):
        xb = x[32 * b:32 * b + 32]
        amax = F(0)
        for v in xb:
            amax = max(amax, F(abs(v)))
        d = F(amax / F(127))
        idv = F(F(1) / d) if d != 0 else F(0)
        out += le16(f16(d)) + [round_away(F(v * idv)) & 0xff for v in xb]
    return out


def q4_0(x, nbits=4):
    half = 1 << (nbits - 1)
    top = (1 << nbits) - 1
    out = []
    for b in range(len(x) // 32):
        xb = x[32 * b:32 * b + 32]
        _, mx = absmax_signed(xb)
        d = F(mx / F(-half))
        idv = F(F(1) / d) if d != 0 else F(0)
        q = [min(top, trunc_i8(F(F(v * idv) + F(half + 0.5)))) for v in xb]
        qs = [(q[j] & 0xf) | ((q[j + 16] & 0xf) << 4) for j in range(16)]
        if nbits == 4:
            out += le16(f16(d)) + qs
        else:
            qh = 0
            for j in range(32):
                qh |= ((q[j] >> 4) & 1) << j
            out += le16(f16(d)) + list(struct.pack('<I', qh)) + qs
    return out


def q4_1(x):
    out = []
    for b in range(len(x) // 32):
        xb = x[32 * b:32 * b + 32]
        mn, mxv = xb[0], xb[0]
        for v in xb[1:]:
            mn = min(mn, v)
            mxv = max(mxv, v)
        d = F(F(mxv - mn) / F(15))
        idv = F(F(1) / d) if d != 0 else F(0)
        q = [min(15, trunc_i8(F(F(F(v - mn) * idv) + F(0.5)))) for v in xb]
        out += le16(f16(d)) + le16(f16(mn)) + [q[j] | (q[j + 16] << 4) for j in range(16)]
    return out


def make_qkx2(x, w, nmax, rmin, rdelta, nstep):
    n = len(x)
    mn, mxv = x[0], x[0]
    sum_w = w[0]
    sum_x = F(sum_w * x[0])
    for i in range(1, n):
        mn = min(mn, x[i])
        mxv = max(mxv, x[i])
        sum_w = F(sum_w + w[i])
        sum_x = F(sum_x + F(w[i] * x[i]))
    if mn > 0:
        mn = F(0)
    if mxv == mn:
        return F(0), F(-mn), [0] * n
    iscale = F(F(nmax) / F(mxv - mn))
    scale = F(F(1) / iscale)
    L = []
    best = F(0)
    for i in range(n):
        l = max(0, min(nmax, nearest_int(F(iscale * F(x[i] - mn)))))
        L.append(l)
        diff = F(F(F(scale * F(l)) + mn) - x[i])
        best = F(best + F(w[i] * F(diff * diff)))
    for st in range(nstep + 1):
        iscale = F(F(F(F(rmin) + F(F(rdelta) * F(st))) + F(nmax)) / F(mxv - mn))
        sl = sl2 = sxl = F(0)
        La = []
        for i in range(n):
            l = max(0, min(nmax, nearest_int(F(iscale * F(x[i] - mn)))))
            La.append(l)
            sl = F(sl + F(w[i] * F(l)))
            sl2 = F(sl2 + F(F(w[i] * F(l)) * F(l)))
            sxl = F(sxl + F(F(w[i] * F(l)) * x[i]))
        D = F(F(sum_w * sl2) - F(sl * sl))
        if D > 0:
            ts = F(F(F(sum_w * sxl) - F(sum_x * sl)) / D)
            tm = F(F(F(sl2 * sum_x) - F(sl * sxl)) / D)
            if tm > 0:
                tm = F(0)
                ts = F(sxl / sl2)
            cur = F(0)
            for i in range(n):
                diff = F(F(F(ts * F(La[i])) + tm) - x[i])
                cur = F(cur + F(w[i] * F(diff * diff)))
            if cur < best:
                L, best, scale, mn = La, cur, ts, tm
    return scale, F(-mn), L


def scale_min_k4(j, q):
    if j < 4:
        return q[j] & 63, q[j + 4] & 63
    return (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)


def q4_K(x):
    out = []
    for b in range(len(x) // 256):
        xb = x[256 * b:256 * b + 256]
        L = [0] * 256
        scales, mins = [], []
        max_scale = max_min = F(0)
        for j in range(8):
            s = xb[32 * j:32 * j + 32]
            sx2 = F(0)
            for v in s:
                sx2 = F(sx2 + F(v * v))
            av = F(np.sqrt(F(sx2 / F(32))))
            w = [F(av + F(abs(v))) for v in s]
            sc, mn, Lj = make_qkx2(s, w, 15, -1.0, 0.1, 20)
            L[32 * j:32 * j + 32] = Lj
            scales.append(sc)
            mins.append(mn)
            max_scale = sc if sc > max_scale else max_scale
            max_min = mn if mn > max_min else max_min
        inv_s = F(F(63) / max_scale) if max_scale > 0 else F(0)
        inv_m = F(F(63) / max_min) if max_min > 0 else F(0)
        sc12 = [0] * 12
        for j in range(8):
            ls = min(63, nearest_int(F(inv_s * scales[j])) & 0xff)
            lm = min(63, nearest_int(F(inv_m * mins[j])) & 0xff)
            if j < 4:
                sc12[j] = ls
                sc12[j + 4] = lm
            else:
                sc12[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
                sc12[j - 4] |= (ls >> 4) << 6
                sc12[j] |= (lm >> 4) << 6
        dh, mh = f16(F(max_scale / F(63))), f16(F(max_min / F(63)))
        d, dmin = f16f(dh), f16f(mh)
        for j in range(8):
            s, m = scale_min_k4(j, sc12)
            dj = F(d * F(s))
            if dj == 0:
                continue
            mj = F(dmin * F(m))
            for i in range(32):
                L[32 * j + i] = max(0, min(15, nearest_int(F(F(xb[32 * j + i] + mj) / dj))))
        qs = []
        for j in range(0, 256, 64):
            qs += [L[j + i] | (L[j + i + 32] << 4) for i in range(32)]
        out += le16(dh) + le16(mh) + sc12 + qs
    return out


def make_qx(x, nmax):
    amax, mx = absmax_signed(x)
    if amax < F(1e-15):
        return F(0), [0] * len(x)
    def trial(iscale):
        sumlx = suml2 = F(0)
        Ls = []
        for v in x:
            l = max(-nmax, min(nmax - 1, nearest_int(F(iscale * v))))
            Ls.append(l + nmax)
            w = F(v * v)
            sumlx = F(sumlx + F(F(w * v) * F(l)))
            suml2 = F(suml2 + F(F(w * F(l)) * F(l)))
        return sumlx, suml2, Ls
    sumlx, suml2, L = trial(F(F(-nmax) / mx))
    scale = F(sumlx / suml2) if suml2 != 0 else F(0)
    best = F(scale * sumlx)
    for st in range(-9, 10):
        if st == 0:
            continue
        iscale = F(F(-F(F(nmax) + F(F(0.1) * F(st)))) / mx)
        sumlx, suml2, Ls = trial(iscale)
        if suml2 > 0 and F(sumlx * sumlx) > F(best * suml2):
            L = Ls
            scale = F(sumlx / suml2)
            best = F(scale * sumlx)
    return scale, L


def q6_K(x):
    out = []
    for b in range(len(x) // 256):
        xb = x[256 * b:256 * b + 256]
        L = [0] * 256
        scales = []
        max_scale = max_abs = F(0)
        for j in range(16):
            sc, Lj = make_qx(xb[16 * j:16 * j + 16], 32)
            L[16 * j:16 * j + 16] = Lj
            scales.append(sc)
            if abs(sc) > max_abs:
                max_abs, max_scale = F(abs(sc)), sc
        if max_abs < F(1e-15):
            out += [0] * 210
            continue
        iscale = F(F(-128) / max_scale)
        dh = f16(F(F(1) / iscale))
        d = f16f(dh)
        sc8 = [min(127, nearest_int(F(iscale * s))) for s in scales]
        for j in range(16):
            dj = F(d * F(sc8[j]))
            if dj == 0:
                continue
            for i in range(16):
                L[16 * j + i] = max(-32, min(31, nearest_int(F(xb[16 * j + i] / dj)))) + 32
        ql, qh = [0] * 128, [0] * 64
        for h in range(2):
            for l in range(32):
                v = [L[128 * h + l + 32 * k] for k in range(4)]
                ql[64 * h + l] = (v[0] & 0xF) | ((v[2] & 0xF) << 4)
                ql[64 * h + l + 32] = (v[1] & 0xF) | ((v[3] & 0xF) << 4)
                qh[32 * h + l] = (v[0] >> 4) | ((v[1] >> 4) << 2) | ((v[2] >> 4) << 4) | ((v[3] >> 4) << 6)
        out += ql + qh + [s & 0xff for s in sc8] + le16(dh)
    return out


IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]


def best_index(x):
    if x <= IQ4NL[0]:
        return 0
    if x >= IQ4NL[-1]:
        return 15
    ml, mu = 0, 15
    while mu - ml > 1:
        mav = (ml + mu) // 2
        if x < IQ4NL[mav]:
            mu = mav
        else:
            ml = mav
    return mu - 1 if F(x - F(IQ4NL[mu - 1])) < F(F(IQ4NL[mu]) - x) else mu


def iq4_nl(x):
    out = []
    for b in range(len(x) // 32):
        xb = x[32 * b:32 * b + 32]
        amax, mx = absmax_signed(xb)
        L = [0] * 32
        d = F(0)
        if amax >= F(1e-15):
            d = F(mx / F(IQ4NL[0]))
            idv = F(F(1) / d)
            sqx = sq2 = F(0)
            for j, v in enumerate(xb):
                L[j] = best_index(F(idv * v))
                q = F(IQ4NL[L[j]])
                w = F(v * v)
                sqx = F(sqx + F(F(w * q) * v))
                sq2 = F(sq2 + F(F(w * q) * q))
            d = F(sqx / sq2)
        out += le16(f16(d)) + [L[j] | (L[j + 16] << 4) for j in range(16)]
    return out


MXFP4 = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]


def mxfp4(x):
    out = []
    for b in range(len(x) // 32):
        xb = x[32 * b:32 * b + 32]
        amax, _ = absmax_signed(xb)
        e = int(F(F(F(np.floor(np.log2(amax))) - F(2)) + F(127))) if amax > 0 else 0
        d = F(2.0 ** (e - 128))
        idx = []
        for v in xb:
            best, err = 0, F(abs(F(F(MXFP4[0]) * d) - v))
            for k in range(1, 16):
                e2 = F(abs(F(F(MXFP4[k]) * d) - v))
                if e2 < err:
                    best, err = k, e2
            idx.append(best)
        out += [e] + [idx[j] | (idx[j + 16] << 4) for j in range(16)]
    return out


def main():
    rng = np.random.default_rng(20261123)
    n = 512
    x = rng.standard_normal(n).astype(np.float32)
    x[rng.integers(0, n, 6)] *= F(8)          # a few outliers
    x[64:96] = F(0)                           # an all-zero block of 32
    x[100] = F(-3.5)
    xs = [F(v) for v in x]
    lines = ['/* Generated by tests/gen_quant_fixtures.py: golden ggml block bytes from a numpy',
             ' * float32 re-implementation of ggml\'s quantize_row_*_ref. Do not edit. */',
             '#define QUANT_FIX_N %d' % n,
             'static const float quant_fix_x[%d] = {' % n]
    for i in range(0, n, 6):
        lines.append('    ' + ', '.join('%.9ef' % float(v) for v in x[i:i + 6]) + ',')
    lines.append('};')
    for name, fn in [('q8_0', q8_0), ('q4_0', q4_0), ('q4_1', q4_1), ('q5_0', lambda v: q4_0(v, 5)),
                     ('q4_K', q4_K), ('q6_K', q6_K), ('iq4_nl', iq4_nl), ('mxfp4', mxfp4)]:
        b = fn(xs)
        lines.append('static const unsigned char quant_fix_%s[%d] = {' % (name, len(b)))
        for i in range(0, len(b), 16):
            lines.append('    ' + ', '.join('%d' % v for v in b[i:i + 16]) + ',')
        lines.append('};')
    open('tests/fixtures/quant_fixtures.h', 'w').write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
