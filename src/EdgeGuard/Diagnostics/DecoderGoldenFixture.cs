using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeGuard.Generation.Decoding;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models;

namespace EdgeGuard.Diagnostics;

/// <summary>
/// A decoder golden fixture (<c>config.json</c>, <c>model.safetensors</c>, <c>cases.json</c> of a decoder architecture)
/// run through the engine and compared with its reference: logits at every valid position of right-padded rows, and
/// greedy continuations (lowest id on ties) decoded through the KV cache.
/// </summary>
/// <remarks>
/// Each row of a logits case runs alone in a fresh conversation: with causal attention and positions counted from each
/// row's first token, a valid position's logits do not depend on the padding after it, so padded positions are not run.
/// A greedy continuation feeds back the engine's own tokens, as generation does; agreement is the length of the common prefix.
/// </remarks>
public sealed class DecoderGoldenFixture : IDisposable
{
    private readonly ModelSource _source;
    private readonly List<DecoderGoldenCase> _cases;

    private DecoderGoldenFixture(string path, ModelSource source, DecoderModel model, List<DecoderGoldenCase> cases)
    {
        FixturePath = path;
        _source = source;
        Model = model;
        _cases = cases;
    }

    /// <summary>The fixture directory.</summary>
    public string FixturePath { get; }

    /// <summary>The loaded model.</summary>
    public DecoderModel Model { get; }

    /// <summary>Case names in file order.</summary>
    public IReadOnlyList<string> CaseNames => [.. _cases.Select(c => c.Name)];

