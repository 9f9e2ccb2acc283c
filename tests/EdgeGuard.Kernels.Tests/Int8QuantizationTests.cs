using CsCheck;
using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.Kernels.Tests;

public sealed class Int8QuantizationTests
{
    [Fact]
    public void QuantizeRow_Vector_MatchesScalarExactly()
    {
        // Lengths around every vector width; values including exact half steps (ties round to even in both twins).
        // (limit, offset) as the kernels store them: signed ±127 or ±63, AVX2's x + 64, AVX-VNNI's x + 128.
        (int Limit, int Offset)[] storage = [(127, 0), (63, 0), (63, 64), (127, 128)];
        Gen.Select(Gen.Int[0, 200], Gen.Int, Gen.Bool, Gen.Int[0, 3], (n, seed, ties, kind) => (n, seed, ties, storage[kind].Limit, storage[kind].Offset)).Sample(t =>
        {
            var random = new Random(t.seed);
            float[] row = new float[t.n];
            for (int i = 0; i < row.Length; i++)
            {
                row[i] = t.ties ? (random.Next(-254, 255) / 2f) : (float)((random.NextDouble() * 20) - 10);
            }

            if (t.ties && row.Length > 0)
            {
                row[0] = 127;
            }

            sbyte[] expected = new sbyte[t.n], actual = new sbyte[t.n];
            float expectedScale = ActivationQuantizer.QuantizeRowScalar(row, expected, t.Limit, t.Offset);
            float actualScale = ActivationQuantizer.QuantizeRowVector(row, actual, t.Limit, t.Offset);
            Assert.Equal(expectedScale, actualScale);
            Assert.Equal(expected, actual);
            Assert.All(actual, v => Assert.InRange(t.Offset == 0 ? v : (byte)v - t.Offset, -t.Limit, t.Limit));
        }, iter: 300);
    }

    [Fact]
    public void QuantizeRow_MaximumMapsTo127_AndTiesRoundToEven()
    {
        sbyte[] q = new sbyte[5];
        float scale = ActivationQuantizer.QuantizeRowScalar([127f, -127f, 2.5f, 3.5f, 0f], q);
        Assert.Equal(1f, scale);
        Assert.Equal(new sbyte[] { 127, -127, 2, 4, 0 }, q);
    }

    [Fact]
    public void QuantizeRow_Limit63_MapsTheMaximumTo63()
    {
        sbyte[] q = new sbyte[4];
        float scale = ActivationQuantizer.QuantizeRowVector([126f, -126f, 3f, 5f], q, 63);
        Assert.Equal(2f, scale);
        Assert.Equal(new sbyte[] { 63, -63, 2, 2 }, q);
    }

