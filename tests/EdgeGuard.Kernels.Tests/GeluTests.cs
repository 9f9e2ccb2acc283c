using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Kernels.Tests;

public sealed class GeluTests
{
    [Fact]
    public void Evaluate_MatchesXTimesNormalCdfFromTheReferenceErfc()
    {
        // Float rounding of the exp argument −z² + P(t) dominates: it grows with z², to ~1.6e-6 of the value at x = −4,
        // where GELU is 2e-4; further out the values fall below 1e-19 and only the absolute floor matters.
        for (double x = -14; x <= 14; x += 0.0011)
        {
            float input = (float)x;
            double reference = input * 0.5 * ReferenceErrorFunction.Erfc(-input / Math.Sqrt(2));
            float actual = Gelu.Evaluate(input);
            double tolerance = (x >= -4 ? 2e-6 : 1e-5) * Math.Abs(reference) + 1e-30;
            Assert.True(Math.Abs(actual - reference) <= tolerance, $"gelu({input}) = {actual}, reference {reference}");
        }
    }

    [Fact]
    public void Evaluate_IsExactErfGeluNotTheTanhApproximation()
    {
        // At x = -3 the tanh form gives -0.0036374; erf GELU is -0.0040497.
        Assert.Equal(-0.0040496941, Gelu.Evaluate(-3f), 5e-9);
        Assert.Equal(0f, Gelu.Evaluate(0f));
        Assert.Equal(20f, Gelu.Evaluate(20f));
        Assert.True(float.IsNaN(Gelu.Evaluate(float.NaN)));
    }

    [Fact]
    public void EvaluateApproximate_IsWithinItsAbsoluteBoundOfTheReference()
    {
        double worst = 0;
        for (double x = -14; x <= 14; x += 0.0011)
        {
            float input = (float)x;
            double reference = input * 0.5 * ReferenceErrorFunction.Erfc(-input / Math.Sqrt(2));
            double error = Math.Abs(Gelu.EvaluateApproximate(input) - reference) / Math.Max(1, Math.Abs(input));
            Assert.True(error <= 4e-7, $"gelu≈({input}) = {Gelu.EvaluateApproximate(input)}, reference {reference}");
            worst = Math.Max(worst, error);
        }

        // the bound is tight enough to notice a wrong coefficient
        Assert.True(worst > 1e-8);
        Assert.Equal(0f, Gelu.EvaluateApproximate(0f));
        Assert.Equal(20f, Gelu.EvaluateApproximate(20f));
        Assert.Equal(0f, Gelu.EvaluateApproximate(-20f));
        Assert.True(float.IsNaN(Gelu.EvaluateApproximate(float.NaN)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(37)]
    [InlineData(1541)]
    public void ApplyApproximate_VectorsMatchTheScalarTwinOnOddLengths(int length)
    {
        float[] source = RandomValues(length, [-0f, float.NaN, -200f, 200f, -13.5f, 1e-30f, 5f, -5f]);
        float[] actual = new float[length + 3];
        Gelu.ApplyApproximate(source, actual);
        for (int i = 0; i < length; i++)
        {
            Assert.Equal(Gelu.EvaluateApproximate(source[i]), actual[i]);
        }

        Assert.Equal(0f, actual[length]);
        Assert.Throws<ArgumentException>(() => Gelu.ApplyApproximate(source, new float[length - 1]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(37)]
    [InlineData(1536)]
    [InlineData(1541)]
    public void ApplyVector_MatchesScalarOnOddLengths(int length)
    {
        float[] values = RandomValues(length, [-0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, -200f, 200f, -13.5f, 1e-30f]);
        float[] expected = (float[])values.Clone();
        float[] actual = (float[])values.Clone();
        Gelu.ApplyScalar(expected);
        Gelu.ApplyVector(actual);

        // Bit-identical, so a value's result does not depend on whether it falls in a vector or in the tail.
        Assert.Equal(expected, actual);
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
        Assert.Equal(expected, values);
    }

    /// <summary>Seeded values in [−12, 12), the first ones replaced by <paramref name="special"/> (as many as fit).</summary>
    private static float[] RandomValues(int length, float[] special)
    {
        var random = new Random(length);
        float[] values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)((random.NextDouble() * 24) - 12);
        }

        special.AsSpan(0, Math.Min(length, special.Length)).CopyTo(values);
        return values;
    }
}
