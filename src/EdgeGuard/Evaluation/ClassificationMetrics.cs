namespace EdgeGuard.Evaluation;

/// <summary>Binary classification metrics with unsafe as the positive class.</summary>
/// <param name="AveragePrecision">Area under the precision-recall curve as average precision (the step-wise sum that scikit-learn's <c>average_precision_score</c> computes).</param>
public sealed record ClassificationMetrics(
    int Count, int TruePositives, int FalsePositives, int TrueNegatives, int FalseNegatives,
    double Accuracy, double Precision, double Recall, double F1, double AveragePrecision)
{
    /// <summary>Computes the metrics of <paramref name="scores"/> against <paramref name="positives"/> at <paramref name="threshold"/> (flagged when score ≥ threshold).</summary>
    public static ClassificationMetrics Compute(ReadOnlySpan<float> scores, ReadOnlySpan<bool> positives, float threshold)
    {
        if (scores.Length != positives.Length)
        {
            throw new ArgumentException("Scores and labels differ in length.", nameof(positives));
        }

        int tp = 0, fp = 0, tn = 0, fn = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            bool flagged = scores[i] >= threshold;
            if (positives[i])
            {
                if (flagged) { tp++; } else { fn++; }
            }
            else
            {
                if (flagged) { fp++; } else { tn++; }
            }
        }

        int n = scores.Length;
        double precision = tp + fp == 0 ? 0 : (double)tp / (tp + fp);
        double recall = tp + fn == 0 ? 0 : (double)tp / (tp + fn);
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        double accuracy = n == 0 ? 0 : (double)(tp + tn) / n;
        return new ClassificationMetrics(n, tp, fp, tn, fn, accuracy, precision, recall, f1, AveragePrecisionOf(scores, positives));
    }

    /// <summary>AP = Σ (Rₖ − Rₖ₋₁)·Pₖ over distinct score thresholds, highest first; 0 when there are no positives.</summary>
    private static double AveragePrecisionOf(ReadOnlySpan<float> scores, ReadOnlySpan<bool> positives)
    {
        int totalPositives = 0;
        foreach (bool p in positives)
        {
            totalPositives += p ? 1 : 0;
        }

        if (totalPositives == 0)
        {
            return 0;
        }

        int[] order = new int[scores.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        float[] keys = scores.ToArray();
        Array.Sort(keys, order);
        Array.Reverse(order);
        Array.Reverse(keys);

        double ap = 0, previousRecall = 0;
        int tp = 0, seen = 0;
        for (int i = 0; i < order.Length; i++)
        {
            seen++;
            tp += positives[order[i]] ? 1 : 0;
            // Equal scores form one threshold: only close the step after the last of them.
            if (i + 1 < order.Length && keys[i + 1] == keys[i])
            {
                continue;
            }

            double recall = (double)tp / totalPositives;
            ap += (recall - previousRecall) * ((double)tp / seen);
            previousRecall = recall;
        }

        return ap;
    }
}