    /// <summary>Whether <paramref name="fixtureDirectory"/>'s <c>config.json</c> names a decoder architecture.</summary>
    public static bool Holds(string fixtureDirectory)
    {
        string config = Path.Combine(fixtureDirectory, HuggingFaceDirectory.ConfigFileName);
        if (!File.Exists(config))
        {
            return false;
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(config));
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("model_type", out JsonElement type)
                && type.ValueKind == JsonValueKind.String
                && ModelArchitectures.Find(type.GetString()) is { IsDecoder: true };
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            // Not readable as a decoder fixture; opening it reports why.
            return false;
        }
    }

    /// <summary>Opens <paramref name="fixtureDirectory"/>, runs every case in <paramref name="precision"/> and returns the comparison.</summary>
    /// <exception cref="ModelFileException">A missing or malformed fixture file.</exception>
    public static DecoderFixtureReport Run(string fixtureDirectory, WorkerPool pool, ModelPrecision precision = ModelPrecision.Float32)
    {
        using DecoderGoldenFixture fixture = Open(fixtureDirectory, pool, precision);
        return fixture.RunAll();
    }

    /// <summary>Loads the model and the cases of <paramref name="fixtureDirectory"/>.</summary>
    /// <exception cref="ModelFileException">A missing or malformed fixture file, or a model that is not a decoder.</exception>
    public static DecoderGoldenFixture Open(string fixtureDirectory, WorkerPool pool, ModelPrecision precision = ModelPrecision.Float32)
    {
        ArgumentNullException.ThrowIfNull(pool);
        if (!Directory.Exists(fixtureDirectory))
        {
            throw new ModelFileException($"{fixtureDirectory}: fixture directory not found.");
        }

        ModelSource source = ModelSource.Open(fixtureDirectory);
        try
        {
            string path = Path.GetFullPath(fixtureDirectory);
            List<DecoderGoldenCase> cases = ReadCases(Path.Combine(path, "cases.json"));
            DecoderModel model = DecoderModel.Load(source, pool, precision);
            return new DecoderGoldenFixture(path, source, model, cases);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>Runs every case.</summary>
    public DecoderFixtureReport RunAll()
    {
        DecoderSession session = Model.CreateSession();
        return new(FixturePath, Model.Precision, [.. _cases.Select(c => Run(c, session))]);
    }

    /// <summary>Runs the case called <paramref name="name"/>.</summary>
    public DecoderCaseResult RunCase(string name) =>
        Run(_cases.Find(c => c.Name == name) ?? throw new ArgumentException($"{FixturePath}: no case named '{name}'.", nameof(name)), Model.CreateSession());

    /// <summary>The greedy continuation of <paramref name="prompt"/>: <paramref name="count"/> tokens, each the lowest id of the largest logit.</summary>
    public static int[] Greedy(DecoderSession session, ReadOnlySpan<int> prompt, int count)
    {
        ArgumentNullException.ThrowIfNull(session);
        var tokens = new int[count];
        session.Reset();
        ReadOnlySpan<float> logits = session.Prefill(prompt);
        for (int i = 0; i < count; i++)
        {
            tokens[i] = ArgMax(logits);
            if (i + 1 < count)
            {
                logits = session.Step(tokens[i]);
            }
        }

        return tokens;
    }

    /// <inheritdoc />
    public void Dispose() => _source.Dispose();

    private static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
        {
            // strictly greater: the lowest id wins a tie; NaN never wins
            if (logits[i] > logits[best])
            {
                best = i;
            }
        }

        return best;
    }

    private DecoderCaseResult Run(DecoderGoldenCase c, DecoderSession session)
    {
        if (c.Prompt is { } prompt)
        {
            int[] tokens = Greedy(session, prompt, c.ExpectedTokens!.Length);
            int agreeing = 0;
            while (agreeing < tokens.Length && tokens[agreeing] == c.ExpectedTokens[agreeing])
            {
                agreeing++;
            }

            return new DecoderCaseResult(c.Name, 1, prompt.Length, 0, tokens, c.ExpectedTokens.Length, agreeing);
        }

        int vocabulary = Model.VocabularySize;
        if (c.Logits.Length != (long)c.Rows.Length * c.Rows[0].Length * vocabulary)
        {
            throw new ModelFileException(
                $"{FixturePath}: case '{c.Name}' has {c.Logits.Length} expected logits, not rows × length × vocab_size = {c.Rows.Length} × {c.Rows[0].Length} × {vocabulary}.");
        }

        double max = 0;
        for (int b = 0; b < c.Rows.Length; b++)
        {
            int n = c.ValidLengths[b];
            var logits = new float[n * vocabulary];
            session.Reset();
            session.PrefillAllPositions(c.Rows[b].AsSpan(0, n), logits);
            ReadOnlySpan<double> expected = c.Logits.AsSpan(b * c.Rows[0].Length * vocabulary, n * vocabulary);
            for (int i = 0; i < logits.Length; i++)
            {
                double delta = Math.Abs(logits[i] - expected[i]);
                max = double.IsNaN(delta) ? double.PositiveInfinity : Math.Max(max, delta);
            }
        }

        return new DecoderCaseResult(c.Name, c.Rows.Length, c.Rows[0].Length, max, null, 0, 0);
    }

    private static List<DecoderGoldenCase> ReadCases(string path)
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
            return [.. document.RootElement.EnumerateArray().Select(DecoderGoldenCase.Read)];
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new ModelFileException($"{path}: not a valid decoder fixture cases file ({e.Message}).", e);
        }
    }

    private sealed record DecoderGoldenCase(string Name, int[][] Rows, int[] ValidLengths, double[] Logits, int[]? Prompt, int[]? ExpectedTokens)
    {
        public static DecoderGoldenCase Read(JsonElement element)
        {
            string name = element.GetProperty("name").GetString() ?? throw new FormatException("a case has no name");
            if (element.TryGetProperty("prompt", out JsonElement prompt))
            {
                int[] tokens = [.. element.GetProperty("expected_greedy_tokens").EnumerateArray().Select(v => v.GetInt32())];
                return new DecoderGoldenCase(name, [], [], [], [.. prompt.EnumerateArray().Select(v => v.GetInt32())], tokens);
            }

            int[][] rows = [.. element.GetProperty("input_ids").EnumerateArray().Select(row => row.EnumerateArray().Select(v => v.GetInt32()).ToArray())];
            if (rows.Length == 0 || rows.Any(row => row.Length != rows[0].Length))
            {
                throw new FormatException($"case '{name}' has no rows or rows of different lengths");
            }

            int[] lengths = [.. element.GetProperty("valid_lengths").EnumerateArray().Select(v => v.GetInt32())];
            if (lengths.Length != rows.Length || lengths.Any(n => n < 1 || n > rows[0].Length))
            {
                throw new FormatException($"case '{name}' has valid_lengths that do not fit its rows");
            }

            double[] logits = [.. element.GetProperty("expected_logits").EnumerateArray().SelectMany(row => row.EnumerateArray().SelectMany(p => p.EnumerateArray().Select(v => v.GetDouble())))];
            return new DecoderGoldenCase(name, rows, lengths, logits, null, null);
        }
    }
}

