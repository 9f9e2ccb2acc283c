using CsCheck;
using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Kernels.Tests;

public sealed class Int8GemmTests
{
    /// <summary>How a generated case fills its matrices: the shapes of data that break integer kernels.</summary>
    public enum Fill
    {
        Random,

        /// <summary>Every value ±1 so both operands quantise to ±127: the largest products, the saturation case.</summary>
        Extremes,

        /// <summary>Some activation rows all zero (scale 0).</summary>
        ZeroRows,

        /// <summary>Every activation row one repeated value.</summary>
        EqualRows,
    }

    /// <param name="WeightLimit">127 (8-bit weights) or 63 (7-bit: AVX2 then sums two steps in int16).</param>
    public sealed record Case(int M, int N, int K, Fill Fill, int Seed, int WeightLimit = PackedInt8Matrix.FullWeightLimit)
    {
        public override string ToString() => $"M={M} N={N} K={K} {Fill} seed={Seed} weights ±{WeightLimit}";
    }

    // Odd M/N (up to three panels, the last partial), K from 1 to past 4 widest vectors (never a multiple of the vector
    // width unless drawn so).
    private static readonly Gen<Case> Cases = Gen.Select(
        Gen.Int[1, 13], Gen.Int[1, 40], Gen.Int[1, 300], Gen.Enum<Fill>(), Gen.Int, Gen.Bool.Select(full => full ? PackedInt8Matrix.FullWeightLimit : PackedInt8Matrix.SevenBitWeightLimit),
        (m, n, k, f, s, w) => new Case(m, n, k, f, s, w));

    public static TheoryData<Int8GemmVariant, int> VectorVariantsAndWeightLimits() =>
        new(VectorVariants().SelectMany(v => new[] { ((Int8GemmVariant)v.Data, PackedInt8Matrix.FullWeightLimit), ((Int8GemmVariant)v.Data, PackedInt8Matrix.SevenBitWeightLimit) }));

    public static TheoryData<Int8GemmVariant> VectorVariants() =>
        [Int8GemmVariant.Avx2, Int8GemmVariant.Avx512BW, Int8GemmVariant.Avx512BWOffset, Int8GemmVariant.AvxVnni, Int8GemmVariant.AdvSimd, Int8GemmVariant.AdvSimdDp];

    [Theory]
    [MemberData(nameof(VectorVariants))]
    public void Multiply_Variant_MatchesScalarExactly(Int8GemmVariant variant)
    {
        Assert.SkipUnless(Int8Gemm.IsSupported(variant), $"This CPU cannot run {variant}.");
        Cases.Sample(c =>
        {
            var (x, w, bias) = Build(c, variant);
            foreach (Int8Epilogue epilogue in Enum.GetValues<Int8Epilogue>())
            {
                float[] residual = RandomValues(new Random(c.Seed + 1), c.M * c.N);
                float[] expected = new float[c.M * c.N];
                float[] actual = new float[c.M * c.N];
                Int8Gemm.Multiply(Int8GemmVariant.Scalar, null, x, w, bias, epilogue, residual, expected);
                Int8Gemm.Multiply(variant, null, x, w, bias, epilogue, residual, actual);

                // Exact integer dot products and the same epilogue code: bit-identical.
                Assert.Equal(expected, actual);
            }
        }, iter: 200);
    }

    [Theory]
    [MemberData(nameof(VectorVariantsAndWeightLimits))]
    public void Multiply_Variant_LongRowsOfExtremes_DoNotSaturate(Int8GemmVariant variant, int weightLimit)
    {
        Assert.SkipUnless(Int8Gemm.IsSupported(variant), $"This CPU cannot run {variant}.");
        const int k = 4096;

        // Rows: all +1, all −1, alternating; weights the same: every product is ±limit·weightLimit, the largest the
        // kernel's int16 stages see (AVX2 on 7-bit weights: four of (63 + 64)·63 in one lane).
        float[] xs = new float[3 * k], ws = new float[3 * k];
        for (int i = 0; i < k; i++)
        {
            xs[i] = ws[i] = 1;
            xs[k + i] = ws[k + i] = -1;
            xs[(2 * k) + i] = ws[(2 * k) + i] = (i & 1) == 0 ? 1 : -1;
        }

        int limit = Int8Gemm.ActivationLimit(variant);
        var x = new QuantizedRows(3, k, variant);
        x.Quantize(xs, k, 3, k);
        PackedInt8Matrix w = PackedInt8Matrix.Quantize(ws, k, 3, k, weightLimit);
        float[] y = new float[9];
        Int8Gemm.Multiply(variant, null, x, w, new float[3], Int8Epilogue.Bias, [], y);

        // The exact dots are ±k·limit·weightLimit (alternating against constant: 0), dequantised by sx·sw = 1/(limit·weightLimit).
        int[] signs = [1, -1, 0, -1, 1, 0, 0, 0, 1];
        for (int i = 0; i < 9; i++)
        {
            float scale = x.Scale(i / 3) * w.Scales.Span[i % 3];
            Assert.Equal((float)(signs[i] * k * limit * weightLimit) * scale, y[i]);
            Assert.Equal(signs[i] * k, y[i], 0.01);
        }
    }