    [Fact]
    public void QuantizedRows_LimitOutsideOneTo127_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new QuantizedRows(1, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QuantizedRows(1, 1, 128));
    }

    [Fact]
    public void QuantizeRow_AllZero_HasScaleZeroAndZeroValues()
    {
        sbyte[] q = [1, 2, 3];
        Assert.Equal(0f, ActivationQuantizer.QuantizeRowVector(new float[3], q));
        Assert.Equal(new sbyte[3], q);
    }

    [Fact]
    public void PackedQuantize_SevenBit_MapsEachChannelsMaximumTo63()
    {
        float[] w = [0.5f, -2f, 1f, 3f, 0.25f, -0.75f];
        PackedInt8Matrix p = PackedInt8Matrix.Quantize(w, 3, 2, 3, PackedInt8Matrix.SevenBitWeightLimit);
        Assert.Equal(PackedInt8Matrix.SevenBitWeightLimit, p.WeightLimit);
        Assert.Equal([2f / 63, 3f / 63], p.Scales.ToArray());
        Assert.Equal(-63, p[0, 1]);
        Assert.Equal(63, p[1, 0]);
        Assert.Equal((sbyte)Math.Round(0.5f * 63 / 2, MidpointRounding.ToEven), p[0, 0]);
        Assert.Equal(p[0, 0] + p[0, 1] + p[0, 2], p.ChannelSums.Span[0]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(128)]
    public void PackedInt8Matrix_WeightLimitOtherThan127Or63_Throws(int limit)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PackedInt8Matrix.Quantize(new float[64], 64, 1, 64, limit));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PackedInt8Matrix(1, 64, new sbyte[16 * 64], new float[1], new int[1], limit));
    }

    [Fact]
    public void PackedQuantize_RecordsScalesAndSums()
    {
        float[] w = [1f, -2f, 0.5f, 4f, 4f, 4f];
        PackedInt8Matrix p = PackedInt8Matrix.Quantize(w, 3, 2, 3);
        Assert.Equal([2f / 127, 4f / 127], p.Scales.ToArray());
        Assert.Equal(new sbyte[] { 64, -127, 32 }, new[] { p[0, 0], p[0, 1], p[0, 2] });
        Assert.Equal(new sbyte[] { 127, 127, 127 }, new[] { p[1, 0], p[1, 1], p[1, 2] });
        Assert.Equal([64 - 127 + 32, 381], p.ChannelSums.ToArray());
    }

    [Fact]
    public void PackedQuantize_LaysChannelsOutInPanelsOfFourInputSteps_ZeroPadded()
    {
        // 17 channels × 5 inputs: two panels (the second holds one channel), inputs padded to 64.
        const int rows = 17, columns = 5;
        float[] w = new float[rows * columns];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                w[(r * columns) + c] = c == 0 ? 1 : (r + 1) * (c + 1) / 200f;
            }
        }

        PackedInt8Matrix p = PackedInt8Matrix.Quantize(w, columns, rows, columns);
        Assert.Equal(64, p.PaddedColumns);
        Assert.Equal(32, p.PaddedRows);
        Assert.Equal(2, p.Panels);
        ReadOnlySpan<sbyte> data = p.Data.Span;
        Assert.Equal(32 * 64, data.Length);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                // panel r/16, step c/4 (64 bytes), channel r%16 (4 bytes), input c%4
                int offset = (r / 16 * 64 * 16) + (c / 4 * 64) + (r % 16 * 4) + (c % 4);
                Assert.Equal(p[r, c], data[offset]);
                Assert.Equal((sbyte)MathF.Round(w[(r * columns) + c] * 127f), data[offset]);
            }
        }

        int nonZero = 0;
        foreach (sbyte v in data)
        {
            nonZero += v != 0 ? 1 : 0;
        }

        Assert.Equal(rows * columns, nonZero);
    }

    [Fact]
    public void QuantizedRows_NarrowerCallAfterWiderOne_LeavesNoStaleValuesInPadding()
    {
        var rows = new QuantizedRows(2, 128);
        float[] wide = Enumerable.Repeat(1f, 256).ToArray();
        rows.Quantize(wide, 128, 2, 128);
        rows.Quantize(wide, 60, 2, 60);
        rows.Quantize(wide, 10, 2, 10);
        Assert.Equal(64, rows.PaddedColumns);
        for (int r = 0; r < 2; r++)
        {
            Assert.All(rows.Data.AsSpan((r * 64) + 10, 54).ToArray(), v => Assert.Equal(0, v));
        }
    }

    [Fact]
    public void QuantizedRows_MoreThanAllocated_Throws()
    {
        var rows = new QuantizedRows(2, 8);
        Assert.Throws<ArgumentException>(() => rows.Quantize(new float[27], 9, 3, 9));
    }

    [Fact]
    public void QuantizedRows_OnThePool_MatchesRowByRow()
    {
        using var pool = new EdgeGuard.Kernels.Threading.WorkerPool(3);
        var random = new Random(8);
        float[] x = [.. Enumerable.Range(0, 77 * 300).Select(_ => (float)random.NextDouble() - 0.5f)];
        var serial = new QuantizedRows(77, 300);
        var parallel = new QuantizedRows(77, 300);
        serial.Quantize(x, 300, 77, 300);
        parallel.Quantize(pool, x, 300, 77, 300);
        Assert.Equal(serial.Data, parallel.Data);
        Assert.Equal(serial.Scales, parallel.Scales);
    }
}
