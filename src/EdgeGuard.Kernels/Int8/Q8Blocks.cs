using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// ggml's Q8_0 block format (GGUF type 8): values in runs of <see cref="BlockLength"/>, each run stored as one
/// little-endian float16 scale <c>d</c> followed by <see cref="BlockLength"/> signed bytes <c>q</c>, value = <c>d · q</c>;
/// <see cref="BlockBytes"/> bytes per block, blocks back to back with no padding, so a block's scale is only 2-byte aligned.
/// </summary>
/// <remarks>
/// Quantisation is ggml's (<c>d = max|x| / 127</c> stored as float16, <c>q = round(x / d)</c> half away from zero), except
/// that <c>x</c> is divided by the stored float16 scale rather than the float32 one, so every value dequantises within
/// <c>d / 2</c> of where it started (dividing by the unrounded scale, as ggml's reference does, can put a value up to
/// <c>127 · 2⁻¹¹ · d</c> further off). Readers cannot tell the difference: both are valid Q8_0.
/// Dequantisation has three twins (scalar, 128-bit, 256-bit) that compute the same float products, so they agree bit
/// for bit; <see cref="Dequantize"/> runs the widest the hardware accelerates (a JIT-time constant, so chosen once).
/// </remarks>
public static class Q8Blocks
{
    /// <summary>Values per block (ggml's <c>QK8_0</c>).</summary>
    public const int BlockLength = 32;

    /// <summary>Bytes per block: a float16 scale and <see cref="BlockLength"/> signed bytes.</summary>
    public const int BlockBytes = ScaleBytes + BlockLength;

    /// <summary>Largest |q|.</summary>
    public const int Limit = 127;

    private const int ScaleBytes = 2;

    /// <summary>Bytes that hold <paramref name="values"/> values, a whole number of blocks.</summary>
    /// <exception cref="ArgumentException"><paramref name="values"/> is negative or not a multiple of <see cref="BlockLength"/>.</exception>
    public static long ByteCount(long values)
    {
        if (values < 0 || values % BlockLength != 0)
        {
            throw new ArgumentException($"{values} values are not a whole number of {BlockLength}-value Q8_0 blocks.", nameof(values));
        }

        return values / BlockLength * BlockBytes;
    }

    /// <summary>Quantises <paramref name="source"/> (a multiple of <see cref="BlockLength"/> values) into blocks.</summary>
    /// <exception cref="ArgumentException">A length is not whole blocks or the two do not match.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value is not finite, or a block's scale would overflow float16.</exception>
    public static void Quantize(ReadOnlySpan<float> source, Span<byte> destination)
    {
        CheckLengths(destination.Length, source.Length);
        for (int block = 0; block < source.Length / BlockLength; block++)
        {
            ReadOnlySpan<float> values = source.Slice(block * BlockLength, BlockLength);
            Span<byte> stored = destination.Slice(block * BlockBytes, BlockBytes);
            float max = 0;
            foreach (float v in values)
            {
                if (!float.IsFinite(v))
                {
                    throw new ArgumentOutOfRangeException(nameof(source), v, "Q8_0 blocks hold finite values only.");
                }

                max = MathF.Max(max, MathF.Abs(v));
            }

            Half scale = (Half)(max / Limit);
            if (Half.IsInfinity(scale))
            {
                throw new ArgumentOutOfRangeException(nameof(source), max, "A Q8_0 block's scale (max |x| / 127) must fit float16.");
            }

            BinaryPrimitives.WriteHalfLittleEndian(stored, scale);
            float d = (float)scale;
            Span<sbyte> q = MemoryMarshal.Cast<byte, sbyte>(stored[ScaleBytes..]);
            for (int i = 0; i < BlockLength; i++)
            {
                // A subnormal float16 scale can round below max / 127; the clamp keeps such a block's maximum at ±127.
                q[i] = d == 0 ? (sbyte)0 : (sbyte)Math.Clamp(MathF.Round(values[i] / d, MidpointRounding.AwayFromZero), -Limit, Limit);
            }
        }
    }

