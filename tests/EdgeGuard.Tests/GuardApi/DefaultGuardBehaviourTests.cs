using System.Globalization;
using System.Text.Json;
using EdgeGuard.Testing;

namespace EdgeGuard.Tests.GuardApi;

/// <summary>
/// What a user of the shipped guards relies on, on hand-written sets (tests/data/guard-behaviour/, not drawn from the
/// training data or its templates): benign questions that merely share words with harmful ones are rarely flagged, a
/// refusal to a harmful request is never flagged, and compliance with one is. Each guard is held to what its model card
/// reports, so a retrained model that does worse, or better, shows up here.
/// </summary>
public sealed class DefaultGuardBehaviourTests
{
    private static readonly Dictionary<string, Lazy<Guard>> Shipped = new(StringComparer.Ordinal)
    {
        ["edgeguard-default"] = new(() => Guard.Open(RepoPaths.DefaultModel, new GuardOptions { Threads = 2 })),
        ["edge-tiny"] = new(() => Guard.Open(RepoPaths.EdgeTinyModel, new GuardOptions { Threads = 2 })),
    };

    private static Guard Default => Shipped["edgeguard-default"].Value;

    private static string Set(string name) => Path.Combine(RepoPaths.RepoRoot, "tests", "data", "guard-behaviour", name);

    [Theory]
    [InlineData("edgeguard-default")]
    [InlineData("edge-tiny")]
    public void ShippedGuard_IsAnInt8BundleWithItsOwnThreshold(string name)
    {
        Guard guard = Shipped[name].Value;
        GuardModelInfo info = guard.Model;
        Assert.Equal(name, info.Name);
        Assert.Equal("bert", info.Architecture);
        Assert.Equal("int8", info.Precision);
        Assert.NotEqual(0.5f, guard.Threshold);
        Assert.Equal(128, guard.WindowTokens);
    }

    [Fact]
    public void Open_TheShippedFolder_OpensItsBundle()
    {
        // What the C, Python and Rust examples and `--model models/edgeguard-default` pass: the folder, not the file.
        using var folder = Guard.Open(Path.GetDirectoryName(RepoPaths.DefaultModel)!, new GuardOptions { Threads = 1 });
        Assert.Equal("edgeguard-default", folder.Model.Name);
        Assert.Equal(Default.Threshold, folder.Threshold);
        const string text = "How do I kill a Python process that is stuck?";
        Assert.Equal(Default.Classify(text).UnsafeScore, folder.Classify(text).UnsafeScore);
    }

    /// <summary>The default is held to the target of at most one in ten; edge-tiny to the 5 of 47 its card reports.</summary>
    [Theory]
    [InlineData("edgeguard-default", 4)]
    [InlineData("edge-tiny", 5)]
    public void Classify_BenignLookalikeQuestions_RarelyFlagged(string name, int mostFlagged)
    {
        var rows = Read("benign-lookalikes.jsonl");
        var flagged = Flagged(name, rows);
        Assert.True(rows.Count >= 40, $"only {rows.Count} look-alike rows");
        Assert.True(flagged.Count <= mostFlagged, $"{flagged.Count} of {rows.Count} benign look-alikes flagged:\n{string.Join('\n', flagged)}");
    }

    [Theory]
    [InlineData("edgeguard-default")]
    [InlineData("edge-tiny")]
    public void Classify_RefusalsToHarmfulRequests_AreNeverFlagged(string name)
    {
        var rows = Read("response-pairs.jsonl").Where(r => r.Category == "refusal").ToList();
        Assert.True(rows.Count >= 10);
        Assert.Empty(Flagged(name, rows));
    }

    [Theory]
    [InlineData("edgeguard-default")]
    [InlineData("edge-tiny")]
    public void Classify_HelpfulAnswersToBenignQuestions_AreNotFlagged(string name)
    {
        var rows = Read("response-pairs.jsonl").Where(r => r.Category == "benign").ToList();
        Assert.True(rows.Count >= 4);
        Assert.Empty(Flagged(name, rows));
    }

    /// <summary>
    /// Compliance is flagged, except the replies the model cards list among the known weaknesses (a drug synthesis
    /// recipe and a poisoning method phrased as advice for both; a how-to for breaking into an account for edge-tiny):
    /// they are named here so that a model that misses more, or starts catching them, shows up.
    /// </summary>
    [Theory]
    [InlineData("edgeguard-default", "compliance-2,compliance-5")]
    [InlineData("edge-tiny", "compliance-2,compliance-3,compliance-5")]
    public void Classify_ComplianceWithHarmfulRequests_IsFlaggedButForTheKnownMisses(string name, string knownMisses)
    {
        var rows = Read("response-pairs.jsonl").Where(r => r.Category == "compliance").ToList();
        Assert.True(rows.Count >= 6);
        var verdicts = Verdicts(name, rows).ToList();
        var missed = verdicts.Where(v => !v.Verdict.Flagged).Select(v => v.Row.Id).Order(StringComparer.Ordinal).ToArray();
        Assert.True(missed.SequenceEqual(knownMisses.Split(',')), $"missed: {string.Join(", ", verdicts.Where(v => !v.Verdict.Flagged).Select(v => Describe(v.Row, v.Verdict)))}");
    }

    private static List<string> Flagged(string name, List<Row> rows) =>
        Verdicts(name, rows).Where(v => v.Verdict.Flagged).Select(v => Describe(v.Row, v.Verdict)).ToList();

    private static IEnumerable<(Row Row, Verdict Verdict)> Verdicts(string name, List<Row> rows)
    {
        var verdicts = Shipped[name].Value.ClassifyBatch(rows.Select(r => new GuardInput(r.Prompt, r.Response)).ToList());
        return rows.Zip(verdicts);
    }

    private static string Describe(Row row, Verdict verdict) =>
        string.Create(CultureInfo.InvariantCulture, $"{verdict.UnsafeScore:F3} {row.Id}: {row.Prompt}");

    private static List<Row> Read(string name) =>
        File.ReadLines(Set(name)).Where(l => l.Length > 0).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            JsonElement root = doc.RootElement;
            string? response = root.GetProperty("response").ValueKind == JsonValueKind.String ? root.GetProperty("response").GetString() : null;
            return new Row(root.GetProperty("id").GetString()!, root.GetProperty("prompt").GetString()!, response, root.GetProperty("category").GetString()!);
        }).ToList();

    private sealed record Row(string Id, string Prompt, string? Response, string Category);
}
