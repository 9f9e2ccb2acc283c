using System.Runtime.CompilerServices;

namespace EdgeGuard.Kernels.Float32;

public static unsafe partial class Gemm
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store2<TOps, TVector>(float* y, int width, TVector first, TVector second)
        where TOps : struct, IFloatVectorOps<TVector>
        where TVector : struct
    {
        TOps.Store(y, first);
        TOps.Store(y + width, second);
    }

    /// <summary>Whether any of rows <c>[r0, r1]</c> needs a column of <c>[n0, n1)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Needed(in PlainArgs a, int r0, int r1, int n0, int n1)
    {
        if (a.First == null)
        {
            return true;
        }

        for (int r = r0; r <= r1; r++)
        {
            if (a.First[r] < n1 && a.Last[r] >= n0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Largest block of B (floats, on the stack) <see cref="MultiplyTiles{TOps, TVector}"/> copies before use.</summary>
    private const int PackedBlockLimit = 8192;

    /// <summary>
    /// <c>y = x·Wᵀ + bias</c> for output rows <c>[m0, m1)</c> and columns <c>[n0, n1)</c> in 4×2 tiles: four rows of x
    /// against two rows of W, eight vector accumulators over k, one horizontal sum per output at the end.
    /// 4×2 keeps accumulators plus operands within 16 vector registers (AVX2) and needs 6 loads per 8 FMAs.
    /// Tails reuse the last row/column: the duplicate computes the same value and stores it to the same place,
    /// which is cheaper than a second kernel shape.
    /// </summary>
    private static void MultiplyTransposedTiles<TOps, TVector>(in TransposedArgs a, int m0, int m1, int n0, int n1)
        where TOps : struct, IFloatVectorOps<TVector>
        where TVector : struct
    {
        int k = a.K;
        int kVector = k - (k % TOps.Count);
        for (int n = n0; n < n1; n += 2)
        {
            int nB = Math.Min(n + 1, n1 - 1);
            float* w0 = a.W + ((long)n * a.Ldw);
            float* w1 = a.W + ((long)nB * a.Ldw);
            float bias0 = a.Bias == null ? 0f : a.Bias[n];
            float bias1 = a.Bias == null ? 0f : a.Bias[nB];
            for (int m = m0; m < m1; m += 4)
            {
                int last = m1 - 1;
                long r0 = m, r1 = Math.Min(m + 1, last), r2 = Math.Min(m + 2, last), r3 = Math.Min(m + 3, last);
                float* x0 = a.X + (r0 * a.Ldx);
                float* x1 = a.X + (r1 * a.Ldx);
                float* x2 = a.X + (r2 * a.Ldx);
                float* x3 = a.X + (r3 * a.Ldx);
                TVector c00 = TOps.Zero, c01 = TOps.Zero, c10 = TOps.Zero, c11 = TOps.Zero;
                TVector c20 = TOps.Zero, c21 = TOps.Zero, c30 = TOps.Zero, c31 = TOps.Zero;
                for (int i = 0; i < kVector; i += TOps.Count)
                {
                    TVector v0 = TOps.Load(w0 + i);
                    TVector v1 = TOps.Load(w1 + i);
                    TVector u = TOps.Load(x0 + i);
                    c00 = TOps.MultiplyAdd(u, v0, c00);
                    c01 = TOps.MultiplyAdd(u, v1, c01);
                    u = TOps.Load(x1 + i);
                    c10 = TOps.MultiplyAdd(u, v0, c10);
                    c11 = TOps.MultiplyAdd(u, v1, c11);
                    u = TOps.Load(x2 + i);
                    c20 = TOps.MultiplyAdd(u, v0, c20);
                    c21 = TOps.MultiplyAdd(u, v1, c21);
                    u = TOps.Load(x3 + i);
                    c30 = TOps.MultiplyAdd(u, v0, c30);
                    c31 = TOps.MultiplyAdd(u, v1, c31);
                }

                // horizontal sums, then the k tail
                float s00 = TOps.Sum(c00), s01 = TOps.Sum(c01), s10 = TOps.Sum(c10), s11 = TOps.Sum(c11);
                float s20 = TOps.Sum(c20), s21 = TOps.Sum(c21), s30 = TOps.Sum(c30), s31 = TOps.Sum(c31);
                for (int i = kVector; i < k; i++)
                {
                    float p = w0[i], q = w1[i];
                    s00 += x0[i] * p;
                    s01 += x0[i] * q;
                    s10 += x1[i] * p;
                    s11 += x1[i] * q;
                    s20 += x2[i] * p;
                    s21 += x2[i] * q;
                    s30 += x3[i] * p;
                    s31 += x3[i] * q;
                }

                float* y0 = a.Y + (r0 * a.Ldy);
                float* y1 = a.Y + (r1 * a.Ldy);
                float* y2 = a.Y + (r2 * a.Ldy);
                float* y3 = a.Y + (r3 * a.Ldy);
                y0[n] = s00 + bias0;
                y0[nB] = s01 + bias1;
                y1[n] = s10 + bias0;
                y1[nB] = s11 + bias1;
                y2[n] = s20 + bias0;
                y2[nB] = s21 + bias1;
                y3[n] = s30 + bias0;
                y3[nB] = s31 + bias1;
            }
        }
    }

    /// <summary>
    /// <c>y = x·B</c> for output rows <c>[m0, m1)</c>: four rows by two vectors of columns per tile, x broadcast
    /// element by element, B rows loaded contiguously. Column blocks outside, rows inside, so a block of B (k × two
    /// vectors) stays in L1 while the rows pass; up to <see cref="PackedBlockLimit"/> floats the block is first copied
    /// to contiguous scratch, because B's rows in attention are a power-of-two-ish stride apart and a block read in
    /// place maps to a few L1 sets and evicts itself. Row tails reuse the last row as above; a column tail narrower than
    /// a vector ends at N and overlaps columns already done (same values, stored again); scalar columns only when N
    /// is narrower than one vector.
    /// </summary>
    private static void MultiplyTiles<TOps, TVector>(in PlainArgs a, int m0, int m1)
        where TOps : struct, IFloatVectorOps<TVector>
        where TVector : struct
    {
        int width = TOps.Count;
        int blockFloats = a.K * 2 * width;
        bool pack = blockFloats <= PackedBlockLimit;
        float* packed = stackalloc float[pack ? blockFloats : 0];
        int n = 0;
        for (; n + (2 * width) <= a.N; n += 2 * width)
        {
            float* block = a.B + n;
            long ldb = a.Ldb;
            if (pack)
            {
                for (int i = 0; i < a.K; i++)
                {
                    TOps.Store(packed + (i * 2 * width), TOps.Load(block + (i * ldb)));
                    TOps.Store(packed + (i * 2 * width) + width, TOps.Load(block + (i * ldb) + width));
                }

                block = packed;
                ldb = 2 * width;
            }

            for (int m = m0; m < m1; m += 6)
            {
                int last = m1 - 1;
                if (!Needed(a, m, Math.Min(m + 5, last), n, n + (2 * width)))
                {
                    continue;
                }

                long r0 = m, r1 = Math.Min(m + 1, last), r2 = Math.Min(m + 2, last), r3 = Math.Min(m + 3, last);
                long r4 = Math.Min(m + 4, last), r5 = Math.Min(m + 5, last);
                float* x0 = a.X + (r0 * a.Ldx);
                float* x1 = a.X + (r1 * a.Ldx);
                float* x2 = a.X + (r2 * a.Ldx);
                float* x3 = a.X + (r3 * a.Ldx);
                float* x4 = a.X + (r4 * a.Ldx);
                float* x5 = a.X + (r5 * a.Ldx);
                TVector c00 = TOps.Zero, c01 = TOps.Zero, c10 = TOps.Zero, c11 = TOps.Zero;
                TVector c20 = TOps.Zero, c21 = TOps.Zero, c30 = TOps.Zero, c31 = TOps.Zero;
                TVector c40 = TOps.Zero, c41 = TOps.Zero, c50 = TOps.Zero, c51 = TOps.Zero;
                float* b = block;
                for (int i = 0; i < a.K; i++, b += ldb)
                {
                    TVector v0 = TOps.Load(b);
                    TVector v1 = TOps.Load(b + width);
                    TVector u = TOps.Broadcast(x0[i]);
                    c00 = TOps.MultiplyAdd(u, v0, c00);
                    c01 = TOps.MultiplyAdd(u, v1, c01);
                    u = TOps.Broadcast(x1[i]);
                    c10 = TOps.MultiplyAdd(u, v0, c10);
                    c11 = TOps.MultiplyAdd(u, v1, c11);
                    u = TOps.Broadcast(x2[i]);
                    c20 = TOps.MultiplyAdd(u, v0, c20);
                    c21 = TOps.MultiplyAdd(u, v1, c21);
                    u = TOps.Broadcast(x3[i]);
                    c30 = TOps.MultiplyAdd(u, v0, c30);
                    c31 = TOps.MultiplyAdd(u, v1, c31);
                    u = TOps.Broadcast(x4[i]);
                    c40 = TOps.MultiplyAdd(u, v0, c40);
                    c41 = TOps.MultiplyAdd(u, v1, c41);
                    u = TOps.Broadcast(x5[i]);
                    c50 = TOps.MultiplyAdd(u, v0, c50);
                    c51 = TOps.MultiplyAdd(u, v1, c51);
                }

                Store2<TOps, TVector>(a.Y + (r0 * a.Ldy) + n, width, c00, c01);
                Store2<TOps, TVector>(a.Y + (r1 * a.Ldy) + n, width, c10, c11);
                Store2<TOps, TVector>(a.Y + (r2 * a.Ldy) + n, width, c20, c21);
                Store2<TOps, TVector>(a.Y + (r3 * a.Ldy) + n, width, c30, c31);
                Store2<TOps, TVector>(a.Y + (r4 * a.Ldy) + n, width, c40, c41);
                Store2<TOps, TVector>(a.Y + (r5 * a.Ldy) + n, width, c50, c51);
            }
        }

        for (; n < a.N && a.N >= width; n += width)
        {
            int at = Math.Min(n, a.N - width);
            for (int m = m0; m < m1; m += 4)
            {
                int last = m1 - 1;
                if (!Needed(a, m, Math.Min(m + 3, last), at, at + width))
                {
                    continue;
                }

                long r0 = m, r1 = Math.Min(m + 1, last), r2 = Math.Min(m + 2, last), r3 = Math.Min(m + 3, last);
                float* x0 = a.X + (r0 * a.Ldx);
                float* x1 = a.X + (r1 * a.Ldx);
                float* x2 = a.X + (r2 * a.Ldx);
                float* x3 = a.X + (r3 * a.Ldx);
                TVector c0 = TOps.Zero, c1 = TOps.Zero, c2 = TOps.Zero, c3 = TOps.Zero;
                float* b = a.B + at;
                for (int i = 0; i < a.K; i++, b += a.Ldb)
                {
                    TVector v = TOps.Load(b);
                    c0 = TOps.MultiplyAdd(TOps.Broadcast(x0[i]), v, c0);
                    c1 = TOps.MultiplyAdd(TOps.Broadcast(x1[i]), v, c1);
                    c2 = TOps.MultiplyAdd(TOps.Broadcast(x2[i]), v, c2);
                    c3 = TOps.MultiplyAdd(TOps.Broadcast(x3[i]), v, c3);
                }

                TOps.Store(a.Y + (r0 * a.Ldy) + at, c0);
                TOps.Store(a.Y + (r1 * a.Ldy) + at, c1);
                TOps.Store(a.Y + (r2 * a.Ldy) + at, c2);
                TOps.Store(a.Y + (r3 * a.Ldy) + at, c3);
            }
        }

        for (; n < a.N; n++)
        {
            for (int m = m0; m < m1; m++)
            {
                float s = 0;
                float* x = a.X + ((long)m * a.Ldx);
                float* b = a.B + n;
                for (int i = 0; i < a.K; i++, b += a.Ldb)
                {
                    s += x[i] * *b;
                }

                a.Y[((long)m * a.Ldy) + n] = s;
            }
        }
    }
}