    /// <summary>
    /// Writes the values of <paramref name="blocks"/> to <paramref name="destination"/>
    /// (<see cref="BlockLength"/> values per <see cref="BlockBytes"/> bytes). Allocates nothing.
    /// </summary>
    /// <exception cref="ArgumentException">The lengths are not whole blocks or do not match.</exception>
    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> destination)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            DequantizeVector256(blocks, destination);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            DequantizeVector128(blocks, destination);
        }
        else
        {
            DequantizeScalar(blocks, destination);
        }
    }

    /// <summary>Reference twin.</summary>
    internal static void DequantizeScalar(ReadOnlySpan<byte> blocks, Span<float> destination)
    {
        CheckLengths(blocks.Length, destination.Length);
        for (int block = 0; block < destination.Length / BlockLength; block++)
        {
            ReadOnlySpan<byte> stored = blocks.Slice(block * BlockBytes, BlockBytes);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(stored);
            ReadOnlySpan<sbyte> q = MemoryMarshal.Cast<byte, sbyte>(stored[ScaleBytes..]);
            Span<float> values = destination.Slice(block * BlockLength, BlockLength);
            for (int i = 0; i < BlockLength; i++)
            {
                values[i] = d * q[i];
            }
        }
    }

    /// <summary>One block per step: one 32-byte load, widened to four vectors of eight int32, converted and scaled.</summary>
    internal static void DequantizeVector256(ReadOnlySpan<byte> blocks, Span<float> destination)
    {
        CheckLengths(blocks.Length, destination.Length);
        ref byte source = ref MemoryMarshal.GetReference(blocks);
        ref float target = ref MemoryMarshal.GetReference(destination);
        int count = destination.Length / BlockLength;
        for (int block = 0; block < count; block++)
        {
            ref byte stored = ref Unsafe.Add(ref source, block * BlockBytes);
            var d = Vector256.Create((float)Unsafe.ReadUnaligned<Half>(ref stored));
            Vector256<sbyte> q = Vector256.LoadUnsafe(ref Unsafe.As<byte, sbyte>(ref Unsafe.Add(ref stored, ScaleBytes)));

            // widen
            (Vector256<short> low, Vector256<short> high) = Vector256.Widen(q);
            (Vector256<int> q0, Vector256<int> q1) = Vector256.Widen(low);
            (Vector256<int> q2, Vector256<int> q3) = Vector256.Widen(high);

            // scale
            nuint offset = (nuint)(block * BlockLength);
            (Vector256.ConvertToSingle(q0) * d).StoreUnsafe(ref target, offset);
            (Vector256.ConvertToSingle(q1) * d).StoreUnsafe(ref target, offset + 8);
            (Vector256.ConvertToSingle(q2) * d).StoreUnsafe(ref target, offset + 16);
            (Vector256.ConvertToSingle(q3) * d).StoreUnsafe(ref target, offset + 24);
        }
    }

    /// <summary>One block per step: two 16-byte loads, widened to eight vectors of four int32, converted and scaled.</summary>
    internal static void DequantizeVector128(ReadOnlySpan<byte> blocks, Span<float> destination)
    {
        CheckLengths(blocks.Length, destination.Length);
        ref byte source = ref MemoryMarshal.GetReference(blocks);
        ref float target = ref MemoryMarshal.GetReference(destination);
        int count = destination.Length / BlockLength;
        for (int block = 0; block < count; block++)
        {
            ref byte stored = ref Unsafe.Add(ref source, block * BlockBytes);
            var d = Vector128.Create((float)Unsafe.ReadUnaligned<Half>(ref stored));
            ref sbyte q = ref Unsafe.As<byte, sbyte>(ref Unsafe.Add(ref stored, ScaleBytes));
            nuint offset = (nuint)(block * BlockLength);
            for (int half = 0; half < 2; half++)
            {
                Vector128<sbyte> bytes = Vector128.LoadUnsafe(ref q, (nuint)(half * 16));

                // widen
                (Vector128<short> low, Vector128<short> high) = Vector128.Widen(bytes);
                (Vector128<int> q0, Vector128<int> q1) = Vector128.Widen(low);
                (Vector128<int> q2, Vector128<int> q3) = Vector128.Widen(high);

                // scale
                nuint at = offset + (nuint)(half * 16);
                (Vector128.ConvertToSingle(q0) * d).StoreUnsafe(ref target, at);
                (Vector128.ConvertToSingle(q1) * d).StoreUnsafe(ref target, at + 4);
                (Vector128.ConvertToSingle(q2) * d).StoreUnsafe(ref target, at + 8);
                (Vector128.ConvertToSingle(q3) * d).StoreUnsafe(ref target, at + 12);
            }
        }
    }

    private static void CheckLengths(int byteLength, int valueCount)
    {
        if (valueCount % BlockLength != 0 || byteLength != valueCount / BlockLength * BlockBytes)
        {
            ThrowLengthMismatch(byteLength, valueCount);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowLengthMismatch(int byteLength, int valueCount) =>
        throw new ArgumentException($"{byteLength} bytes of Q8_0 blocks do not hold {valueCount} values ({BlockLength} values per {BlockBytes}-byte block).");
}
