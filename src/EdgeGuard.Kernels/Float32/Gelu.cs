using System.Numerics;
using System.Runtime.CompilerServices;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Kernels.Float32;

/// <summary>
/// The erf GELU, <c>x·Φ(x)</c> (PyTorch's default <c>gelu</c>, not the tanh approximation), in float32.
/// </summary>
/// <remarks>
/// <c>Φ</c> comes from <c>erfc(z)</c>, <c>z = |x|/√2</c>, as <c>t·exp(P(t) − z²)</c> with <c>t = 1/(1 + z/2)</c> and
/// <c>P</c> a degree-9 Chebyshev fit whose relative error is below 1.2e-7 for every <c>z ≥ 0</c>: erfc rather than
/// <c>1 + erf</c> keeps relative accuracy for negative inputs, where GELU tends to zero. One reciprocal, nine FMAs and
/// one exp per value keep it far below the cost of the GEMM that feeds it. The exp (<see cref="NonPositiveExp"/>) is
/// written the same way in both twins, so a value gets the same bits whether it lands in a vector or in the scalar tail:
/// a row's result must not depend on which rows share its batch.
/// </remarks>
public static unsafe class Gelu
{
    private const int ValuesPerTask = 8192;

    private const float InverseSqrt2 = 0.707106781f;

    // P(t), highest power first
    private const float P9 = 0.17087277f, P8 = -0.82215223f, P7 = 1.48851587f, P6 = -1.13520398f, P5 = 0.27886807f;
    private const float P4 = -0.18628806f, P3 = 0.09678418f, P2 = 0.37409196f, P1 = 1.00002368f, P0 = -1.26551223f;

    // erfc(z) ≈ (1 + A1·z + … + A6·z⁶)^−16, |error| ≤ 3e-7 (Abramowitz & Stegun 7.1.28)
    private const float A6 = 0.0000430638f, A5 = 0.0002765672f, A4 = 0.0001520143f, A3 = 0.0092705272f, A2 = 0.0422820123f, A1 = 0.0705230784f;

    /// <summary>Whether <see cref="Apply(Span{float})"/> uses the vector variant (selected once).</summary>
    internal static bool UseVector => KernelSet.VectorGelu;

    /// <summary>GELU of one value (the scalar twin of the vector variant).</summary>
    public static float Evaluate(float x)
    {
        float z = MathF.Abs(x) * InverseSqrt2;
        float t = 1f / MathF.FusedMultiplyAdd(0.5f, z, 1f);
        float p = MathF.FusedMultiplyAdd(t, P9, P8);
        p = MathF.FusedMultiplyAdd(t, p, P7);
        p = MathF.FusedMultiplyAdd(t, p, P6);
        p = MathF.FusedMultiplyAdd(t, p, P5);
        p = MathF.FusedMultiplyAdd(t, p, P4);
        p = MathF.FusedMultiplyAdd(t, p, P3);
        p = MathF.FusedMultiplyAdd(t, p, P2);
        p = MathF.FusedMultiplyAdd(t, p, P1);
        p = MathF.FusedMultiplyAdd(t, p, P0);
        float halfXErfc = 0.5f * x * (t * NonPositiveExp.Evaluate(MathF.FusedMultiplyAdd(-z, z, p)));

        // x·Φ(x) = x·erfc(z)/2 below zero, x − x·erfc(z)/2 above
        return x < 0 ? halfXErfc : x - halfXErfc;
    }

    /// <summary>
    /// GELU of one value to an absolute error of at most 4e-7·max(1, |x|) (the scalar twin of
    /// <see cref="ApplyApproximate"/>): about half the work of <see cref="Evaluate"/>, for values quantised next
    /// (the int8 engine's FFN), whose steps are 1/63 of their row's largest magnitude. Unlike <see cref="Evaluate"/> it
    /// is not accurate relative to the tiny values GELU gives below x ≈ −3.
    /// </summary>
    public static float EvaluateApproximate(float x)
    {
        float z = MathF.Abs(x) * InverseSqrt2;
        float p = MathF.FusedMultiplyAdd(z, A6, A5);
        p = MathF.FusedMultiplyAdd(z, p, A4);
        p = MathF.FusedMultiplyAdd(z, p, A3);
        p = MathF.FusedMultiplyAdd(z, p, A2);
        p = MathF.FusedMultiplyAdd(z, p, A1);
        p = MathF.FusedMultiplyAdd(z, p, 1f);
        p *= p;
        p *= p;
        p *= p;
        p *= p;

        // p overflows to +∞ far out, where erfc is 0 anyway
        float halfXErfc = 0.5f * x * (1f / p);
        return x < 0 ? halfXErfc : x - halfXErfc;
    }