    [Fact]
    public void Multiply_Scalar_IsTheExactIntegerDotProductDequantised()
    {
        Cases.Sample(c =>
        {
            var (x, w, bias) = Build(c);
            float[] y = new float[c.M * c.N];
            Int8Gemm.Multiply(Int8GemmVariant.Scalar, null, x, w, bias, Int8Epilogue.Bias, [], y);
            for (int i = 0; i < c.M; i++)
            {
                for (int j = 0; j < c.N; j++)
                {
                    long dot = 0;
                    for (int k = 0; k < c.K; k++)
                    {
                        dot += x.Value(i, k) * w[j, k];
                    }

                    Assert.Equal((dot * (x.Scale(i) * w.Scales.Span[j])) + bias[j], y[(i * c.N) + j]);
                }
            }
        }, iter: 100);
    }

    [Theory]
    [MemberData(nameof(VectorVariantsAndWeightLimits))]
    public void Multiply_LongRowsManyRows_IsTheExactDotProductInEveryVariant(Int8GemmVariant variant, int weightLimit)
    {
        Assert.SkipUnless(Int8Gemm.IsSupported(variant), $"This CPU cannot run {variant}.");

        // K as long as an FFN's, M over one block's 128 rows with a 2-row tail, N with a partial panel; residual in place.
        var c = new Case(130, 37, 2500, Fill.Random, 11, weightLimit);
        var (x, w, bias) = Build(c, variant);
        float[] residual = RandomValues(new Random(12), c.M * c.N);
        float[] y = (float[])residual.Clone();
        Int8Gemm.Multiply(variant, null, x, w, bias, Int8Epilogue.BiasResidual, y, y);
        for (int i = 0; i < c.M; i++)
        {
            for (int j = 0; j < c.N; j++)
            {
                long dot = 0;
                for (int k = 0; k < c.K; k++)
                {
                    dot += x.Value(i, k) * w[j, k];
                }

                float expected = (dot * (x.Scale(i) * w.Scales.Span[j])) + bias[j] + residual[(i * c.N) + j];
                Assert.Equal(expected, y[(i * c.N) + j]);
            }
        }
    }

    [Fact]
    public void Multiply_Scalar_ApproximatesTheFloatProductWithinTheQuantisationBound()
    {
        Cases.Sample(c =>
        {
            var random = new Random(c.Seed);
            float[] xs = RandomValues(random, c.M * c.K), ws = RandomValues(random, c.N * c.K), bias = RandomValues(random, c.N);
            var x = new QuantizedRows(c.M, c.K);
            x.Quantize(xs, c.K, c.M, c.K);
            PackedInt8Matrix w = PackedInt8Matrix.Quantize(ws, c.K, c.N, c.K);
            float[] y = new float[c.M * c.N];
            Int8Gemm.Multiply(Int8GemmVariant.Scalar, null, x, w, bias, Int8Epilogue.Bias, [], y);
            for (int i = 0; i < c.M; i++)
            {
                for (int j = 0; j < c.N; j++)
                {
                    double exact = bias[j], bound = 1e-4;
                    float sx = x.Scale(i), sw = w.Scales.Span[j];
                    for (int k = 0; k < c.K; k++)
                    {
                        float a = xs[(i * c.K) + k], b = ws[(j * c.K) + k];
                        exact += (double)a * b;

                        // |a·b − qa·qb| ≤ |a|·sw/2 + |b|·sx/2 + sx·sw/4 per term
                        bound += (Math.Abs(a) * sw / 2) + (Math.Abs(b) * sx / 2) + (sx * sw / 4);
                    }

                    Assert.True(Math.Abs(y[(i * c.N) + j] - exact) <= bound, $"({i},{j}): {y[(i * c.N) + j]} vs {exact}, bound {bound}");
                }
            }
        }, iter: 100);
    }

