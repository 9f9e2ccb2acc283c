using EdgeGuard.Evaluation;

namespace EdgeGuard.Tests.Evaluation;

public sealed class ClassificationMetricsTests
{
    [Fact]
    public void Compute_KnownScores_GiveTheTextbookValues()
    {
        // average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) is 0.8333 in scikit-learn.
        var m = ClassificationMetrics.Compute([0.1f, 0.4f, 0.35f, 0.8f], [false, false, true, true], 0.5f);
        Assert.Equal((1, 0, 2, 1), (m.TruePositives, m.FalsePositives, m.TrueNegatives, m.FalseNegatives));
        Assert.Equal(0.75, m.Accuracy, 10);
        Assert.Equal(1.0, m.Precision, 10);
        Assert.Equal(0.5, m.Recall, 10);
        Assert.Equal(2.0 / 3.0, m.F1, 10);
        Assert.Equal(5.0 / 6.0, m.AveragePrecision, 10);
    }

    [Fact]
    public void Compute_TiedScores_FormOneThreshold()
    {
        var m = ClassificationMetrics.Compute([0.5f, 0.5f], [true, false], 0.5f);
        Assert.Equal(0.5, m.AveragePrecision, 10);
    }

    [Fact]
    public void Compute_NoPositivesOrNothingFlagged_IsZeroNotNaN()
    {
        var m = ClassificationMetrics.Compute([0.1f, 0.2f], [false, false], 0.5f);
        Assert.Equal(0, m.Precision);
        Assert.Equal(0, m.F1);
        Assert.Equal(0, m.AveragePrecision);
        Assert.Equal(1, m.Accuracy);
    }

    [Fact]
    public void Percentile_InterpolatesBetweenRanks()
    {
        Assert.Equal(2.5, LatencyStats.Percentile([4, 1, 3, 2], 50), 10);
        Assert.Equal(4, LatencyStats.Percentile([4, 1, 3, 2], 100), 10);
        Assert.True(double.IsNaN(LatencyStats.Percentile([], 50)));
    }
}
