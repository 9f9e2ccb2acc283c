using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace EdgeGuard.Kernels.Int8;

/// <summary>
/// Symmetric int8 quantisation of one row to <c>[-limit, limit]</c>: <c>scale = max|x| / limit</c>,
/// <c>q = round_half_even(x · limit / max|x|)</c> clamped. <c>limit</c> is 127, or 63 for the AVX2 kernel (see
/// <see cref="Int8Gemm.ActivationLimit"/>), stored as the byte <c>q + offset</c> (modulo 256; <see cref="QuantizedRows.Offset"/>).
/// Both twins compute the same float products and round the same way, so they agree exactly.
/// </summary>
internal static class ActivationQuantizer
{
    internal static bool UseVector => KernelSet.VectorActivationQuantizer;

    /// <summary>Reference twin. Returns the row's scale (0 for an all-zero row, whose values all quantise to 0).</summary>
    internal static float QuantizeRowScalar(ReadOnlySpan<float> row, Span<sbyte> q, int limit = 127, int offset = 0)
    {
        float max = 0;
        foreach (float v in row)
        {
            max = MathF.Max(max, MathF.Abs(v));
        }

        if (max == 0)
        {
            q.Fill((sbyte)(byte)offset);
            return 0;
        }

        float inverse = limit / max;
        for (int i = 0; i < row.Length; i++)
        {
            q[i] = (sbyte)(byte)((int)Math.Clamp(MathF.Round(row[i] * inverse), -limit, limit) + offset);
        }

        return max / limit;
    }

    /// <summary>Four float vectors → one sbyte vector per step (round, convert, clamp, narrow twice); scalar tail.</summary>
    internal static float QuantizeRowVector(ReadOnlySpan<float> row, Span<sbyte> q, int limit = 127, int offset = 0)
    {
        float max = row.IsEmpty ? 0 : MathF.Abs(TensorPrimitives.MaxMagnitude(row));
        if (max == 0)
        {
            q.Fill((sbyte)(byte)offset);
            return 0;
        }

        float inverse = limit / max;
        var scale = new Vector<float>(inverse);
        var lo = new Vector<int>(-limit);
        var hi = new Vector<int>(limit);
        var shift = new Vector<sbyte>((sbyte)(byte)offset);
        int step = Vector<sbyte>.Count;
        int i = 0;
        ReadOnlySpan<Vector<float>> source = MemoryMarshal.Cast<float, Vector<float>>(row);
        for (; i + step <= row.Length; i += step)
        {
            int v = i / Vector<float>.Count;
            Vector<int> a = Vector.Min(Vector.Max(Vector.ConvertToInt32(Vector.Round(source[v] * scale)), lo), hi);
            Vector<int> b = Vector.Min(Vector.Max(Vector.ConvertToInt32(Vector.Round(source[v + 1] * scale)), lo), hi);
            Vector<int> c = Vector.Min(Vector.Max(Vector.ConvertToInt32(Vector.Round(source[v + 2] * scale)), lo), hi);
            Vector<int> d = Vector.Min(Vector.Max(Vector.ConvertToInt32(Vector.Round(source[v + 3] * scale)), lo), hi);

            // narrow: int → short → sbyte, values already within range
            Vector<sbyte> packed = Vector.Narrow(Vector.Narrow(a, b), Vector.Narrow(c, d)) + shift;
            packed.CopyTo(q.Slice(i));
        }

        for (; i < row.Length; i++)
        {
            q[i] = (sbyte)(byte)((int)Math.Clamp(MathF.Round(row[i] * inverse), -limit, limit) + offset);
        }

        return max / limit;
    }
}
