using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Kernels.Tests;

public sealed class GemmTests
{
    // Odd shapes: every tail (rows mod 4, columns mod 2, k mod every vector width) and strides wider than rows.
    public static TheoryData<string, int, int, int> VariantsAndShapes()
    {
        var data = new TheoryData<string, int, int, int>();
        (int M, int N, int K)[] shapes = [(1, 1, 1), (1, 2, 3), (3, 5, 7), (5, 3, 17), (4, 2, 16), (7, 9, 33), (13, 11, 64), (9, 31, 100), (2, 67, 15)];
        foreach (string variant in new[] { "Vector128", "Vector256", "Vector512" })
        {
            foreach (var (m, n, k) in shapes)
            {
                data.Add(variant, m, n, k);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(VariantsAndShapes))]
    public void MultiplyTransposed_Variant_MatchesScalarOnOddShapes(string variantName, int m, int n, int k)
    {
        var variant = Enum.Parse<GemmVariant>(variantName);
        var random = new Random(m * 1000 + n * 10 + k);
        int ldx = k + 3, ldw = k + 1, ldy = n + 2;
        float[] x = RandomArray(random, ((m - 1) * ldx) + k);
        float[] w = RandomArray(random, ((n - 1) * ldw) + k);
        float[] bias = RandomArray(random, n);
        foreach (bool withBias in new[] { true, false })
        {
            float[] expected = new float[((m - 1) * ldy) + n];
            float[] actual = new float[expected.Length];
            float[] b = withBias ? bias : [];
            Gemm.MultiplyTransposed(GemmVariant.Scalar, x, ldx, w, ldw, b, expected, ldy, m, n, k);
            Gemm.MultiplyTransposed(variant, x, ldx, w, ldw, b, actual, ldy, m, n, k);
            AssertClose(expected, actual, k);
        }
    }

    [Theory]
    [MemberData(nameof(VariantsAndShapes))]
    public void Multiply_Variant_MatchesScalarOnOddShapes(string variantName, int m, int n, int k)
    {
        var variant = Enum.Parse<GemmVariant>(variantName);
        var random = new Random(m * 1000 + n * 10 + k + 7);

        // n wider than the 2-vector tile too, so the 2-vector path and the overlapping 1-vector tail both run.
        n += 37;
        int ldx = k + 2, ldb = n + 5, ldy = n + 1;
        float[] x = RandomArray(random, ((m - 1) * ldx) + k);
        float[] b = RandomArray(random, ((k - 1) * ldb) + n);
        float[] expected = new float[((m - 1) * ldy) + n];
        float[] actual = new float[expected.Length];
        Gemm.Multiply(GemmVariant.Scalar, x, ldx, b, ldb, expected, ldy, m, n, k);
        Gemm.Multiply(variant, x, ldx, b, ldb, actual, ldy, m, n, k);
        AssertClose(expected, actual, k);
    }

    [Theory]
    [InlineData(5, 1, 9)]
    [InlineData(7, 3, 16)]
    [InlineData(13, 7, 33)]
    public void Multiply_NarrowerThanAVector_MatchesScalar(int m, int n, int k)
    {
        var random = new Random(n);
        int ldb = n + 1;
        float[] x = RandomArray(random, m * k);
        float[] b = RandomArray(random, ((k - 1) * ldb) + n);
        float[] expected = new float[m * n], actual = new float[m * n];
        Gemm.Multiply(GemmVariant.Scalar, x, k, b, ldb, expected, n, m, n, k);
        Gemm.Multiply(x, k, b, ldb, actual, n, m, n, k);
        AssertClose(expected, actual, k);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MultiplyBanded_EqualsTheFullProductInsideEveryRowsBand(bool rising)
    {
        // A band of 40 columns per row, sliding right (c2p) or left (p2c) by 3 per row, clipped to the matrix.
        const int m = 23, n = 77, k = 19;
        var random = new Random(rising ? 1 : 2);
        float[] x = RandomArray(random, m * k), b = RandomArray(random, k * n);
        int[] first = new int[m], last = new int[m];
        for (int i = 0; i < m; i++)
        {
            int start = rising ? 3 * i : 3 * (m - 1 - i);
            first[i] = Math.Min(start, n - 1);
            last[i] = Math.Min(start + 39, n - 1);
        }

        float[] full = new float[m * n], banded = new float[m * n];
        Gemm.Multiply(x, k, b, n, full, n, m, n, k);
        Array.Fill(banded, float.NaN);
        Gemm.MultiplyBanded(x, k, b, n, banded, n, m, n, k, first, last);
        for (int i = 0; i < m; i++)
        {
            for (int j = first[i]; j <= last[i]; j++)
            {
                Assert.Equal(full[(i * n) + j], banded[(i * n) + j]);
            }
        }

        // Tiles far outside every band were skipped.
        Assert.Contains(banded, float.IsNaN);
    }

    [Fact]
    public void MultiplyBanded_BandsShorterThanTheRows_Throw()
    {
        float[] x = new float[4 * 2], b = new float[2 * 3], y = new float[4 * 3];
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyBanded(x, 2, b, 3, y, 3, 4, 3, 2, new int[3], new int[4]));
    }

    [Theory]
    [InlineData(1, 384, 384)]
    [InlineData(9, 1536, 384)]
    [InlineData(301, 383, 129)]
    public void MultiplyTransposed_OnThePool_MatchesScalar(int m, int n, int k)
    {
        using var pool = new WorkerPool(3);
        var random = new Random(n);
        float[] x = RandomArray(random, m * k);
        float[] w = RandomArray(random, n * k);
        float[] bias = RandomArray(random, n);
        float[] expected = new float[m * n];
        float[] actual = new float[m * n];
        Gemm.MultiplyTransposed(GemmVariant.Scalar, x, k, w, k, bias, expected, n, m, n, k);
        Gemm.MultiplyTransposed(pool, x, k, w, k, bias, actual, n, m, n, k);
        AssertClose(expected, actual, k);
    }

    [Fact]
    public void MultiplyTransposed_WithoutK_WritesTheBias()
    {
        float[] y = new float[6];
        Gemm.MultiplyTransposed([], 0, [], 0, [1f, 2f, 3f], y, 3, 2, 3, 0);
        Assert.Equal([1f, 2f, 3f, 1f, 2f, 3f], y);
    }

    [Fact]
    public void MultiplyTransposed_TooShortInput_ThrowsInsteadOfReadingOutside()
    {
        float[] x = new float[10], w = new float[12], y = new float[6];
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(x, 4, w, 4, [], y, 3, 3, 3, 4));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(x, 2, w, 4, [], y, 3, 2, 3, 4));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(x, 4, w, 4, [1f], y, 3, 2, 3, 4));
    }

    [Fact]
    public void MultiplyTransposed_OutputOverlappingInput_Throws()
    {
        float[] buffer = new float[64];
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(buffer.AsSpan(0, 16), 4, buffer.AsSpan(32, 16), 4, [], buffer.AsSpan(8, 16), 4, 4, 4, 4));
    }

    private static float[] RandomArray(Random random, int length)
    {
        float[] values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)((random.NextDouble() * 2) - 1);
        }

        return values;
    }

    // Sums of k products of values in [-1, 1], reassociated and fused differently: error grows with k.
    private static void AssertClose(float[] expected, float[] actual, int k)
    {
        float tolerance = 1e-6f * (k + 1);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"element {i}: expected {expected[i]}, got {actual[i]}");
        }
    }
}
