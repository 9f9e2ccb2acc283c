using System.Numerics;

namespace EdgeGuard.Kernels.Float32;

/// <summary>
/// Rotary position embedding in the rotate-half form (GPT-NeoX, Hugging Face Llama): within each head of <c>d</c>
/// values, value <c>i</c> and value <c>i + d/2</c> form a pair rotated by the angle whose cosine and sine are
/// <c>cos[i]</c>, <c>sin[i]</c>: <c>x'ᵢ = xᵢ·cosᵢ − xᵢ₊d/2·sinᵢ</c>, <c>x'ᵢ₊d/2 = xᵢ₊d/2·cosᵢ + xᵢ·sinᵢ</c>.
/// </summary>
public static class RotaryEmbedding
{
    /// <summary>Rotates every head of <paramref name="heads"/> (<paramref name="headCount"/> heads of <c>2·cos.Length</c> values) in place.</summary>
    /// <param name="cos">Cosines of the position's angles, one per pair.</param>
    /// <param name="sin">Sines, one per pair.</param>
    public static void Apply(Span<float> heads, int headCount, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = Check(heads, headCount, cos, sin);
        int width = Vector<float>.Count;
        for (int h = 0; h < headCount; h++)
        {
            Span<float> first = heads.Slice(h * 2 * half, half);
            Span<float> second = heads.Slice((h * 2 * half) + half, half);
            int i = 0;
            if (Vector.IsHardwareAccelerated)
            {
                for (; i + width <= half; i += width)
                {
                    var x1 = new Vector<float>(first[i..]);
                    var x2 = new Vector<float>(second[i..]);
                    var c = new Vector<float>(cos[i..]);
                    var s = new Vector<float>(sin[i..]);
                    ((x1 * c) - (x2 * s)).CopyTo(first[i..]);
                    ((x2 * c) + (x1 * s)).CopyTo(second[i..]);
                }
            }

            RotateScalar(first[i..], second[i..], cos[i..], sin[i..]);
        }
    }

    /// <summary>Reference twin of <see cref="Apply"/>.</summary>
    internal static void ApplyScalar(Span<float> heads, int headCount, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = Check(heads, headCount, cos, sin);
        for (int h = 0; h < headCount; h++)
        {
            RotateScalar(heads.Slice(h * 2 * half, half), heads.Slice((h * 2 * half) + half, half), cos, sin);
        }
    }

    // Two products then a sum, unfused: the rounding of Hugging Face's q·cos + rotate_half(q)·sin.
    private static void RotateScalar(Span<float> first, Span<float> second, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        for (int i = 0; i < first.Length; i++)
        {
            float x1 = first[i], x2 = second[i];
            first[i] = (x1 * cos[i]) - (x2 * sin[i]);
            second[i] = (x2 * cos[i]) + (x1 * sin[i]);
        }
    }

    private static int Check(Span<float> heads, int headCount, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = cos.Length;
        if (half == 0 || sin.Length != half || headCount < 0 || heads.Length < (long)headCount * 2 * half)
        {
            throw new ArgumentException($"Rotary embedding of {headCount} heads of {2 * half}: values {heads.Length}, cos {cos.Length}, sin {sin.Length}.");
        }

        return half;
    }
}
