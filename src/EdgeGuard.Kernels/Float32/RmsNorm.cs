using System.Numerics.Tensors;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Kernels.Float32;

/// <summary>
/// Root-mean-square normalisation of one row, as Llama's <c>RMSNorm</c>: <c>y = x / √(mean(x²) + eps) · w</c>
/// (no centring, no shift).
/// </summary>
public static unsafe class RmsNorm
{
    private const int RowsPerTask = 16;

    /// <summary>Normalises one row; <paramref name="output"/> may be <paramref name="input"/>.</summary>
    public static void Normalize(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, float epsilon, Span<float> output)
    {
        Check(input, weight, output);
        float meanSquare = TensorPrimitives.SumOfSquares(input) / input.Length;
        float scale = 1f / MathF.Sqrt(meanSquare + epsilon);

        // x·scale first, then ·w: the order Hugging Face multiplies in.
        TensorPrimitives.Multiply(input, scale, output);
        TensorPrimitives.Multiply(output, weight, output);
    }

    /// <summary>
    /// Normalises <paramref name="rows"/> consecutive rows of <c>weight.Length</c> values on <paramref name="pool"/>;
    /// <paramref name="output"/> may be exactly <paramref name="input"/> but must not overlap it otherwise.
    /// </summary>
    public static void NormalizeRows(WorkerPool pool, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, float epsilon, Span<float> output, int rows)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        int width = weight.Length;
        long needed = (long)rows * width;
        if (width == 0 || input.Length < needed || output.Length < needed)
        {
            throw new ArgumentException($"RMS norm of {rows} rows of {width}: input {input.Length}, output {output.Length}.");
        }

        if (output.Overlaps(input, out int offset) && offset != 0)
        {
            throw new ArgumentException("The output partly overlaps the input.", nameof(output));
        }

        if (rows <= RowsPerTask)
        {
            for (int row = 0; row < rows; row++)
            {
                Normalize(input.Slice(row * width, width), weight, epsilon, output.Slice(row * width, width));
            }

            return;
        }

        fixed (float* pi = input, pw = weight, po = output)
        {
            pool.For((rows + RowsPerTask - 1) / RowsPerTask, new RowsTask(pi, pw, po, width, rows, epsilon));
        }
    }

    /// <summary>Reference twin of <see cref="Normalize"/>: plain loops, double accumulation.</summary>
    internal static void NormalizeScalar(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, float epsilon, Span<float> output)
    {
        Check(input, weight, output);
        double squares = 0;
        for (int i = 0; i < input.Length; i++)
        {
            squares += (double)input[i] * input[i];
        }

        double scale = 1.0 / Math.Sqrt((squares / input.Length) + epsilon);
        for (int i = 0; i < input.Length; i++)
        {
            output[i] = (float)(input[i] * scale * weight[i]);
        }
    }

    private static void Check(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, Span<float> output)
    {
        if (input.Length == 0 || weight.Length != input.Length || output.Length != input.Length)
        {
            throw new ArgumentException($"RMS norm lengths differ or are zero: input {input.Length}, weight {weight.Length}, output {output.Length}.");
        }
    }

    private readonly struct RowsTask(float* input, float* weight, float* output, int width, int rows, float epsilon) : IParallelBody
    {
        public void Invoke(int index, int workerIndex)
        {
            var w = new ReadOnlySpan<float>(weight, width);
            int end = Math.Min((index + 1) * RowsPerTask, rows);
            for (int row = index * RowsPerTask; row < end; row++)
            {
                long start = (long)row * width;
                Normalize(new ReadOnlySpan<float>(input + start, width), w, epsilon, new Span<float>(output + start, width));
            }
        }
    }
}
