using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models;
using EdgeGuard.Models.Deberta;

namespace EdgeGuard.Diagnostics;

/// <summary>
/// A golden fixture directory (<c>config.json</c>, <c>model.safetensors</c>, <c>cases.json</c>) of any registered
/// architecture run through the float32 engine and compared with its reference outputs.
/// </summary>
/// <remarks>
/// DeBERTa fixtures: logits are compared with <c>expected_logits_hf_bucket_rule</c> where a case has it (the engine follows the
/// Hugging Face bucket rule), else with <c>expected_logits</c>. Pooled output and hidden states are given only
/// under the original rule, so those cases are also run under the original rule to compare them (and their
/// <c>expected_logits</c>, reported separately).
/// </remarks>
public sealed class GoldenFixture : IDisposable
{
    private readonly ModelSource _model;
    private readonly List<GoldenCase> _cases;
    private readonly EncoderClassifier _classifier;
    private readonly Lazy<EncoderClassifier> _originalRuleClassifier;

    private GoldenFixture(string path, ModelSource model, WorkerPool pool, List<GoldenCase> cases, EncoderClassifier classifier)
    {
        FixturePath = path;
        _model = model;
        _cases = cases;
        _classifier = classifier;
        _originalRuleClassifier = new(() => DebertaClassifier.Load(
            model.Config as DebertaConfig ?? throw new ModelFileException($"{path}: a case gives expected_logits_hf_bucket_rule, which only DeBERTa fixtures have."),
            model.Weights, pool, RelativePositionRule.Original));
    }

    /// <summary>The fixture model's architecture (<c>model_type</c>).</summary>
    public string Architecture => _model.Config.ModelType;

    /// <summary>The fixture directory.</summary>
    public string FixturePath { get; }

    /// <summary>Case names in file order.</summary>
    public IReadOnlyList<string> CaseNames => [.. _cases.Select(c => c.Name)];

    /// <summary>Opens <paramref name="fixtureDirectory"/>, runs every case and returns the comparison.</summary>
    /// <exception cref="ModelFileException">A missing or malformed fixture file.</exception>
    public static GoldenFixtureReport Run(string fixtureDirectory, WorkerPool pool)
    {
        using GoldenFixture fixture = Open(fixtureDirectory, pool);
        return fixture.RunAll();
    }