/// <summary>The comparison of one decoder fixture case.</summary>
/// <param name="Name">Case name.</param>
/// <param name="Rows">Batch rows (1 for a greedy case).</param>
/// <param name="Length">Padded row length, or the prompt's length.</param>
/// <param name="MaxLogitDelta">Largest |engine − expected| logit over every valid position (0 for a greedy case).</param>
/// <param name="GreedyTokens">The engine's greedy continuation, for a greedy case.</param>
/// <param name="ExpectedTokenCount">Tokens the reference continuation has.</param>
/// <param name="AgreeingTokens">Length of the common prefix of the two continuations.</param>
public sealed record DecoderCaseResult(string Name, int Rows, int Length, double MaxLogitDelta, int[]? GreedyTokens, int ExpectedTokenCount, int AgreeingTokens)
{
    /// <summary>Whether this is a greedy-continuation case.</summary>
    public bool IsGreedy => GreedyTokens is not null;

    /// <summary>Logits within <paramref name="tolerance"/>, or every greedy token the reference's.</summary>
    public bool Passed(double tolerance = 1e-4) => IsGreedy ? AgreeingTokens == ExpectedTokenCount : MaxLogitDelta <= tolerance;
}

/// <summary>The comparison of a whole decoder fixture.</summary>
public sealed class DecoderFixtureReport(string fixturePath, ModelPrecision precision, IReadOnlyList<DecoderCaseResult> cases)
{
    public string FixturePath { get; } = fixturePath;

    /// <summary>How the engine computed.</summary>
    public ModelPrecision Precision { get; } = precision;

    public IReadOnlyList<DecoderCaseResult> Cases { get; } = cases;

    public double MaxLogitDelta => Cases.Max(c => c.MaxLogitDelta);

    /// <summary>Greedy tokens that agree with the reference (common prefixes), over all greedy cases.</summary>
    public int AgreeingTokens => Cases.Sum(c => c.AgreeingTokens);

    /// <summary>Greedy tokens of the reference, over all greedy cases.</summary>
    public int ExpectedTokens => Cases.Sum(c => c.ExpectedTokenCount);

    /// <summary>Every case within <paramref name="tolerance"/>.</summary>
    public bool Passed(double tolerance = 1e-4) => Cases.All(c => c.Passed(tolerance));

    /// <summary>A table for people: one line per case, then the maximum, the greedy agreement and the verdict.</summary>
    public string ToText(double tolerance = 1e-4)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"fixture {FixturePath} ({(Precision == ModelPrecision.Int8 ? "int8" : "float32")})");
        text.AppendLine(CultureInfo.InvariantCulture, $"{"case",-24} {"shape",-9} {"|Δ logit|",10}  greedy tokens");
        foreach (DecoderCaseResult c in Cases)
        {
            string greedy = c.IsGreedy ? $"{c.AgreeingTokens}/{c.ExpectedTokenCount} agree" : "-";
            string delta = c.IsGreedy ? "-" : c.MaxLogitDelta.ToString("0.00e+00", CultureInfo.InvariantCulture);
            text.AppendLine(CultureInfo.InvariantCulture, $"{c.Name,-24} {$"{c.Rows}x{c.Length}",-9} {delta,10}  {greedy}{(c.Passed(tolerance) ? string.Empty : "  FAIL")}");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"{"max",-24} {string.Empty,-9} {MaxLogitDelta,10:0.00e+00}  {AgreeingTokens}/{ExpectedTokens} agree");
        text.Append(CultureInfo.InvariantCulture, $"{(Passed(tolerance) ? "PASS" : "FAIL")} at tolerance {tolerance:0.##e+00}");
        return text.ToString();
    }
}