    [Fact]
    public void Multiply_GeluEpilogue_IsGeluOfTheBiasEpilogue()
    {
        var (x, w, bias) = Build(new Case(7, 13, 129, Fill.Random, 5));
        float[] plain = new float[7 * 13], fused = new float[7 * 13];
        Int8Gemm.Multiply(Int8Gemm.Selected, null, x, w, bias, Int8Epilogue.Bias, [], plain);
        Int8Gemm.Multiply(Int8Gemm.Selected, null, x, w, bias, Int8Epilogue.BiasGelu, [], fused);
        Gelu.ApplyApproximate(plain, plain);
        Assert.Equal(plain, fused);
        Assert.Contains(fused, v => v < 0);
    }

    [Fact]
    public void Multiply_ResidualEpilogue_InPlace_AddsTheResidualOnce()
    {
        // 7 rows, 13 columns: both tails duplicate a row/column inside the tile, which must not add twice.
        var (x, w, bias) = Build(new Case(7, 13, 70, Fill.Random, 9));
        float[] plain = new float[7 * 13];
        Int8Gemm.Multiply(Int8Gemm.Selected, null, x, w, bias, Int8Epilogue.Bias, [], plain);
        float[] residual = RandomValues(new Random(3), 7 * 13);
        float[] y = (float[])residual.Clone();
        Int8Gemm.Multiply(Int8Gemm.Selected, null, x, w, bias, Int8Epilogue.BiasResidual, y, y);
        for (int i = 0; i < y.Length; i++)
        {
            Assert.Equal(plain[i] + residual[i], y[i]);
        }
    }

