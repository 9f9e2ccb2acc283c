using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Kernels.Tests;

/// <summary>RMSNorm, rotary embedding, SiLU·mul and gelu_new against their scalar twins and plain double formulas.</summary>
public sealed class DecoderKernelTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(577)]
    public void RmsNorm_MatchesTheScalarTwinAndTheFormula(int length)
    {
        var random = new Random(length);
        float[] input = Random(random, length, 3, 0.5), weight = Random(random, length, 0.3, 1);
        float[] twin = new float[length], actual = new float[length];
        RmsNorm.NormalizeScalar(input, weight, 1e-5f, twin);
        RmsNorm.Normalize(input, weight, 1e-5f, actual);
        double rms = Math.Sqrt(input.Select(v => (double)v * v).Average() + 1e-5);
        for (int i = 0; i < length; i++)
        {
            double expected = input[i] / rms * weight[i];
            Assert.True(Math.Abs(twin[i] - expected) <= 1e-6 * Math.Max(1, Math.Abs(expected)), $"twin {i}");
            Assert.True(Math.Abs(actual[i] - expected) <= 2e-6 * Math.Max(1, Math.Abs(expected)), $"index {i}: {actual[i]} vs {expected}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(40)]
    public void RmsNormRows_OnThePoolInPlace_MatchesRowByRow(int rows)
    {
        using var pool = new WorkerPool(3);
        const int width = 20;
        var random = new Random(rows);
        float[] input = Random(random, rows * width, 2, 0), weight = Random(random, width, 0.5, 1);
        float[] expected = new float[rows * width];
        for (int r = 0; r < rows; r++)
        {
            RmsNorm.Normalize(input.AsSpan(r * width, width), weight, 1e-6f, expected.AsSpan(r * width, width));
        }

        RmsNorm.NormalizeRows(pool, input, weight, 1e-6f, input, rows);
        Assert.Equal(expected, input);
    }

    [Fact]
    public void RmsNorm_RefusesMismatchedLengths() =>
        Assert.Throws<ArgumentException>(() => RmsNorm.Normalize(new float[4], new float[3], 1e-6f, new float[4]));

    [Theory]
    [InlineData(1, 2)]
    [InlineData(3, 8)]
    [InlineData(2, 38)]
    [InlineData(5, 64)]
    public void RotaryEmbedding_RotatesEachPairAsTheRotateHalfFormula(int heads, int headSize)
    {
        var random = new Random(heads * headSize);
        int half = headSize / 2;
        float[] x = Random(random, heads * headSize, 1, 0);
        double[] angles = [.. Enumerable.Range(0, half).Select(i => random.NextDouble() * 50)];
        float[] cos = [.. angles.Select(a => (float)Math.Cos(a))], sin = [.. angles.Select(a => (float)Math.Sin(a))];
        float[] actual = (float[])x.Clone(), twin = (float[])x.Clone();
        RotaryEmbedding.Apply(actual, heads, cos, sin);
        RotaryEmbedding.ApplyScalar(twin, heads, cos, sin);
        for (int h = 0; h < heads; h++)
        {
            for (int i = 0; i < headSize; i++)
            {
                int pair = i < half ? i : i - half;
                double x1 = x[(h * headSize) + pair], x2 = x[(h * headSize) + pair + half];
                double expected = i < half ? (x1 * cos[pair]) - (x2 * sin[pair]) : (x2 * cos[pair]) + (x1 * sin[pair]);
                int at = (h * headSize) + i;
                Assert.True(Math.Abs(actual[at] - expected) <= 1e-6, $"head {h} value {i}: {actual[at]} vs {expected}");
                Assert.True(Math.Abs(twin[at] - expected) <= 1e-6, $"twin head {h} value {i}");
            }
        }
    }

    [Fact]
    public void RotaryEmbedding_RefusesAHeadCountBeyondTheValues() =>
        Assert.Throws<ArgumentException>(() => RotaryEmbedding.Apply(new float[8], 2, new float[4], new float[4]));

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(256)]
    public void SiluMultiply_MatchesTheFormulaAndItsTwinBitForBit(int length)
    {
        var random = new Random(length);
        float[] gate = Random(random, length, 12, 0), up = Random(random, length, 2, 0);
        gate[0] = -90; // exp underflows: SiLU → −0
        float[] actual = new float[length], twin = new float[length];
        GatedActivations.SiluMultiply(gate, up, actual);
        GatedActivations.SiluMultiplyScalar(gate, up, twin);
        Assert.Equal(twin, actual);
        for (int i = 0; i < length; i++)
        {
            double g = gate[i];
            double expected = g / (1 + Math.Exp(-g)) * up[i];
            Assert.True(Math.Abs(actual[i] - expected) <= 1e-6 * Math.Max(1, Math.Abs(expected)), $"index {i}: {actual[i]} vs {expected}");
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(64)]
    [InlineData(1001)]
    public void GeluTanh_MatchesGpt2sFormulaAndItsTwinBitForBit(int length)
    {
        var random = new Random(length);
        float[] values = Random(random, length, 8, 0);
        float[] actual = (float[])values.Clone(), twin = (float[])values.Clone();
        GatedActivations.GeluTanh(actual);
        GatedActivations.GeluTanhScalar(twin);
        Assert.Equal(twin, actual);
        for (int i = 0; i < length; i++)
        {
            double x = values[i];
            double expected = 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + (0.044715 * x * x * x))));
            Assert.True(Math.Abs(actual[i] - expected) <= 1e-6 * Math.Max(1, Math.Abs(expected)), $"index {i}: {actual[i]} vs {expected}");
        }
    }

    private static float[] Random(Random random, int length, double scale, double offset) =>
        [.. Enumerable.Range(0, length).Select(_ => (float)(offset + (scale * ((random.NextDouble() * 2) - 1))))];
}
