using CsCheck;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;
using static EdgeGuard.Kernels.Tests.Int8GemmTests;

namespace EdgeGuard.Kernels.Tests;

/// <summary>M = 1, which <see cref="Int8Gemm.Multiply(WorkerPool, QuantizedRows, PackedInt8Matrix, ReadOnlySpan{float}, Int8Epilogue, ReadOnlySpan{float}, Span{float})"/> runs through the single-row kernels.</summary>
public sealed class Int8SingleRowTests
{
    // N up to five panels, the last partial; K from 1 to past 4096, where a long FFN row sums the most products per lane.
    private static readonly Gen<Case> Rows = Gen.Select(
        Gen.Int[1, 80],
        Gen.Frequency((3, Gen.Int[1, 300]), (1, Gen.Int[300, 4200])),
        Gen.Enum<Fill>(),
        Gen.Int,
        Gen.Bool.Select(full => full ? PackedInt8Matrix.FullWeightLimit : PackedInt8Matrix.SevenBitWeightLimit),
        (n, k, f, s, w) => new Case(1, n, k, f, s, w));

    public static TheoryData<Int8GemmVariant> AllVariants() => new(Enum.GetValues<Int8GemmVariant>());

    [Theory]
    [MemberData(nameof(AllVariants))]
    public void MultiplyOneRow_Variant_MatchesItsTilesAndTheScalarRowExactly(Int8GemmVariant variant)
    {
        Assert.SkipUnless(Int8Gemm.IsSupported(variant), $"This CPU cannot run {variant}.");
        Rows.Sample(c =>
        {
            var (x, w, bias) = Build(c, variant);
            float[] residual = RandomValues(new Random(c.Seed + 1), c.N);
            foreach (Int8Epilogue epilogue in Enum.GetValues<Int8Epilogue>())
            {
                float[] tiles = new float[c.N], scalarRow = new float[c.N], row = new float[c.N];
                Int8Gemm.Multiply(variant, null, x, w, bias, epilogue, residual, tiles, singleRowKernel: false);
                Int8Gemm.Multiply(Int8GemmVariant.Scalar, null, x, w, bias, epilogue, residual, scalarRow, singleRowKernel: true);
                Int8Gemm.Multiply(variant, null, x, w, bias, epilogue, residual, row, singleRowKernel: true);

                // Exact integer dot products and the tiles' epilogue code: bit-identical.
                Assert.Equal(tiles, row);
                Assert.Equal(scalarRow, row);
            }
        }, iter: 60);
    }

    [Fact]
    public void MultiplyOneRow_ScalarRow_IsTheExactIntegerDotProductDequantised()
    {
        Rows.Sample(c =>
        {
            var (x, w, bias) = Build(c, Int8GemmVariant.Scalar);
            float[] y = new float[c.N];
            Int8Gemm.Multiply(Int8GemmVariant.Scalar, null, x, w, bias, Int8Epilogue.Bias, [], y);
            for (int j = 0; j < c.N; j++)
            {
                long dot = 0;
                for (int k = 0; k < c.K; k++)
                {
                    dot += x.Value(0, k) * w[j, k];
                }

                Assert.Equal((dot * (x.Scale(0) * w.Scales.Span[j])) + bias[j], y[j]);
            }
        }, iter: 60);
    }

    [Theory]
    [MemberData(nameof(VectorVariantsAndWeightLimits), MemberType = typeof(Int8GemmTests))]
    public void MultiplyOneRow_LongRowOfExtremes_DoesNotSaturate(Int8GemmVariant variant, int weightLimit)
    {
        Assert.SkipUnless(Int8Gemm.IsSupported(variant), $"This CPU cannot run {variant}.");
        const int k = 4160;

        // One row of +1s against channels of +1s, −1s and alternating signs: every product is ±limit·weightLimit.
        float[] xs = Enumerable.Repeat(1f, k).ToArray(), ws = new float[3 * k];
        for (int i = 0; i < k; i++)
        {
            ws[i] = 1;
            ws[k + i] = -1;
            ws[(2 * k) + i] = (i & 1) == 0 ? 1 : -1;
        }

        int limit = Int8Gemm.ActivationLimit(variant);
        var x = new QuantizedRows(1, k, variant);
        x.Quantize(xs, k, 1, k);
        PackedInt8Matrix w = PackedInt8Matrix.Quantize(ws, k, 3, k, weightLimit);
        float[] y = new float[3];
        Int8Gemm.Multiply(variant, null, x, w, new float[3], Int8Epilogue.Bias, [], y);
        int[] signs = [1, -1, 0];
        for (int j = 0; j < 3; j++)
        {
            Assert.Equal((float)(signs[j] * k * limit * weightLimit) * (x.Scale(0) * w.Scales.Span[j]), y[j]);
        }
    }

    [Theory]
    [InlineData(Int8Epilogue.Bias, PackedInt8Matrix.FullWeightLimit)]
    [InlineData(Int8Epilogue.BiasGelu, PackedInt8Matrix.SevenBitWeightLimit)]
    [InlineData(Int8Epilogue.BiasResidual, PackedInt8Matrix.FullWeightLimit)]
    public void MultiplyOneRow_OnThePool_SplitsTheChannelsAndMatchesScalar(Int8Epilogue epilogue, int weightLimit)
    {
        using var pool = new WorkerPool(3);

        // 1000 channels: 63 panels in uneven runs, the last panel partial; the residual in place.
        var (x, w, bias) = Build(new Case(1, 1000, 1100, Fill.Random, 7, weightLimit));
        float[] residual = RandomValues(new Random(8), 1000);
        float[] expected = (float[])residual.Clone(), actual = (float[])residual.Clone();
        Int8Gemm.Multiply(Int8GemmVariant.Scalar, null, x, w, bias, epilogue, expected, expected, singleRowKernel: false);
        Int8Gemm.Multiply(pool, x, w, bias, epilogue, actual, actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void MultiplyOneRow_AllocatesNothing()
    {
        var (x, w, bias) = Build(new Case(1, 100, 500, Fill.Random, 3));
        float[] y = new float[100];
        Int8Epilogue[] epilogues = Enum.GetValues<Int8Epilogue>();
        foreach (Int8Epilogue epilogue in epilogues)
        {
            Int8Gemm.Multiply(Int8Gemm.Selected, null, x, w, bias, epilogue, y, y);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        foreach (Int8Epilogue epilogue in epilogues)
        {
            Int8Gemm.Multiply(Int8Gemm.Selected, null, x, w, bias, epilogue, y, y);
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