    /// <summary>Loads the model and the cases of <paramref name="fixtureDirectory"/>.</summary>
    /// <exception cref="ModelFileException">A missing or malformed fixture file.</exception>
    public static GoldenFixture Open(string fixtureDirectory, WorkerPool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        if (!Directory.Exists(fixtureDirectory))
        {
            throw new ModelFileException($"{fixtureDirectory}: fixture directory not found.");
        }

        ModelSource model = ModelSource.Open(fixtureDirectory);
        try
        {
            string path = Path.GetFullPath(fixtureDirectory);
            List<GoldenCase> cases = ReadCases(Path.Combine(path, "cases.json"));
            EncoderClassifier classifier = model.LoadClassifier(pool);
            return new GoldenFixture(path, model, pool, cases, classifier);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Runs every case.</summary>
    public GoldenFixtureReport RunAll() => new(FixturePath, [.. _cases.Select(Run)]);

    /// <summary>Runs the case called <paramref name="name"/>.</summary>
    public GoldenCaseResult RunCase(string name) =>
        Run(_cases.Find(c => c.Name == name) ?? throw new ArgumentException($"{FixturePath}: no case named '{name}'.", nameof(name)));

    /// <inheritdoc />
    public void Dispose() => _model.Dispose();

    private GoldenCaseResult Run(GoldenCase c)
    {
        int hidden = _classifier.HiddenSize;
        int labels = _classifier.NumLabels;
        float[] logits = new float[c.Batch * labels];
        float[] pooled = new float[c.Batch * hidden];
        float[] states = new float[c.Batch * c.SeqLen * hidden];
        _classifier.Forward(c.InputIds, c.TokenTypeIds, c.ValidLengths, c.Batch, c.SeqLen, logits, pooled, states);
        double logitDelta = MaxDelta(logits, c.HfRuleLogits ?? c.Logits);
        double? originalRuleLogitDelta = null;

        if (c.HfRuleLogits is not null)
        {
            _originalRuleClassifier.Value.Forward(c.InputIds, c.TokenTypeIds, c.ValidLengths, c.Batch, c.SeqLen, logits, pooled, states);
            originalRuleLogitDelta = MaxDelta(logits, c.Logits);
        }

        double pooledDelta = MaxDelta(pooled, c.Pooled);
        double hiddenDelta = 0;
        for (int b = 0; b < c.Batch; b++)
        {
            double[][] expectedRows = c.HiddenStates[b];
            for (int position = 0; position < expectedRows.Length; position++)
            {
                ReadOnlySpan<float> actual = states.AsSpan(((b * c.SeqLen) + position) * hidden, hidden);
                hiddenDelta = Math.Max(hiddenDelta, MaxDelta(actual, expectedRows[position]));
            }
        }

        return new GoldenCaseResult(c.Name, c.Batch, c.SeqLen, logitDelta, pooledDelta, hiddenDelta, c.HfRuleLogits is not null, originalRuleLogitDelta);
    }

    private static double MaxDelta(ReadOnlySpan<float> actual, double[] expected)
    {
        if (actual.Length != expected.Length)
        {
            return double.PositiveInfinity;
        }

        double max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double delta = Math.Abs(actual[i] - expected[i]);

            // NaN must fail the comparison, not vanish in Math.Max.
            max = double.IsNaN(delta) ? double.PositiveInfinity : Math.Max(max, delta);
        }

        return max;
    }

    private static List<GoldenCase> ReadCases(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException($"{path}: cannot read the fixture cases ({e.Message}).", e);
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(bytes);
            var cases = new List<GoldenCase>();
            foreach (JsonElement element in document.RootElement.EnumerateArray())
            {
                cases.Add(GoldenCase.Read(element));
            }

            return cases;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new ModelFileException($"{path}: not a valid fixture cases file ({e.Message}).", e);
        }
    }

    private sealed record GoldenCase(
        string Name, int Batch, int SeqLen, int[] InputIds, int[] TokenTypeIds, int[] ValidLengths, double[] Logits, double[]? HfRuleLogits, double[] Pooled, double[][][] HiddenStates)
    {
        public static GoldenCase Read(JsonElement element)
        {
            string name = element.GetProperty("name").GetString() ?? throw new FormatException("a case has no name");
            int[][] ids = [.. element.GetProperty("input_ids").EnumerateArray().Select(row => row.EnumerateArray().Select(v => v.GetInt32()).ToArray())];
            int batch = ids.Length, seqLen = ids[0].Length;
            if (ids.Any(row => row.Length != seqLen))
            {
                throw new FormatException($"case '{name}' has rows of different lengths");
            }

            double[] hf = element.TryGetProperty("expected_logits_hf_bucket_rule", out JsonElement hfElement) ? Flatten(hfElement) : [];
            int[] types = element.TryGetProperty("token_type_ids", out JsonElement typesElement)
                ? [.. typesElement.EnumerateArray().SelectMany(row => row.EnumerateArray().Select(v => v.GetInt32()))]
                : [];
            if (types.Length != 0 && types.Length != batch * seqLen)
            {
                throw new FormatException($"case '{name}' has token_type_ids of another shape than input_ids");
            }

            return new GoldenCase(
                name,
                batch,
                seqLen,
                [.. ids.SelectMany(row => row)],
                types,
                [.. element.GetProperty("valid_lengths").EnumerateArray().Select(v => v.GetInt32())],
                Flatten(element.GetProperty("expected_logits")),
                hf.Length == 0 ? null : hf,
                Flatten(element.GetProperty("expected_pooled_output")),
                [.. element.GetProperty("expected_last_hidden_state").EnumerateArray().Select(row => row.EnumerateArray().Select(Flatten).ToArray())]);
        }

        private static double[] Flatten(JsonElement element) => element.ValueKind == JsonValueKind.Array
            ? [.. element.EnumerateArray().SelectMany(Flatten)]
            : [element.GetDouble()];
    }
}

