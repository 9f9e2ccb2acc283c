using System.Numerics.Tensors;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Kernels.Float32;

/// <summary>
/// Layer normalisation of one row, optionally of a residual sum: <c>y = (v - mean(v)) / √(var(v) + eps) · γ + β</c>
/// with <c>v = x + residual</c> and the biased variance, as <c>torch.nn.LayerNorm</c>.
/// </summary>
public static unsafe class LayerNorm
{
    private const int RowsPerTask = 16;

    /// <summary>Normalises one row.</summary>
    /// <param name="input">The row.</param>
    /// <param name="residual">Empty, or a row added to <paramref name="input"/> first.</param>
    /// <param name="gamma">Scale, one per column.</param>
    /// <param name="beta">Shift, one per column.</param>
    /// <param name="epsilon">Added to the variance.</param>
    /// <param name="output">The result; may be the same memory as <paramref name="input"/> or <paramref name="residual"/>.</param>
    public static void Normalize(ReadOnlySpan<float> input, ReadOnlySpan<float> residual, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float epsilon, Span<float> output)
    {
        Check(input, residual, gamma, beta, output);
        if (residual.IsEmpty)
        {
            input.CopyTo(output);
        }
        else
        {
            TensorPrimitives.Add(input, residual, output);
        }

        // Two passes (mean, then squared deviations) rather than E[v²] - E[v]², which cancels badly in float.
        int n = output.Length;
        float mean = TensorPrimitives.Sum<float>(output) / n;
        TensorPrimitives.Subtract(output, mean, output);
        float variance = TensorPrimitives.SumOfSquares<float>(output) / n;
        float scale = 1f / MathF.Sqrt(variance + epsilon);
        TensorPrimitives.Multiply(output, scale, output);
        TensorPrimitives.MultiplyAdd(output, gamma, beta, output);
    }

    /// <summary>
    /// Normalises <paramref name="rows"/> consecutive rows of <c>gamma.Length</c> values on <paramref name="pool"/>.
    /// <paramref name="output"/> may be exactly <paramref name="input"/> or <paramref name="residual"/>, but must not overlap them otherwise.
    /// </summary>
    public static void NormalizeRows(
        WorkerPool pool, ReadOnlySpan<float> input, ReadOnlySpan<float> residual, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float epsilon, Span<float> output, int rows)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        int width = gamma.Length;
        long needed = (long)rows * width;
        if (width == 0 || beta.Length != width || input.Length < needed || output.Length < needed || (!residual.IsEmpty && residual.Length < needed))
        {
            throw new ArgumentException($"Layer norm of {rows} rows of {width}: input {input.Length}, residual {residual.Length}, beta {beta.Length}, output {output.Length}.");
        }

        CheckAlias(output, input, nameof(input));
        CheckAlias(output, residual, nameof(residual));
        fixed (float* pi = input, pr = residual, pg = gamma, pb = beta, po = output)
        {
            var task = new RowsTask(pi, residual.IsEmpty ? null : pr, pg, pb, po, width, rows, epsilon);
            pool.For((rows + RowsPerTask - 1) / RowsPerTask, task);
        }
    }

    /// <summary>Reference twin of <see cref="Normalize"/>: plain loops, double accumulation.</summary>
    internal static void NormalizeScalar(ReadOnlySpan<float> input, ReadOnlySpan<float> residual, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float epsilon, Span<float> output)
    {
        Check(input, residual, gamma, beta, output);
        int n = input.Length;
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            float v = residual.IsEmpty ? input[i] : input[i] + residual[i];
            output[i] = v;
            sum += v;
        }

        double mean = sum / n;
        double squares = 0;
        for (int i = 0; i < n; i++)
        {
            double d = output[i] - mean;
            squares += d * d;
        }

        double scale = 1.0 / Math.Sqrt((squares / n) + epsilon);
        for (int i = 0; i < n; i++)
        {
            output[i] = (float)(((output[i] - mean) * scale * gamma[i]) + beta[i]);
        }
    }

    private static void CheckAlias(Span<float> output, ReadOnlySpan<float> input, string name)
    {
        if (output.Overlaps(input, out int offset) && offset != 0)
        {
            throw new ArgumentException($"The output partly overlaps {name}.", name);
        }
    }

    private static void Check(ReadOnlySpan<float> input, ReadOnlySpan<float> residual, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> output)
    {
        int n = input.Length;
        if (n == 0 || output.Length != n || gamma.Length != n || beta.Length != n || (!residual.IsEmpty && residual.Length != n))
        {
            throw new ArgumentException($"Layer norm lengths differ or are zero: input {n}, residual {residual.Length}, gamma {gamma.Length}, beta {beta.Length}, output {output.Length}.");
        }
    }

    private readonly struct RowsTask(float* input, float* residual, float* gamma, float* beta, float* output, int width, int rows, float epsilon) : IParallelBody
    {
        public void Invoke(int index, int workerIndex)
        {
            var g = new ReadOnlySpan<float>(gamma, width);
            var b = new ReadOnlySpan<float>(beta, width);
            int end = Math.Min((index + 1) * RowsPerTask, rows);
            for (int row = index * RowsPerTask; row < end; row++)
            {
                long start = (long)row * width;
                ReadOnlySpan<float> r = residual == null ? default : new ReadOnlySpan<float>(residual + start, width);
                Normalize(new ReadOnlySpan<float>(input + start, width), r, g, b, epsilon, new Span<float>(output + start, width));
            }
        }
    }
}