    /// <summary>Writes the GELU of each <paramref name="source"/> value to <paramref name="destination"/>, as <see cref="EvaluateApproximate"/>.</summary>
    public static void ApplyApproximate(ReadOnlySpan<float> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException($"The destination has {destination.Length} values for {source.Length}.", nameof(destination));
        }

        int i = 0;
        if (UseVector)
        {
            int width = Vector<float>.Count;
            for (; i + width <= source.Length; i += width)
            {
                ApproximateLanes(new Vector<float>(source[i..])).CopyTo(destination[i..]);
            }
        }

        for (; i < source.Length; i++)
        {
            destination[i] = EvaluateApproximate(source[i]);
        }
    }

    /// <summary>Replaces every value by its GELU.</summary>
    public static void Apply(Span<float> values)
    {
        if (UseVector)
        {
            ApplyVector(values);
        }
        else
        {
            ApplyScalar(values);
        }
    }

    /// <summary>Replaces every value by its GELU, in chunks on <paramref name="pool"/>.</summary>
    public static void Apply(WorkerPool pool, Span<float> values)
    {
        ArgumentNullException.ThrowIfNull(pool);
        fixed (float* p = values)
        {
            pool.For((values.Length + ValuesPerTask - 1) / ValuesPerTask, new ChunkTask(p, values.Length));
        }
    }

    /// <summary>Reference twin of <see cref="ApplyVector"/>.</summary>
    internal static void ApplyScalar(Span<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = Evaluate(values[i]);
        }
    }

    /// <summary>
    /// <see cref="Evaluate"/> on whole vectors. The tail is scalar rather than an overlapping last vector because the
    /// operation is in place and not idempotent.
    /// </summary>
    internal static void ApplyVector(Span<float> values)
    {
        int width = Vector<float>.Count;
        int i = 0;
        for (; i + width <= values.Length; i += width)
        {
            Span<float> chunk = values.Slice(i, width);
            Lanes(new Vector<float>(chunk)).CopyTo(chunk);
        }

        ApplyScalar(values[i..]);
    }

    // inlined: a call passes and returns the vectors through memory
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Lanes(Vector<float> x)
    {
        Vector<float> half = new(0.5f);
        Vector<float> z = Vector.Abs(x) * new Vector<float>(InverseSqrt2);
        Vector<float> t = Vector<float>.One / Vector.FusedMultiplyAdd(half, z, Vector<float>.One);
        Vector<float> p = Vector.FusedMultiplyAdd(t, new Vector<float>(P9), new Vector<float>(P8));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(P7));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(P6));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(P5));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(P4));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(P3));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(P2));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(P1));
        p = Vector.FusedMultiplyAdd(t, p, new Vector<float>(P0));
        Vector<float> halfXErfc = half * x * (t * NonPositiveExp.Lanes(Vector.FusedMultiplyAdd(-z, z, p)));
        return Vector.ConditionalSelect(Vector.LessThan(x, Vector<float>.Zero), halfXErfc, x - halfXErfc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> ApproximateLanes(Vector<float> x)
    {
        Vector<float> z = Vector.Abs(x) * new Vector<float>(InverseSqrt2);
        Vector<float> p = Vector.FusedMultiplyAdd(z, new Vector<float>(A6), new Vector<float>(A5));
        p = Vector.FusedMultiplyAdd(z, p, new Vector<float>(A4));
        p = Vector.FusedMultiplyAdd(z, p, new Vector<float>(A3));
        p = Vector.FusedMultiplyAdd(z, p, new Vector<float>(A2));
        p = Vector.FusedMultiplyAdd(z, p, new Vector<float>(A1));
        p = Vector.FusedMultiplyAdd(z, p, Vector<float>.One);
        p *= p;
        p *= p;
        p *= p;
        p *= p;
        Vector<float> halfXErfc = new Vector<float>(0.5f) * x * (Vector<float>.One / p);
        return Vector.ConditionalSelect(Vector.LessThan(x, Vector<float>.Zero), halfXErfc, x - halfXErfc);
    }

    private readonly struct ChunkTask(float* values, int length) : IParallelBody
    {
        public void Invoke(int index, int workerIndex)
        {
            int start = index * ValuesPerTask;
            Apply(new Span<float>(values + start, Math.Min(ValuesPerTask, length - start)));
        }
    }
}
