using System.Text.Json;
using EdgeGuard.Testing;

namespace EdgeGuard.Onnx.Tests;

/// <summary>
/// The BERT and RoBERTa golden fixtures of <c>tests/fixtures</c> against ONNX Runtime. Each fixture's weights, as an ONNX
/// graph built operator by operator (training/edgeguard_train/bert_onnx_graph.py, written from the architecture, not a
/// trace of the PyTorch reference that computed the expected values), run through <see cref="OnnxSequenceClassifier"/> on
/// the fixture's token ids, must give the fixture's float64 logits within 1e-4.
/// </summary>
public sealed class BertFixtureOnnxTests
{
    private const float LogitTolerance = 1e-4f;

    private static readonly string[] Fixtures =
        ["bert/four-layer", "bert/head-dim-5", "bert/tiny-odd-heads", "roberta/tiny-odd-heads", "roberta/xlmr-head-dim-5"];

    public static TheoryData<string> FixtureNames() => [.. Fixtures];

    [Theory]
    [MemberData(nameof(FixtureNames))]
    public void Forward_FixtureCases_GiveTheExpectedLogits(string fixture)
    {
        string directory = FixtureDirectory(fixture);
        using var config = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(directory, "config.json")));
        var root = config.RootElement;
        bool roberta = root.GetProperty("model_type").GetString() is "roberta" or "xlm-roberta";
        int positions = root.GetProperty("max_position_embeddings").GetInt32();
        int pad = root.GetProperty("pad_token_id").GetInt32();
        int labels = root.GetProperty("id2label").EnumerateObject().Count();
        var options = new OnnxClassifierOptions
        {
            Threads = 2,
            MaxSequenceLength = roberta ? positions - pad - 1 : positions,
            VocabularySize = root.GetProperty("vocab_size").GetInt32(),
        };
        string[] parts = fixture.Split('/');
        string model = TestModels.BertFixtureModel(parts[0], parts[1]);
        using var classifier = OnnxSequenceClassifier.Open(model, options);
        Assert.Equal(labels, classifier.NumLabels);
        Assert.Equal(!roberta, classifier.FeedsTokenTypeIds);

        float worst = 0f;
        int rows = 0;
        using var cases = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(directory, "cases.json")));
        foreach (var testCase in cases.RootElement.EnumerateArray())
        {
            int[][] ids = Rows(testCase.GetProperty("input_ids"));
            int[][] types = Rows(testCase.GetProperty("token_type_ids"));
            int[] lengths = [.. testCase.GetProperty("valid_lengths").EnumerateArray().Select(v => v.GetInt32())];
            int batch = ids.Length, seqLen = ids[0].Length;
            float[] logits = new float[batch * labels];
            classifier.Forward([.. ids.SelectMany(r => r)], [.. types.SelectMany(r => r)], lengths, batch, seqLen, logits);
            double[][] expected = [.. testCase.GetProperty("expected_logits").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray())];
            for (int b = 0; b < batch; b++)
            {
                for (int l = 0; l < labels; l++)
                {
                    worst = Math.Max(worst, (float)Math.Abs(logits[b * labels + l] - expected[b][l]));
                }
            }

            rows += batch;
        }

        TestContext.Current.SendDiagnosticMessage($"{fixture}: {rows} rows, max |Δ logit| ONNX Runtime vs float64 reference = {worst:E2}");
        Assert.True(rows > 0);
        Assert.True(worst <= LogitTolerance, $"{fixture}: max |Δ logit| {worst:E2} exceeds {LogitTolerance:E0}");
    }

    [Fact]
    public void Fixtures_EveryFixtureDirectory_IsCheckedHere()
    {
        string root = Path.Combine(RepoPaths.RepoRoot, "tests", "fixtures");
        string[] present = [.. new[] { "bert", "roberta" }
            .SelectMany(family => Directory.GetDirectories(Path.Combine(root, family)).Select(d => $"{family}/{Path.GetFileName(d)}"))
            .Order(StringComparer.Ordinal)];
        Assert.Equal(Fixtures, present);
    }

    private static string FixtureDirectory(string fixture) => Path.Combine(RepoPaths.RepoRoot, "tests", "fixtures", fixture);

    private static int[][] Rows(JsonElement array) =>
        [.. array.EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt32()).ToArray())];
}
