using System.Numerics;
using EdgeGuard.Kernels.Threading;
using static EdgeGuard.Kernels.Float32.ErrorFunction;

namespace EdgeGuard.Kernels.Float32;

/// <summary>
/// The exact GELU, <c>x·Φ(x) = x·erfc(-x/√2)/2</c> (PyTorch's default <c>gelu</c>, not the tanh approximation).
/// Written with erfc rather than <c>1 + erf</c> so negative inputs keep their relative accuracy.
/// </summary>
public static unsafe class Gelu
{
    private const int ValuesPerTask = 8192;

    private const double InverseSqrt2 = 0.70710678118654752440;

    /// <summary>Whether <see cref="Apply(Span{float})"/> uses the vector variant (selected once).</summary>
    internal static readonly bool UseVector = Vector.IsHardwareAccelerated;

    /// <summary>GELU of one value.</summary>
    public static float Evaluate(float x) => (float)(x * 0.5 * Erfc(-x * InverseSqrt2));

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
    /// Widens to double lanes and evaluates Cody's three ranges branch-free, skipping a range no lane is in.
    /// The tail is scalar rather than an overlapping last vector because the operation is in place and not idempotent.
    /// </summary>
    internal static void ApplyVector(Span<float> values)
    {
        int width = Vector<float>.Count;
        int i = 0;
        for (; i + width <= values.Length; i += width)
        {
            Span<float> chunk = values.Slice(i, width);
            Vector.Widen(new Vector<float>(chunk), out Vector<double> low, out Vector<double> high);
            Vector.Narrow(Lanes(low), Lanes(high)).CopyTo(chunk);
        }

        ApplyScalar(values[i..]);
    }

    private static Vector<double> Lanes(Vector<double> x)
    {
        Vector<double> t = x * -InverseSqrt2;
        Vector<double> y = Vector.Abs(t);
        Vector<double> one = Vector<double>.One;

        // |t| ≤ 0.5: erfc(|t|) = 1 - |t|·A/B
        Vector<double> z = y * y;
        Vector<double> num = A4 * z, den = z;
        num = (num + new Vector<double>(A0)) * z;
        den = (den + new Vector<double>(B0)) * z;
        num = (num + new Vector<double>(A1)) * z;
        den = (den + new Vector<double>(B1)) * z;
        num = (num + new Vector<double>(A2)) * z;
        den = (den + new Vector<double>(B2)) * z;
        Vector<double> erfc = one - (y * (num + new Vector<double>(A3)) / (den + new Vector<double>(B3)));

        Vector<double> half = new(0.5);
        if (Vector.GreaterThanAny(y, half))
        {
            Vector<double> expMinusSquare = Vector.Exp(-z);

            // 0.5 < |t| ≤ 4
            num = C8 * y;
            den = y;
            num = (num + new Vector<double>(C0)) * y;
            den = (den + new Vector<double>(D0)) * y;
            num = (num + new Vector<double>(C1)) * y;
            den = (den + new Vector<double>(D1)) * y;
            num = (num + new Vector<double>(C2)) * y;
            den = (den + new Vector<double>(D2)) * y;
            num = (num + new Vector<double>(C3)) * y;
            den = (den + new Vector<double>(D3)) * y;
            num = (num + new Vector<double>(C4)) * y;
            den = (den + new Vector<double>(D4)) * y;
            num = (num + new Vector<double>(C5)) * y;
            den = (den + new Vector<double>(D5)) * y;
            num = (num + new Vector<double>(C6)) * y;
            den = (den + new Vector<double>(D6)) * y;
            Vector<double> ratio = (num + new Vector<double>(C7)) / (den + new Vector<double>(D7));

            Vector<double> four = new(4.0);
            if (Vector.GreaterThanAny(y, four))
            {
                // |t| > 4 (lanes below produce garbage here that the select discards)
                Vector<double> w = one / z;
                num = P5 * w;
                den = w;
                num = (num + new Vector<double>(P0)) * w;
                den = (den + new Vector<double>(Q0)) * w;
                num = (num + new Vector<double>(P1)) * w;
                den = (den + new Vector<double>(Q1)) * w;
                num = (num + new Vector<double>(P2)) * w;
                den = (den + new Vector<double>(Q2)) * w;
                num = (num + new Vector<double>(P3)) * w;
                den = (den + new Vector<double>(Q3)) * w;
                Vector<double> large = (new Vector<double>(InverseSqrtPi) - (w * (num + new Vector<double>(P4)) / (den + new Vector<double>(Q4)))) / y;
                ratio = Vector.ConditionalSelect(Vector.GreaterThan(y, four), large, ratio);
            }

            erfc = Vector.ConditionalSelect(Vector.GreaterThan(y, half), ratio * expMinusSquare, erfc);
        }

        // erfc(t) for t < 0 is 2 - erfc(|t|)
        erfc = Vector.ConditionalSelect(Vector.LessThan(t, Vector<double>.Zero), new Vector<double>(2.0) - erfc, erfc);
        return x * half * erfc;
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
