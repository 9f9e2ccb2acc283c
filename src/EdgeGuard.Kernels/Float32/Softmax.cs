using System.Numerics.Tensors;

namespace EdgeGuard.Kernels.Float32;

/// <summary>Row softmax with a key mask, the role of DeBERTa's XSoftmax.</summary>
public static class Softmax
{
    /// <summary>
    /// Softmax over the first <paramref name="validCount"/> values of <paramref name="row"/>, in place; the rest
    /// (masked keys) become exactly 0, so they contribute nothing to a following product with values.
    /// </summary>
    public static void MaskedRow(Span<float> row, int validCount)
    {
        CheckCount(row, validCount);
        Span<float> valid = row[..validCount];
        float max = TensorPrimitives.Max<float>(valid);
        TensorPrimitives.Subtract(valid, max, valid);
        TensorPrimitives.Exp(valid, valid);
        float sum = TensorPrimitives.Sum<float>(valid);
        TensorPrimitives.Multiply(valid, 1f / sum, valid);
        row[validCount..].Clear();
    }

    /// <summary>Reference twin of <see cref="MaskedRow"/>.</summary>
    internal static void MaskedRowScalar(Span<float> row, int validCount)
    {
        CheckCount(row, validCount);
        float max = float.NegativeInfinity;
        for (int i = 0; i < validCount; i++)
        {
            max = MathF.Max(max, row[i]);
        }

        double sum = 0;
        for (int i = 0; i < validCount; i++)
        {
            row[i] = MathF.Exp(row[i] - max);
            sum += row[i];
        }

        for (int i = 0; i < validCount; i++)
        {
            row[i] = (float)(row[i] / sum);
        }

        row[validCount..].Clear();
    }

    private static void CheckCount(Span<float> row, int validCount)
    {
        if (validCount < 1 || validCount > row.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(validCount), validCount, $"Between 1 and the row length {row.Length}: at least one key must be visible.");
        }
    }
}