/// <summary>The comparison of one fixture case.</summary>
/// <param name="Name">Case name.</param>
/// <param name="Rows">Batch rows.</param>
/// <param name="Length">Padded row length.</param>
/// <param name="MaxLogitDelta">Largest |engine − expected| logit (Hugging Face bucket rule where the case gives it).</param>
/// <param name="MaxPooledDelta">Largest |Δ| of the pooled output.</param>
/// <param name="MaxHiddenDelta">Largest |Δ| of the last hidden state over the positions the case gives.</param>
/// <param name="ComparedWithHfBucketRule">Whether <paramref name="MaxLogitDelta"/> is against <c>expected_logits_hf_bucket_rule</c>.</param>
/// <param name="OriginalRuleLogitDelta">For such cases, |Δ| of the original-rule run against <c>expected_logits</c>.</param>
public sealed record GoldenCaseResult(
    string Name, int Rows, int Length, double MaxLogitDelta, double MaxPooledDelta, double MaxHiddenDelta, bool ComparedWithHfBucketRule, double? OriginalRuleLogitDelta)
{
    /// <summary>Every compared value within <paramref name="tolerance"/>.</summary>
    public bool Passed(double tolerance = 1e-4) =>
        MaxLogitDelta <= tolerance && MaxPooledDelta <= tolerance && MaxHiddenDelta <= tolerance && (OriginalRuleLogitDelta ?? 0) <= tolerance;
}

/// <summary>The comparison of a whole fixture.</summary>
public sealed class GoldenFixtureReport(string fixturePath, IReadOnlyList<GoldenCaseResult> cases)
{
    public string FixturePath { get; } = fixturePath;

    public IReadOnlyList<GoldenCaseResult> Cases { get; } = cases;

    public double MaxLogitDelta => Cases.Max(c => Math.Max(c.MaxLogitDelta, c.OriginalRuleLogitDelta ?? 0));

    public double MaxPooledDelta => Cases.Max(c => c.MaxPooledDelta);

    public double MaxHiddenDelta => Cases.Max(c => c.MaxHiddenDelta);

    /// <summary>Every case within <paramref name="tolerance"/>.</summary>
    public bool Passed(double tolerance = 1e-4) => Cases.All(c => c.Passed(tolerance));

    /// <summary>A table for people: one line per case, then the maxima and the verdict.</summary>
    public string ToText(double tolerance = 1e-4)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"fixture {FixturePath}");
        text.AppendLine(CultureInfo.InvariantCulture, $"{"case",-28} {"shape",-9} {"|Δ logit|",10} {"|Δ pooled|",10} {"|Δ hidden|",10}  logits vs");
        foreach (GoldenCaseResult c in Cases)
        {
            string against = c.ComparedWithHfBucketRule
                ? $"hf rule (original rule {c.OriginalRuleLogitDelta:0.00e+00})"
                : "expected";
            text.AppendLine(CultureInfo.InvariantCulture, $"{c.Name,-28} {$"{c.Rows}x{c.Length}",-9} {c.MaxLogitDelta,10:0.00e+00} {c.MaxPooledDelta,10:0.00e+00} {c.MaxHiddenDelta,10:0.00e+00}  {against}{(c.Passed(tolerance) ? string.Empty : "  FAIL")}");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"{"max",-28} {string.Empty,-9} {MaxLogitDelta,10:0.00e+00} {MaxPooledDelta,10:0.00e+00} {MaxHiddenDelta,10:0.00e+00}");
        text.Append(CultureInfo.InvariantCulture, $"{(Passed(tolerance) ? "PASS" : "FAIL")} at tolerance {tolerance:0.##e+00}");
        return text.ToString();
    }
}