    [Theory]
    [InlineData(1, 768, 384, PackedInt8Matrix.FullWeightLimit)]
    [InlineData(9, 1536, 384, PackedInt8Matrix.SevenBitWeightLimit)]
    [InlineData(133, 383, 129, PackedInt8Matrix.FullWeightLimit)]
    [InlineData(133, 383, 129, PackedInt8Matrix.SevenBitWeightLimit)]
    public void Multiply_OnThePool_MatchesScalar(int m, int n, int k, int weightLimit)
    {
        using var pool = new WorkerPool(3);
        var (x, w, bias) = Build(new Case(m, n, k, Fill.Random, n, weightLimit));
        float[] expected = new float[m * n], actual = new float[m * n];
        Int8Gemm.Multiply(Int8GemmVariant.Scalar, null, x, w, bias, Int8Epilogue.BiasGelu, [], expected);
        Int8Gemm.Multiply(pool, x, w, bias, Int8Epilogue.BiasGelu, [], actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Multiply_MismatchedOrShortOperands_Throw()
    {
        var x = new QuantizedRows(4, 64);
        x.Quantize(new float[4 * 10], 10, 4, 10);
        PackedInt8Matrix w = PackedInt8Matrix.Quantize(new float[3 * 11], 11, 3, 11);
        PackedInt8Matrix w10 = PackedInt8Matrix.Quantize(new float[3 * 10], 10, 3, 10);
        Assert.Throws<ArgumentException>(() => Int8Gemm.Multiply(Int8GemmVariant.Scalar, null, x, w, new float[3], Int8Epilogue.Bias, [], new float[12]));
        Assert.Throws<ArgumentException>(() => Int8Gemm.Multiply(Int8GemmVariant.Scalar, null, x, w10, new float[3], Int8Epilogue.Bias, [], new float[11]));
        Assert.Throws<ArgumentException>(() => Int8Gemm.Multiply(Int8GemmVariant.Scalar, null, x, w10, new float[2], Int8Epilogue.Bias, [], new float[12]));
        Assert.Throws<ArgumentException>(() => Int8Gemm.Multiply(Int8GemmVariant.Scalar, null, x, w10, new float[3], Int8Epilogue.BiasResidual, new float[11], new float[12]));
    }

    [Theory]
    [InlineData(Int8GemmVariant.Avx2)]
    [InlineData(Int8GemmVariant.Avx512BWOffset)]
    public void Multiply_OffsetKernel_RefusesActivationsQuantisedBeyondItsLimit(Int8GemmVariant variant)
    {
        Assert.SkipUnless(Int8Gemm.IsSupported(variant), $"This CPU cannot run {variant}.");
        var x = new QuantizedRows(1, 64, 127);
        x.Quantize(Enumerable.Repeat(1f, 64).ToArray(), 64, 1, 64);
        PackedInt8Matrix w = PackedInt8Matrix.Quantize(Enumerable.Repeat(1f, 64).ToArray(), 64, 1, 64);
        var error = Assert.Throws<ArgumentException>(() => Int8Gemm.Multiply(variant, null, x, w, new float[1], Int8Epilogue.Bias, [], new float[1]));
        Assert.Contains("±63", error.Message);
    }

    [Theory]
    [MemberData(nameof(VectorVariants))]
    public void Multiply_Variant_RefusesRowsStoredWithAnotherOffset(Int8GemmVariant variant)
    {
        Assert.SkipUnless(Int8Gemm.IsSupported(variant), $"This CPU cannot run {variant}.");
        // within the kernel's limit, but stored with AVX2's offset where the kernel reads signed bytes, and signed where it reads an offset
        var x = Int8Gemm.ActivationOffset(variant) == 0
            ? new QuantizedRows(1, 64, Int8GemmVariant.Avx2)
            : new QuantizedRows(1, 64, Int8Gemm.ActivationLimit(variant));
        x.Quantize(Enumerable.Repeat(0.5f, 64).ToArray(), 64, 1, 64);
        PackedInt8Matrix w = PackedInt8Matrix.Quantize(Enumerable.Repeat(1f, 64).ToArray(), 64, 1, 64);
        var error = Assert.Throws<ArgumentException>(() => Int8Gemm.Multiply(variant, null, x, w, new float[1], Int8Epilogue.Bias, [], new float[1]));
        Assert.Contains("offset", error.Message);
    }

    [Theory]
    [InlineData(Int8GemmVariant.Avx2)]
    [InlineData(Int8GemmVariant.AvxVnni)]
    public void Multiply_Scalar_ReadsOffsetRowsAsTheSignedValuesTheyHold(Int8GemmVariant storedFor)
    {
        // The same values quantised with the kernel's limit, stored with its offset and without: same products.
        var random = new Random(4);
        float[] xs = RandomValues(random, 5 * 70), ws = RandomValues(random, 19 * 70), bias = RandomValues(random, 19);
        PackedInt8Matrix w = PackedInt8Matrix.Quantize(ws, 70, 19, 70);
        var offset = new QuantizedRows(5, 70, storedFor);
        offset.Quantize(xs, 70, 5, 70);
        var signed = new QuantizedRows(5, 70, offset.Limit);
        signed.Quantize(xs, 70, 5, 70);
        Assert.Equal(Int8Gemm.ActivationOffset(storedFor), offset.Offset);
        Assert.Equal(0, signed.Offset);
        Assert.Equal(signed.Value(3, 69), offset.Value(3, 69));

        float[] expected = new float[5 * 19], actual = new float[5 * 19];
        Int8Gemm.Multiply(Int8GemmVariant.Scalar, null, signed, w, bias, Int8Epilogue.Bias, [], expected);
        Int8Gemm.Multiply(Int8GemmVariant.Scalar, null, offset, w, bias, Int8Epilogue.Bias, [], actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Selected_IsSupported() => Assert.True(Int8Gemm.IsSupported(Int8Gemm.Selected));

    [Fact]
    public void PreferredWeightLimit_IsSevenBitForTheOffsetKernelsOnly()
    {
        foreach (Int8GemmVariant variant in Enum.GetValues<Int8GemmVariant>())
        {
            int expected = variant is Int8GemmVariant.Avx2 or Int8GemmVariant.Avx512BWOffset ? PackedInt8Matrix.SevenBitWeightLimit : PackedInt8Matrix.FullWeightLimit;
            Assert.Equal(expected, Int8Gemm.PreferredWeightLimit(variant));
        }
    }

    /// <param name="variant">Whose activation limit and offset the rows get; by default the selected kernel's.</param>
    internal static (QuantizedRows X, PackedInt8Matrix W, float[] Bias) Build(Case c, Int8GemmVariant? variant = null)
    {
        var random = new Random(c.Seed);
        float[] xs = new float[c.M * c.K], ws = new float[c.N * c.K];
        for (int i = 0; i < xs.Length; i++)
        {
            xs[i] = c.Fill switch
            {
                Fill.Extremes => random.Next(2) == 0 ? -1 : 1,
                Fill.ZeroRows => i / c.K % 2 == 0 ? 0 : RandomValue(random),
                Fill.EqualRows => (i / c.K) - 2.5f,
                _ => RandomValue(random),
            };
        }

        for (int i = 0; i < ws.Length; i++)
        {
            ws[i] = c.Fill == Fill.Extremes ? (random.Next(2) == 0 ? -1 : 1) : RandomValue(random);
        }

        var x = new QuantizedRows(c.M, c.K, variant ?? Int8Gemm.Selected);
        x.Quantize(xs, c.K, c.M, c.K);
        return (x, PackedInt8Matrix.Quantize(ws, c.K, c.N, c.K, c.WeightLimit), RandomValues(random, c.N));
    }

    private static float RandomValue(Random random) => (float)((random.NextDouble() * 2) - 1);

    internal static float[] RandomValues(Random random, int length)
    {
        float[] values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = RandomValue(random);
        }

        return values;
    }
}
