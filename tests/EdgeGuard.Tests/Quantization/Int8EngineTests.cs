using System.Text.Json;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Deberta;
using EdgeGuard.Testing;
using EdgeGuard.Tokenization;
using EdgeGuard.Tests.Models;
using EdgeGuard.Models;

namespace EdgeGuard.Tests.Quantization;

/// <summary>The int8 engine against the float32 reference on the shared fixture models.</summary>
public sealed class Int8EngineTests
{
    // |ΔP| allowed on the random-weight fixtures; the AVX2 kernel's 7-bit activations have twice the quantisation step.
    private static readonly double RandomWeightBound = Int8Gemm.ActivationLimit(Int8Gemm.Selected) < 127 ? 0.04 : 0.02;

    public static TheoryData<string> Fixtures() => [SharedModels.Tiny, SharedModels.Xsmall];

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Forward_FixtureCases_AgreeWithFloat32(string fixture)
    {
        HuggingFaceDirectory directory = SharedModels.Directory(fixture);
        DebertaClassifier reference = SharedModels.Classifier(fixture);
        DebertaClassifier int8 = DebertaClassifier.Load(directory.Config, directory.Weights, SharedModels.Pool, ModelPrecision.Int8);
        Assert.Equal(ModelPrecision.Int8, int8.Precision);
        var agreement = new Agreement();
        foreach ((int[] ids, int[] lengths, int batch, int seqLen) in ReadCases(fixture))
        {
            agreement.Add(reference, int8, ids, lengths, batch, seqLen);
        }

        TestContext.Current.SendDiagnosticMessage($"{fixture}: {agreement}");
        Assert.True(agreement.Rows > 0);

        // Random-weight fixture models put many rows near P = 0.5: a flip is allowed only within the observed |ΔP| of it.
        Assert.True(agreement.MaxProbabilityDelta < RandomWeightBound && agreement.FlipsOnlyAtTheBoundary, $"{fixture}: {agreement}");
    }

    [Fact]
    public void Forward_RandomSequences_AgreeWithFloat32()
    {
        // The 2-layer fixture model on 200 random token rows of 4..128 tokens.
        HuggingFaceDirectory directory = SharedModels.Directory(SharedModels.Xsmall);
        DebertaClassifier reference = SharedModels.Classifier(SharedModels.Xsmall);
        DebertaClassifier int8 = DebertaClassifier.Load(directory.Config, directory.Weights, SharedModels.Pool, ModelPrecision.Int8);
        var random = new Random(17);
        var agreement = new Agreement();
        for (int i = 0; i < 200; i++)
        {
            int length = random.Next(4, 129);
            int[] ids = new int[length];
            ids[0] = 1;
            ids[^1] = 2;
            for (int t = 1; t < length - 1; t++)
            {
                ids[t] = random.Next(3, directory.Config.VocabSize);
            }

            agreement.Add(reference, int8, ids, [length], 1, length);
        }

        TestContext.Current.SendDiagnosticMessage($"random rows: {agreement}");

        // Random weights put most rows within a few hundredths of P = 0.5, so the share of flips says little here (it moved
        // with the float32 GEMM's summation order between CPUs); what must hold is that only rows that close flip.
        Assert.True(agreement.MaxProbabilityDelta < RandomWeightBound && agreement.FlipsOnlyAtTheBoundary, agreement.ToString());
    }

    [Fact]
    public void DebertaTestModel_DevelopmentSet_Int8DecisionsAgreeWithFloat32()
    {
        using var directory = HuggingFaceDirectory.Open(RepoPaths.DebertaTestModel);
        var tokenizer = DebertaTokenizer.FromFile(directory.SpmModelPath!);
        var reference = DebertaClassifier.Load(directory.Config, directory.Weights, SharedModels.Pool);
        var int8 = DebertaClassifier.Load(directory.Config, directory.Weights, SharedModels.Pool, ModelPrecision.Int8);
        var agreement = new Agreement();
        foreach (string line in File.ReadLines(Path.Combine(RepoPaths.Shared, "datasets", "dev.jsonl")).Take(1000))
        {
            using var row = JsonDocument.Parse(line);
            string? response = row.RootElement.TryGetProperty("response", out JsonElement text) && text.ValueKind == JsonValueKind.String ? text.GetString() : null;
            int[] ids = tokenizer.EncodePair(row.RootElement.GetProperty("prompt").GetString()!, response, reference.MaxSequenceLength).Ids;
            agreement.Add(reference, int8, ids, [ids.Length], 1, ids.Length);
        }

        TestContext.Current.SendDiagnosticMessage($"DeBERTa test model, first {agreement.Rows} development rows: {agreement}");
        Assert.True(agreement.SameDecision >= 0.995 * agreement.Rows && agreement.MaxProbabilityDelta < 0.02, agreement.ToString());
    }

