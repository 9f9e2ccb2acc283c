using System.Numerics;
using System.Runtime.CompilerServices;

namespace EdgeGuard.Kernels.Float32;

/// <summary>
/// <c>exp(a)</c> for <c>a ≤ 0</c>, the only arguments GELU's erfc and a softmax shifted by its maximum make, written the
/// same way in both twins so that a value gets the same bits in a vector lane and in a scalar tail.
/// </summary>
/// <remarks>
/// <c>exp(a) = 2^k·exp(r)</c>, <c>k = round(a/ln2)</c>, <c>r = a − k·ln2</c> in two parts (|r| ≤ ln2/2), <c>exp(r)</c> by
/// its Taylor series to <c>r⁷</c>. Below <see cref="Floor"/> the result is under float's normal range and returned as 0;
/// NaN stays NaN.
/// </remarks>
internal static class NonPositiveExp
{
    private const float Log2E = 1.44269504f, Ln2High = 0.693145752f, Ln2Low = 1.42860677e-6f;
    private const float E7 = 1f / 5040, E6 = 1f / 720, E5 = 1f / 120, E4 = 1f / 24, E3 = 1f / 6, E2 = 0.5f;

    /// <summary>Arguments below this give 0.</summary>
    public const float Floor = -87f;

    /// <summary>The scalar twin of <see cref="Lanes"/>.</summary>
    public static float Evaluate(float a)
    {
        if (!(a >= Floor))
        {
            return float.IsNaN(a) ? a : 0f;
        }

        float k = MathF.Round(a * Log2E);
        float r = MathF.FusedMultiplyAdd(k, -Ln2High, a);
        r = MathF.FusedMultiplyAdd(k, -Ln2Low, r);
        float e = MathF.FusedMultiplyAdd(r, E7, E6);
        e = MathF.FusedMultiplyAdd(r, e, E5);
        e = MathF.FusedMultiplyAdd(r, e, E4);
        e = MathF.FusedMultiplyAdd(r, e, E3);
        e = MathF.FusedMultiplyAdd(r, e, E2);
        e = MathF.FusedMultiplyAdd(r, e, 1f);
        e = MathF.FusedMultiplyAdd(r, e, 1f);
        return e * BitConverter.Int32BitsToSingle(((int)k + 127) << 23);
    }

    // inlined: a call passes and returns the vectors through memory
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Lanes(Vector<float> a)
    {
        Vector<float> clamped = Vector.Max(a, new Vector<float>(Floor));
        Vector<float> k = Vector.Round(clamped * new Vector<float>(Log2E));
        Vector<float> r = Vector.FusedMultiplyAdd(k, new Vector<float>(-Ln2High), clamped);
        r = Vector.FusedMultiplyAdd(k, new Vector<float>(-Ln2Low), r);
        Vector<float> e = Vector.FusedMultiplyAdd(r, new Vector<float>(E7), new Vector<float>(E6));
        e = Vector.FusedMultiplyAdd(r, e, new Vector<float>(E5));
        e = Vector.FusedMultiplyAdd(r, e, new Vector<float>(E4));
        e = Vector.FusedMultiplyAdd(r, e, new Vector<float>(E3));
        e = Vector.FusedMultiplyAdd(r, e, new Vector<float>(E2));
        e = Vector.FusedMultiplyAdd(r, e, Vector<float>.One);
        e = Vector.FusedMultiplyAdd(r, e, Vector<float>.One);
        Vector<float> scale = Vector.AsVectorSingle(Vector.ShiftLeft(Vector.ConvertToInt32(k) + new Vector<int>(127), 23));
        Vector<float> result = e * scale;

        // below the floor: 0; NaN stays NaN (Max above turned it into the floor)
        result = Vector.ConditionalSelect(Vector.LessThan(a, new Vector<float>(Floor)), Vector<float>.Zero, result);
        return Vector.ConditionalSelect(Vector.Equals(a, a), result, a);
    }
}
