using System.Numerics;
using System.Runtime.CompilerServices;

namespace EdgeGuard.Kernels.Float32;

/// <summary>
/// The activations of decoder MLPs: SwiGLU's <c>SiLU(gate)·up</c> (Llama, Qwen2) and GPT-2's <c>gelu_new</c>, the tanh
/// approximation of GELU. Both are <c>x·σ(a)</c> for some <c>a</c> (SiLU: <c>a = x</c>; <c>gelu_new</c>:
/// <c>0.5·x·(1 + tanh(u)) = x·σ(2u)</c>, <c>u = √(2/π)·(x + 0.044715·x³)</c>), and the logistic is taken from
/// <c>e = exp(−|a|)</c>, which never overflows: <c>σ(a) = 1/(1 + e)</c> for <c>a ≥ 0</c>, <c>e/(1 + e)</c> below.
/// The exp (<see cref="NonPositiveExp"/>) is written the same way in both twins, so a value gets the same bits in a
/// vector lane and in the scalar tail.
/// </summary>
public static class GatedActivations
{
    private const float TanhScale = 0.7978845608f; // √(2/π)
    private const float Cubic = 0.044715f;

    /// <summary><c>output[i] = SiLU(gate[i]) · up[i]</c>; <paramref name="output"/> may be <paramref name="gate"/> or <paramref name="up"/>.</summary>
    public static void SiluMultiply(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> output)
    {
        CheckLengths(gate.Length, up.Length, output.Length);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<float>.Count;
            for (; i + width <= gate.Length; i += width)
            {
                var g = new Vector<float>(gate[i..]);
                (g * Logistic(g) * new Vector<float>(up[i..])).CopyTo(output[i..]);
            }
        }

        SiluMultiplyScalar(gate[i..], up[i..], output[i..]);
    }

    /// <summary>Reference twin of <see cref="SiluMultiply"/>.</summary>
    internal static void SiluMultiplyScalar(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> output)
    {
        CheckLengths(gate.Length, up.Length, output.Length);
        for (int i = 0; i < gate.Length; i++)
        {
            float g = gate[i];
            output[i] = g * Logistic(g) * up[i];
        }
    }

    /// <summary>Replaces every value by its <c>gelu_new</c> (GPT-2's activation).</summary>
    public static void GeluTanh(Span<float> values)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<float>.Count;
            for (; i + width <= values.Length; i += width)
            {
                var x = new Vector<float>(values[i..]);
                Vector<float> u = new Vector<float>(TanhScale) * (x + (new Vector<float>(Cubic) * x * x * x));
                (x * Logistic(u + u)).CopyTo(values[i..]);
            }
        }

        GeluTanhScalar(values[i..]);
    }

    /// <summary>Reference twin of <see cref="GeluTanh"/>.</summary>
    internal static void GeluTanhScalar(Span<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            float x = values[i];
            float u = TanhScale * (x + (Cubic * x * x * x));
            values[i] = x * Logistic(u + u);
        }
    }

    /// <summary>σ(a) = 1 / (1 + exp(−a)), from exp(−|a|).</summary>
    internal static float Logistic(float a)
    {
        float e = NonPositiveExp.Evaluate(-MathF.Abs(a));
        return (a >= 0 ? 1f : e) / (1f + e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Logistic(Vector<float> a)
    {
        Vector<float> e = NonPositiveExp.Lanes(-Vector.Abs(a));
        Vector<float> numerator = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(a, Vector<float>.Zero), Vector<float>.One, e);
        return numerator / (Vector<float>.One + e);
    }

    private static void CheckLengths(int gate, int up, int output)
    {
        if (up != gate || output != gate)
        {
            throw new ArgumentException($"Gate {gate}, up {up} and output {output} values differ.");
        }
    }
}
