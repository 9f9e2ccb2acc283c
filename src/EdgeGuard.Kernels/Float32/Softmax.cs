using System.Numerics;
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

        // exp(x − max) and its sum in one pass (an attention row is short: a call per pass would cost as much as the
        // pass); x − max ≤ 0 is what NonPositiveExp takes.
        int width = Vector<float>.Count, i = 0;
        var shift = new Vector<float>(max);
        Vector<float> sums = Vector<float>.Zero;
        for (; i + width <= validCount; i += width)
        {
            Vector<float> e = NonPositiveExp.Lanes(new Vector<float>(valid[i..]) - shift);
            e.CopyTo(valid[i..]);
            sums += e;
        }

        float sum = Vector.Sum(sums);
        for (; i < validCount; i++)
        {
            valid[i] = NonPositiveExp.Evaluate(valid[i] - max);
            sum += valid[i];
        }

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
