using System.Numerics;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeGuard.Pruning;
using EdgeGuard.Testing;

namespace EdgeGuard.Tests.Pruning;

/// <summary>The mask rules of the training pipeline's antidote stage: rounding, ties, digests, and its row sampling.</summary>
public sealed class AntidoteMasksTests
{
    [Theory]
    [InlineData(0.07, 100, 7)] // the binary 0.07 times 100 lies above 7; the decimal does not
    [InlineData(0.1, 30, 3)]
    [InlineData(0.1, 32, 4)]
    [InlineData(0.25, 32, 8)]
    [InlineData(0.001, 40, 1)]
    [InlineData(1e-05, 10, 1)]
    [InlineData(0.15, 56, 9)]
    [InlineData(0.999, 3, 3)]
    public void PrunedPerRow_IsTheCeilingOfTheDecimalRatioTimesInputs(double ratio, int inputs, int expected)
    {
        Assert.True(0.07 * 100 > 7);
        Assert.Equal(expected, AntidoteMasks.PrunedPerRow(ratio, inputs));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void PrunedPerRow_RatioOutsideZeroToOne_Throws(double ratio) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => AntidoteMasks.PrunedPerRow(ratio, 10));

    [Fact]
    public void TopOfEachRow_TiesGoToTheLowerIndex()
    {
        bool[] mask = AntidoteMasks.TopOfEachRow([1.0, 2.0, 2.0, 2.0, 0.0], 1, 5, 2);
        Assert.Equal([false, true, true, false, false], mask);
    }

    [Fact]
    public void WandaScores_AreWeightMagnitudeTimesInputNorm_AndTheHighestOfEachRowGoes()
    {
        // Feature 0 saw 1, 3, 0 (sum of squares 10); feature 1 saw 0, -4, 2 (20).
        double[] scores = AntidoteMasks.WandaScores([0.5f, -1f, -2f, 0.25f], 2, 2, [10.0, 20.0]);
        Assert.Equal([0.5 * Math.Sqrt(10), 1.0 * Math.Sqrt(20), 2.0 * Math.Sqrt(10), 0.25 * Math.Sqrt(20)], scores);
        Assert.Equal([false, true, true, false], AntidoteMasks.TopOfEachRow(scores, 2, 2, 1));
        Assert.Equal([false, true, true, false], AntidoteMasks.TopOfEachRow(AntidoteMasks.MagnitudeScores([0.5f, -1f, -2f, 0.25f]), 2, 2, 1));
    }

    [Fact]
    public void Digest_PacksBitsFirstHighestAndPadsTheLastByte()
    {
        // 1011 0000 | 1 (padded: 1000 0000)
        bool[] mask = [true, false, true, true, false, false, false, false, true];
        string expected = Convert.ToHexStringLower(SHA256.HashData(new byte[] { 0xB0, 0x80 }));
        Assert.Equal(expected, AntidoteMasks.Digest(mask));
        Assert.Equal(
            Convert.ToHexStringLower(SHA256.HashData("abcd"u8.ToArray())),
            AntidoteMasks.CombinedDigest(["ab", "cd"]));
    }

    [Fact]
    public void PythonRandom_SamplesAsPythonDoes_InBothOfItsStrategies()
    {
        using JsonDocument golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.RepoRoot, "tests", "fixtures", "antidote", "golden.json")));
        int cases = 0;
        foreach (JsonElement c in golden.RootElement.GetProperty("sampling").EnumerateArray())
        {
            var seed = BigInteger.Parse(c.GetProperty("seed").GetRawText(), System.Globalization.CultureInfo.InvariantCulture);
            int[] sample = new PythonRandom(seed).Sample(c.GetProperty("population").GetInt32(), c.GetProperty("k").GetInt32());
            Array.Sort(sample);
            Assert.Equal(c.GetProperty("sorted_sample").EnumerateArray().Select(e => e.GetInt32()), sample);
            cases++;
        }

        Assert.True(cases >= 5);
    }
}
