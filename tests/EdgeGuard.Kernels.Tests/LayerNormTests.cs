using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Kernels.Tests;

public sealed class LayerNormTests
{
    [Theory]
    [InlineData(1, false)]
    [InlineData(7, true)]
    [InlineData(33, false)]
    [InlineData(384, true)]
    [InlineData(1023, true)]
    public void Normalize_MatchesScalarTwin(int length, bool withResidual)
    {
        var random = new Random(length);
        float[] input = Random(random, length, 3, 5);
        float[] residual = withResidual ? Random(random, length, 1, 0) : [];
        float[] gamma = Random(random, length, 1, 1);
        float[] beta = Random(random, length, 0.5, 0);
        float[] expected = new float[length], actual = new float[length];
        LayerNorm.NormalizeScalar(input, residual, gamma, beta, 1e-7f, expected);
        LayerNorm.Normalize(input, residual, gamma, beta, 1e-7f, actual);
        for (int i = 0; i < length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 2e-5f, $"index {i}: {expected[i]} vs {actual[i]}");
        }
    }

    [Fact]
    public void Normalize_InPlaceOverTheResidual_GivesZeroMeanUnitVariance()
    {
        float[] input = [1, 2, 3, 4, 5];
        float[] residual = [10, 10, 10, 10, 10];
        float[] ones = [1, 1, 1, 1, 1];
        float[] zeros = new float[5];
        LayerNorm.Normalize(input, residual, ones, zeros, 0f, residual);
        Assert.Equal(0, residual.Average(), 1e-6);
        Assert.Equal(1, residual.Select(v => v * v).Average(), 1e-5);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(37, true)]
    [InlineData(300, true)]
    public void NormalizeRows_OnThePool_MatchesRowByRowInPlace(int rows, bool withResidual)
    {
        using var pool = new WorkerPool(3);
        const int width = 24;
        var random = new Random(rows);
        float[] input = Random(random, rows * width, 2, 1);
        float[] residual = withResidual ? Random(random, rows * width, 1, 0) : [];
        float[] gamma = Random(random, width, 1, 1), beta = Random(random, width, 1, 0);
        float[] expected = new float[rows * width];
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> res = withResidual ? residual.AsSpan(r * width, width) : default;
            LayerNorm.NormalizeScalar(input.AsSpan(r * width, width), res, gamma, beta, 1e-7f, expected.AsSpan(r * width, width));
        }

        LayerNorm.NormalizeRows(pool, input, residual, gamma, beta, 1e-7f, input, rows);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - input[i]) <= 2e-5f, $"index {i}: {expected[i]} vs {input[i]}");
        }
    }

    [Fact]
    public void NormalizeRows_OutputPartlyOverlappingInput_Throws()
    {
        using var pool = new WorkerPool(1);
        float[] buffer = new float[40];
        float[] ones = [1, 1, 1, 1];
        Assert.Throws<ArgumentException>(() => LayerNorm.NormalizeRows(pool, buffer.AsSpan(0, 16), [], ones, ones, 1e-5f, buffer.AsSpan(4, 16), 4));
    }

    [Fact]
    public void Normalize_MismatchedLengths_Throws()
    {
        Assert.Throws<ArgumentException>(() => LayerNorm.Normalize(new float[4], [], new float[3], new float[4], 1e-5f, new float[4]));
    }

    private static float[] Random(Random random, int length, double scale, double offset)
    {
        float[] values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)((((random.NextDouble() * 2) - 1) * scale) + offset);
        }

        return values;
    }
}
