using CsCheck;
using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.Kernels.Tests;

public sealed class Q8BlocksTests
{
    private delegate void Dequantizer(ReadOnlySpan<byte> blocks, Span<float> destination);

    [Fact]
    public void Block_IsAFloat16ScaleThenThirtyTwoSignedBytes()
    {
        // max |x| = 63.5 → d = 0.5 (0x3800 as float16); x / d rounds half away from zero: 1.25 / 0.5 = 2.5 → 3.
        float[] values = new float[32];
        values[0] = 63.5f;
        values[1] = -63.5f;
        values[2] = 1.25f;
        values[3] = -1.25f;
        values[31] = 0.5f;
        byte[] block = new byte[Q8Blocks.BlockBytes];
        Q8Blocks.Quantize(values, block);

        Assert.Equal(34, Q8Blocks.BlockBytes);
        Assert.Equal(new byte[] { 0x00, 0x38 }, block[..2]);
        Assert.Equal(new sbyte[] { 127, -127, 3, -3 }, block[2..6].Select(b => (sbyte)b));
        Assert.Equal(1, (sbyte)block[33]);
        Assert.All(block[6..33], b => Assert.Equal(0, b));
    }

    [Fact]
    public void Quantize_AllZeroBlock_HasScaleZeroAndDequantisesToZero()
    {
        byte[] block = new byte[Q8Blocks.BlockBytes];
        block.AsSpan().Fill(0xFF);
        Q8Blocks.Quantize(new float[32], block);
        Assert.All(block, b => Assert.Equal(0, b));
        float[] values = new float[32];
        values.AsSpan().Fill(1);
        Q8Blocks.Dequantize(block, values);
        Assert.All(values, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Quantize_ThenDequantize_EveryValueWithinHalfItsBlocksScale()
    {
        Gen.Select(Gen.Int[1, 8], Gen.Int, Gen.Int[0, 2], (blocks, seed, range) => (blocks, seed, range)).Sample(t =>
        {
            var random = new Random(t.seed);
            float magnitude = t.range switch { 0 => 1e-5f, 1 => 0.1f, _ => 300f };
            float[] values = new float[t.blocks * Q8Blocks.BlockLength];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = (float)((random.NextDouble() * 2) - 1) * magnitude;
            }

            byte[] stored = new byte[Q8Blocks.ByteCount(values.Length)];
            Q8Blocks.Quantize(values, stored);
            float[] restored = new float[values.Length];
            Q8Blocks.Dequantize(stored, restored);
            for (int i = 0; i < values.Length; i++)
            {
                float d = (float)BitConverter.ToHalf(stored, i / Q8Blocks.BlockLength * Q8Blocks.BlockBytes);

                // A subnormal float16 scale may clamp the block's maximum: off by at most 127 times half a subnormal step.
                float bound = (d / 2) + (127 * MathF.Pow(2, -25));
                Assert.True(Math.Abs(restored[i] - values[i]) <= bound, $"{i}: {restored[i]} vs {values[i]}, d = {d}");
                Assert.True(d == 0 || MathF.Abs(restored[i] / d) <= 127);
            }
        }, iter: 200);
    }

    [Fact]
    public void Dequantize_EveryVectorTwin_MatchesScalarBitForBit()
    {
        Dequantizer[] twins = [Q8Blocks.DequantizeVector128, Q8Blocks.DequantizeVector256, Q8Blocks.Dequantize];
        Gen.Select(Gen.Int[0, 12], Gen.Int, (blocks, seed) => (blocks, seed)).Sample(t =>
        {
            // Arbitrary bytes: every scale bit pattern (subnormals, and infinities and NaNs a file might hold) and every q.
            var random = new Random(t.seed);
            byte[] stored = new byte[t.blocks * Q8Blocks.BlockBytes];
            random.NextBytes(stored);
            float[] expected = new float[t.blocks * Q8Blocks.BlockLength];
            Q8Blocks.DequantizeScalar(stored, expected);
            foreach (Dequantizer twin in twins)
            {
                float[] actual = new float[expected.Length];
                twin(stored, actual);
                Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
            }
        }, iter: 200);
    }

    [Fact]
    public void Dequantize_LengthsThatAreNotWholeMatchingBlocks_Throw()
    {
        Dequantizer[] twins = [Q8Blocks.DequantizeScalar, Q8Blocks.DequantizeVector128, Q8Blocks.DequantizeVector256, Q8Blocks.Dequantize];
        foreach (Dequantizer twin in twins)
        {
            Assert.Throws<ArgumentException>(() => twin(new byte[Q8Blocks.BlockBytes - 1], new float[32]));
            Assert.Throws<ArgumentException>(() => twin(new byte[Q8Blocks.BlockBytes], new float[64]));
            Assert.Throws<ArgumentException>(() => twin(new byte[Q8Blocks.BlockBytes], new float[31]));
        }
    }

    [Fact]
    public void Quantize_ValuesThatCannotBeStored_Throw()
    {
        byte[] block = new byte[Q8Blocks.BlockBytes];
        Assert.Throws<ArgumentException>(() => Q8Blocks.Quantize(new float[31], block));
        Assert.Throws<ArgumentOutOfRangeException>(() => Q8Blocks.Quantize(Enumerable.Repeat(float.NaN, 32).ToArray(), block));
        Assert.Throws<ArgumentOutOfRangeException>(() => Q8Blocks.Quantize(Enumerable.Repeat(1e7f, 32).ToArray(), block));
        Assert.Throws<ArgumentException>(() => Q8Blocks.ByteCount(33));
        Assert.Equal(68, Q8Blocks.ByteCount(64));
    }
}
