namespace EdgeGuard.Evaluation;

/// <summary>Percentiles of measured durations.</summary>
public static class LatencyStats
{
    /// <summary>The <paramref name="percentile"/> (0–100) of <paramref name="values"/> by linear interpolation between closest ranks; NaN when empty.</summary>
    public static double Percentile(ReadOnlySpan<double> values, double percentile)
    {
        if (values.IsEmpty)
        {
            return double.NaN;
        }

        double[] sorted = values.ToArray();
        Array.Sort(sorted);
        double rank = percentile / 100.0 * (sorted.Length - 1);
        int lower = (int)Math.Floor(rank);
        int upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + ((rank - lower) * (sorted[upper] - sorted[lower]));
    }
}
