using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace EdgeGuard.Pruning;

/// <summary>
/// Antidote's masks, by the rules of the training pipeline's <c>antidote</c> stage (its module docstring), so both give the
/// same bits: scores in float64, <c>ceil(dense_ratio × in_features)</c> weights per output row with the ratio read as the
/// decimal it is written as, the highest scores masked with ties going to the lower input index, and a SHA-256 of each
/// mask's bits in <c>[out, in]</c> row-major order packed eight to a byte, the first bit the highest (<c>numpy.packbits</c>).
/// </summary>
public static class AntidoteMasks
{
    /// <summary>
    /// <c>ceil(denseRatio × inFeatures)</c> with <paramref name="denseRatio"/> taken as the shortest decimal that reads back
    /// as it (0.07 × 100 is 7, though the binary 0.07 times 100 lies above 7).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The ratio is not in (0, 1), or <paramref name="inFeatures"/> is not positive.</exception>
    public static int PrunedPerRow(double denseRatio, int inFeatures)
    {
        if (!(denseRatio > 0 && denseRatio < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(denseRatio), denseRatio, "The dense ratio must lie strictly between 0 and 1.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);

        // "R" is the shortest round-trip spelling, as Python's repr: digits and a decimal exponent, read exactly.
        string text = denseRatio.ToString("R", CultureInfo.InvariantCulture);
        int exponentAt = text.IndexOfAny(['E', 'e']);
        int exponent = exponentAt < 0 ? 0 : int.Parse(text.AsSpan(exponentAt + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        string mantissa = exponentAt < 0 ? text : text[..exponentAt];
        int point = mantissa.IndexOf('.', StringComparison.Ordinal);
        if (point >= 0)
        {
            exponent -= mantissa.Length - point - 1;
            mantissa = mantissa.Remove(point, 1);
        }

        BigInteger numerator = BigInteger.Parse(mantissa, CultureInfo.InvariantCulture) * inFeatures;
        if (exponent >= 0)
        {
            return (int)(numerator * BigInteger.Pow(10, exponent));
        }

        BigInteger denominator = BigInteger.Pow(10, -exponent);
        return (int)((numerator + denominator - 1) / denominator);
    }

    /// <summary>Wanda's score <c>|W_ij| · √(Σ x_j²)</c> in float64 for an <c>[out, in]</c> weight.</summary>
    public static double[] WandaScores(ReadOnlySpan<float> weight, int outFeatures, int inFeatures, ReadOnlySpan<double> sumsOfSquares)
    {
        CheckShape(weight.Length, outFeatures, inFeatures);
        if (sumsOfSquares.Length != inFeatures)
        {
            throw new ArgumentException($"{sumsOfSquares.Length} input sums for {inFeatures} inputs.", nameof(sumsOfSquares));
        }

        var norms = new double[inFeatures];
        for (int j = 0; j < inFeatures; j++)
        {
            norms[j] = Math.Sqrt(sumsOfSquares[j]);
        }

        var scores = new double[weight.Length];
        for (int o = 0; o < outFeatures; o++)
        {
            for (int j = 0; j < inFeatures; j++)
            {
                int at = (o * inFeatures) + j;
                scores[at] = Math.Abs((double)weight[at]) * norms[j];
            }
        }

        return scores;
    }

    /// <summary>The magnitude control's score <c>|W_ij|</c> in float64.</summary>
    public static double[] MagnitudeScores(ReadOnlySpan<float> weight)
    {
        var scores = new double[weight.Length];
        for (int i = 0; i < weight.Length; i++)
        {
            scores[i] = Math.Abs((double)weight[i]);
        }

        return scores;
    }

    /// <summary>True at the <paramref name="perRow"/> highest scores of each row; between equal scores the lower input index goes first.</summary>
    public static bool[] TopOfEachRow(ReadOnlySpan<double> scores, int outFeatures, int inFeatures, int perRow)
    {
        CheckShape(scores.Length, outFeatures, inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(perRow);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(perRow, inFeatures);
        var mask = new bool[scores.Length];
        var order = new int[inFeatures];
        var row = new double[inFeatures];
        for (int o = 0; o < outFeatures; o++)
        {
            scores.Slice(o * inFeatures, inFeatures).CopyTo(row);
            for (int j = 0; j < inFeatures; j++)
            {
                order[j] = j;
            }

            // A total order (score descending, then index ascending) is what a stable descending sort gives.
            Array.Sort(order, (a, b) => row[a] != row[b] ? row[b].CompareTo(row[a]) : a.CompareTo(b));
            for (int k = 0; k < perRow; k++)
            {
                mask[(o * inFeatures) + order[k]] = true;
            }
        }

        return mask;
    }

    /// <summary>The SHA-256 (lower-case hex) of <paramref name="mask"/>'s bits, eight to a byte, the first the highest, the last byte padded with zeros.</summary>
    public static string Digest(ReadOnlySpan<bool> mask)
    {
        var packed = new byte[(mask.Length + 7) / 8];
        for (int i = 0; i < mask.Length; i++)
        {
            if (mask[i])
            {
                packed[i >> 3] |= (byte)(0x80 >> (i & 7));
            }
        }

        return Convert.ToHexStringLower(SHA256.HashData(packed));
    }

    /// <summary>The digest of a whole model's masks: the SHA-256 of the layers' hex digests joined in layer order.</summary>
    public static string CombinedDigest(IEnumerable<string> layerDigests)
    {
        ArgumentNullException.ThrowIfNull(layerDigests);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(string.Concat(layerDigests))));
    }

    private static void CheckShape(int length, int outFeatures, int inFeatures)
    {
        if ((long)outFeatures * inFeatures != length)
        {
            throw new ArgumentException($"{length} values are not [{outFeatures}, {inFeatures}].");
        }
    }
}
