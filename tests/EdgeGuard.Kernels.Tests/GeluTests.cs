using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Kernels.Tests;

public sealed class GeluTests
{
    [Fact]
    public void Evaluate_MatchesXTimesNormalCdfFromTheReferenceErfc()
    {
        for (double x = -14; x <= 14; x += 0.0011)
        {
            float input = (float)x;
            double reference = input * 0.5 * ErrorFunctionTests.ReferenceErfc(-input / Math.Sqrt(2));
            float actual = Gelu.Evaluate(input);
            Assert.True(Math.Abs(actual - reference) <= 1.2e-7 * Math.Abs(reference) + 1e-38, $"gelu({input}) = {actual}, reference {reference}");
        }
    }

    [Fact]
    public void Evaluate_IsExactErfGeluNotTheTanhApproximation()
    {
        // At x = -3 the tanh form gives -0.0036374; erf GELU is -0.0040497.
        Assert.Equal(-0.0040496941, Gelu.Evaluate(-3f), 1e-9);
        Assert.Equal(0f, Gelu.Evaluate(0f));
        Assert.Equal(20f, Gelu.Evaluate(20f));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(37)]
    [InlineData(1536)]
    [InlineData(1541)]
    public void ApplyVector_MatchesScalarOnOddLengths(int length)
    {
        var random = new Random(length);
        float[] values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)((random.NextDouble() * 24) - 12);
        }

        values[0] = -0f;
        float[] expected = (float[])values.Clone();
        float[] actual = (float[])values.Clone();
        Gelu.ApplyScalar(expected);
        Gelu.ApplyVector(actual);
        for (int i = 0; i < length; i++)
        {
            float tolerance = 1.2e-7f * Math.Abs(expected[i]);
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"index {i}, x = {values[i]}: scalar {expected[i]}, vector {actual[i]}");
        }
    }

    [Fact]
    public void Apply_OnThePool_MatchesScalarAcrossChunkBoundaries()
    {
        using var pool = new WorkerPool(3);
        var random = new Random(5);
        float[] values = new float[(3 * 8192) + 77];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() * 16) - 8);
        }

        float[] expected = (float[])values.Clone();
        Gelu.ApplyScalar(expected);
        Gelu.Apply(pool, values);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - values[i]) <= 1.2e-7f * Math.Abs(expected[i]), $"index {i}");
        }
    }
}
