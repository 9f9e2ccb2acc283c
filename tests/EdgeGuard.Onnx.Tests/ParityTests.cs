using System.Text.Json;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models;
using EdgeGuard.Models.Deberta;
using EdgeGuard.Testing;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Onnx.Tests;

/// <summary>
/// ONNX Runtime's float32 logits against the built-in float32 engine on the same weights: the two shared DeBERTa-v3
/// fixtures (their golden token ids, padded batches and rows beyond max_position_embeddings included) and the default
/// model (development-set texts, as single rows and as padded batches, and whole verdicts through both guards).
/// </summary>
public sealed class ParityTests
{
    private const float LogitTolerance = 1e-4f;

    [Theory]
    [InlineData(TestModels.Tiny)]
    [InlineData(TestModels.Xsmall)]
    public void Forward_FixtureCases_MatchTheNativeFloat32Engine(string fixture)
    {
        using var pool = new WorkerPool(2);
        using var model = ModelSource.Open(RepoPaths.Fixture(fixture));
        EncoderClassifier native = model.LoadClassifier(pool);
        using var onnx = OnnxSequenceClassifier.Open(
            TestModels.Model(fixture),
            new OnnxClassifierOptions { Threads = 2, MaxSequenceLength = model.Config.MaxSequenceLength, VocabularySize = model.Config.VocabSize });

        float worst = 0f;
        int rows = 0;
        using var cases = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(RepoPaths.Fixture(fixture), "cases.json")));
        foreach (var testCase in cases.RootElement.EnumerateArray())
        {
            int[][] ids = [.. testCase.GetProperty("input_ids").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt32()).ToArray())];
            int[] lengths = [.. testCase.GetProperty("valid_lengths").EnumerateArray().Select(v => v.GetInt32())];
            int batch = ids.Length, seqLen = ids[0].Length;
            int[] flat = [.. ids.SelectMany(r => r)];
            worst = Math.Max(worst, MaxLogitDelta(native, onnx, flat, lengths, batch, seqLen));
            rows += batch;
        }

        Report($"{fixture}: {rows} rows, max |Δ logit| ONNX Runtime vs native float32 = {worst:E2}");
        Assert.True(worst <= LogitTolerance, $"{fixture}: max |Δ logit| {worst:E2} exceeds {LogitTolerance:E0}");
    }

    [Fact]
    public void Forward_DebertaModelOnDevelopmentTexts_MatchesTheNativeFloat32Engine()
    {
        using var pool = new WorkerPool(2);
        using var model = ModelSource.Open(TestModels.NativeDebertaEdge);
        EncoderClassifier native = model.LoadClassifier(pool);
        var tokenizer = (DebertaTokenizer)model.LoadTokenizer();
        using var onnx = OnnxSequenceClassifier.Open(
            TestModels.Model(TestModels.DebertaEdge),
            new OnnxClassifierOptions { Threads = 2, MaxSequenceLength = model.Config.MaxSequenceLength, VocabularySize = model.Config.VocabSize });

        var windows = DevelopmentRecords(64)
            .Select(r => tokenizer.EncodePair(r.Prompt, r.Response, model.Config.MaxSequenceLength).Ids)
            .ToList();
        float worst = 0f;
        foreach (int[] window in windows)
        {
            worst = Math.Max(worst, MaxLogitDelta(native, onnx, window, [window.Length], 1, window.Length));
        }

        // Batches of 8 right-padded to their longest row: ONNX Runtime sees the padding under attention_mask 0.
        for (int first = 0; first < windows.Count; first += 8)
        {
            var group = windows.Skip(first).Take(8).ToArray();
            int seqLen = group.Max(w => w.Length);
            int[] flat = new int[group.Length * seqLen];
            for (int b = 0; b < group.Length; b++)
            {
                group[b].CopyTo(flat, b * seqLen);
            }

            worst = Math.Max(worst, MaxLogitDelta(native, onnx, flat, [.. group.Select(w => w.Length)], group.Length, seqLen));
        }

        Report($"{TestModels.DebertaEdge}: {windows.Count} development rows (single and padded batches of 8), max |Δ logit| ONNX Runtime vs native float32 = {worst:E2}");
        Assert.True(worst <= LogitTolerance, $"max |Δ logit| {worst:E2} exceeds {LogitTolerance:E0}");
    }

    [Fact]
    public void ClassifyBatch_DebertaModel_GivesTheNativeGuardsVerdicts()
    {
        using var native = Guard.Open(TestModels.NativeDebertaEdge, new GuardOptions { Threads = 2 });
        using var onnx = OnnxGuard.Open(TestModels.Directory(TestModels.DebertaEdge), new GuardOptions { Threads = 2 });
        var inputs = DevelopmentRecords(48).Select(r => new GuardInput(r.Prompt, r.Response)).ToList();
        // Long enough for several sliding windows, as a prompt and as a response.
        string longText = string.Join(' ', DevelopmentRecords(30).Select(r => r.Prompt));
        inputs.Add(new GuardInput(longText));
        inputs.Add(new GuardInput("Summarise this.", longText));

        var expected = native.ClassifyBatch(inputs);
        var actual = onnx.ClassifyBatch(inputs);
        float worst = 0f;
        for (int i = 0; i < inputs.Count; i++)
        {
            Assert.Equal(expected[i].TokenCount, actual[i].TokenCount);
            Assert.Equal(expected[i].Windows, actual[i].Windows);
            Assert.Equal(expected[i].Label, actual[i].Label);
            Assert.Equal(expected[i].Flagged, actual[i].Flagged);
            worst = Math.Max(worst, Math.Abs(expected[i].UnsafeScore - actual[i].UnsafeScore));
        }

        Assert.True(expected[^1].Windows > 1 && expected[^2].Windows > 1, "the long inputs should need several windows");
        Report($"{TestModels.DebertaEdge}: {inputs.Count} verdicts, max |Δ unsafe score| ONNX guard vs native guard = {worst:E2}");
        Assert.True(worst <= 1e-5f, $"max |Δ unsafe score| {worst:E2}");
    }

    private static float MaxLogitDelta(EncoderClassifier native, OnnxSequenceClassifier onnx, int[] ids, int[] lengths, int batch, int seqLen)
    {
        float[] expected = new float[batch * native.NumLabels];
        float[] actual = new float[batch * onnx.NumLabels];
        native.Forward(ids, lengths, batch, seqLen, expected);
        onnx.Forward(ids, new int[ids.Length], lengths, batch, seqLen, actual);
        return expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
    }

    internal static IEnumerable<(string Prompt, string? Response)> DevelopmentRecords(int count)
    {
        foreach (string line in File.ReadLines(Path.Combine(RepoPaths.Shared, "datasets", "dev.jsonl")).Take(count))
        {
            using var record = JsonDocument.Parse(line);
            var root = record.RootElement;
            string? response = root.TryGetProperty("response", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
            yield return (root.GetProperty("prompt").GetString()!, response);
        }
    }

    private static void Report(string message) => TestContext.Current.SendDiagnosticMessage(message);
}
