using EdgeGuard.Kernels.Float32;

namespace EdgeGuard.Kernels.Tests;

public sealed class SoftmaxTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(17, 17)]
    [InlineData(37, 20)]
    [InlineData(300, 171)]
    public void MaskedRow_MatchesScalarTwinAndZeroesMaskedKeys(int length, int valid)
    {
        var random = new Random(length * 31 + valid);
        float[] row = new float[length];
        for (int i = 0; i < length; i++)
        {
            row[i] = (float)((random.NextDouble() * 40) - 20);
        }

        float[] expected = (float[])row.Clone(), actual = (float[])row.Clone();
        Softmax.MaskedRowScalar(expected, valid);
        Softmax.MaskedRow(actual, valid);
        for (int i = 0; i < length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6f, $"index {i}: {expected[i]} vs {actual[i]}");
        }

        Assert.All(actual[valid..], v => Assert.Equal(0f, v));
        Assert.Equal(1.0, actual.Sum(v => (double)v), 1e-5);
    }

    [Fact]
    public void MaskedRow_LargeScores_DoNotOverflow()
    {
        float[] row = [1000f, 999f, -1000f];
        Softmax.MaskedRow(row, 3);
        Assert.Equal(1 / (1 + Math.Exp(-1)), row[0], 1e-6);
        Assert.DoesNotContain(row, float.IsNaN);
    }

    [Fact]
    public void MaskedRow_NoVisibleKey_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Softmax.MaskedRow(new float[4], 0));
    }
}