    [Fact]
    public void Forward_Int8SteadyState_DoesNotAllocateOnTheCallingThread()
    {
        using var pool = new WorkerPool(2);
        HuggingFaceDirectory directory = SharedModels.Directory(SharedModels.Xsmall);
        var classifier = DebertaClassifier.Load(directory.Config, directory.Weights, pool, ModelPrecision.Int8);
        var random = new Random(7);
        int[] ids = [.. Enumerable.Range(0, 150).Select(_ => random.Next(directory.Config.VocabSize))];
        float[] logits = new float[6];
        classifier.Forward(ids, [50, 31, 9], 3, 50, logits);
        classifier.Forward(ids, [50, 31, 9], 3, 50, logits);
        long before = GC.GetAllocatedBytesForCurrentThread();
        classifier.Forward(ids, [50, 31, 9], 3, 50, logits);
        classifier.Forward(ids, [20, 50, 1], 3, 50, logits);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Fact]
    public void Forward_Int8PaddedBatch_MatchesRowsOneByOne()
    {
        HuggingFaceDirectory directory = SharedModels.Directory(SharedModels.Xsmall);
        var classifier = DebertaClassifier.Load(directory.Config, directory.Weights, SharedModels.Pool, ModelPrecision.Int8);
        var random = new Random(3);
        int[] ids = [.. Enumerable.Range(0, 80).Select(_ => random.Next(directory.Config.VocabSize))];
        float[] batched = new float[4];
        classifier.Forward(ids, [40, 17], 2, 40, batched);
        float[] first = new float[2], second = new float[2];
        classifier.Forward(ids.AsSpan(0, 40), [40], 1, 40, first);
        classifier.Forward(ids.AsSpan(40, 17), [17], 1, 17, second);

        // Quantisation is per row of tokens, so packing rows together changes nothing.
        Assert.Equal([.. first, .. second], batched);
    }

    private static IEnumerable<(int[] Ids, int[] Lengths, int Batch, int SeqLen)> ReadCases(string fixture)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(RepoPaths.Fixture(fixture), "cases.json")));
        var cases = new List<(int[], int[], int, int)>();
        foreach (JsonElement c in document.RootElement.EnumerateArray())
        {
            int[][] rows = [.. c.GetProperty("input_ids").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt32()).ToArray())];
            int[] lengths = [.. c.GetProperty("valid_lengths").EnumerateArray().Select(v => v.GetInt32())];
            cases.Add(([.. rows.SelectMany(r => r)], lengths, rows.Length, rows[0].Length));
        }

        return cases;
    }

    /// <summary>Decision agreement and the largest |Δ P(label 1)| between two engines, with label 1 as "unsafe".</summary>
    private sealed class Agreement
    {
        public int Rows { get; private set; }

        public int SameDecision { get; private set; }

        public double MaxProbabilityDelta { get; private set; }

        /// <summary>Largest distance from 0.5 of the float32 P(label 1) of a row whose decision changed.</summary>
        public double FarthestFlip { get; private set; }

        public bool FlipsOnlyAtTheBoundary => FarthestFlip <= MaxProbabilityDelta;

        public void Add(DebertaClassifier reference, DebertaClassifier candidate, int[] ids, int[] lengths, int batch, int seqLen)
        {
            int labels = reference.NumLabels;
            float[] a = new float[batch * labels], b = new float[batch * labels];
            reference.Forward(ids, lengths, batch, seqLen, a);
            candidate.Forward(ids, lengths, batch, seqLen, b);
            for (int r = 0; r < batch; r++)
            {
                double[] pa = Softmax(a.AsSpan(r * labels, labels)), pb = Softmax(b.AsSpan(r * labels, labels));
                Rows++;
                if (Array.IndexOf(pa, pa.Max()) == Array.IndexOf(pb, pb.Max()))
                {
                    SameDecision++;
                }
                else
                {
                    FarthestFlip = Math.Max(FarthestFlip, Math.Abs(pa[^1] - 0.5));
                }

                MaxProbabilityDelta = Math.Max(MaxProbabilityDelta, Math.Abs(pa[^1] - pb[^1]));
            }
        }

        public override string ToString() => $"{SameDecision}/{Rows} same decision, max |ΔP| = {MaxProbabilityDelta:F5}, flips at most {FarthestFlip:F5} from P = 0.5";

        private static double[] Softmax(ReadOnlySpan<float> logits)
        {
            double max = double.NegativeInfinity;
            foreach (float v in logits)
            {
                max = Math.Max(max, v);
            }

            double[] p = new double[logits.Length];
            double sum = 0;
            for (int i = 0; i < p.Length; i++)
            {
                p[i] = Math.Exp(logits[i] - max);
                sum += p[i];
            }

            for (int i = 0; i < p.Length; i++)
            {
                p[i] /= sum;
            }

            return p;
        }
    }
}
