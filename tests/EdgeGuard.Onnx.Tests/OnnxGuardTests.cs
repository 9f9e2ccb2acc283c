using EdgeGuard.Tokenization;

namespace EdgeGuard.Onnx.Tests;

/// <summary>The Guard API over the ONNX backend: opening, verdicts, options, and the engine's own checks.</summary>
public sealed class OnnxGuardTests
{
    private static readonly GuardOptions TwoThreads = new() { Threads = 2 };

    [Fact]
    public void Open_ExportedDebertaModel_DescribesIt()
    {
        using var guard = OnnxGuard.Open(TestModels.Directory(TestModels.DebertaEdge), TwoThreads);
        var info = guard.Model;
        Assert.Equal(("onnx", "f32", 3, 128, 96, 8001), (info.Format, info.Precision, info.Layers, info.HiddenSize, info.MaxSequenceLength, info.VocabularySize));
        Assert.Equal(["safe", "unsafe"], info.Labels);
        Assert.Equal((1, 0.5f, 0.5f, 2, 96), (info.UnsafeLabel, info.Threshold, guard.Threshold, guard.Threads, guard.WindowTokens));
        Assert.IsType<DebertaTokenizer>(guard.Tokenizer);
    }

    [Fact]
    public void Open_FileOrItsDirectory_IsTheSameModel()
    {
        using var byDirectory = OnnxGuard.Open(TestModels.Directory(TestModels.DebertaEdge), TwoThreads);
        using var byFile = OnnxGuard.Open(TestModels.Model(TestModels.DebertaEdge), TwoThreads);
        Assert.Equal(byDirectory.Classify("How do I pick a lock?").UnsafeScore, byFile.Classify("How do I pick a lock?").UnsafeScore);
    }

    [Fact]
    public void Classify_PromptAndPair_GiveVerdictsWithTheModelsLabels()
    {
        using var guard = OnnxGuard.Open(TestModels.Directory(TestModels.DebertaEdge), TwoThreads);
        var prompt = guard.Classify("How do I bake sourdough bread at home?");
        var pair = guard.Classify("How do I bake sourdough bread at home?", "Mix flour, water and starter, then let it rise overnight.");
        foreach (var v in new[] { prompt, pair })
        {
            Assert.InRange(v.UnsafeScore, 0f, 1f);
            Assert.Equal(v.UnsafeScore >= guard.Threshold, v.Flagged);
            Assert.Equal(v.Flagged ? "unsafe" : "safe", v.Label);
            Assert.Equal(1, v.Windows);
        }

        Assert.Equal(guard.Tokenizer.Encode("How do I bake sourdough bread at home?").Length + 2, prompt.TokenCount);
        Assert.NotEqual(prompt.UnsafeScore, pair.UnsafeScore);
    }

    [Fact]
    public void ClassifyBatch_EqualsOneByOne()
    {
        using var guard = OnnxGuard.Open(TestModels.Directory(TestModels.DebertaEdge), TwoThreads);
        GuardInput[] inputs = [new("short"), new("a much longer prompt with many more words in it", "and a response"), new(string.Empty), new("mid length text here")];
        var batch = guard.ClassifyBatch(inputs);
        for (int i = 0; i < inputs.Length; i++)
        {
            Assert.Equal(guard.Classify(inputs[i].Prompt, inputs[i].Response).UnsafeScore, batch[i].UnsafeScore, 1e-5f);
        }
    }

    [Fact]
    public void Options_ThresholdUnsafeLabelAndTruncation_ApplyAsWithTheNativeEngine()
    {
        string text = string.Join(' ', Enumerable.Range(0, 300).Select(i => "word" + i));
        using var guard = OnnxGuard.Open(TestModels.Directory(TestModels.DebertaEdge), TwoThreads with { Threshold = 0.01f, UnsafeLabel = 0, LongInput = LongInputMode.Truncate, WindowTokens = 32 });
        var verdict = guard.Classify(text);
        Assert.Equal(0.01f, guard.Threshold);
        Assert.Equal(0, guard.Model.UnsafeLabel);
        Assert.True(verdict.Truncated);
        Assert.Equal(1, verdict.Windows);
        Assert.Equal(verdict.UnsafeScore >= 0.01f ? "safe" : "unsafe", verdict.Label);
    }

    [Fact]
    public void Open_QuantizedGraph_ReportsInt8()
    {
        using var guard = OnnxGuard.Open(TestModels.Directory(TestModels.Int8Probe));
        Assert.Equal("int8", guard.Model.Precision);
        Assert.InRange(guard.Classify("hello world").UnsafeScore, 0f, 1f);
        using var floatModel = OnnxGuard.Open(TestModels.Directory(TestModels.BertTiny));
        Assert.Equal("f32", floatModel.Model.Precision);
    }

    [Fact]
    public void Open_DebertaModelQuantizedByQuantizeOnnx_ReportsInt8AndAgreesWithFloat32()
    {
        using var f32 = OnnxGuard.Open(TestModels.Directory(TestModels.DebertaEdge), TwoThreads);
        using var int8 = OnnxGuard.Open(TestModels.Directory(TestModels.DebertaEdgeInt8), TwoThreads);
        Assert.Equal("int8", int8.Model.Precision);
        var inputs = ParityTests.DevelopmentRecords(64).Select(r => new GuardInput(r.Prompt, r.Response)).ToList();
        var expected = f32.ClassifyBatch(inputs);
        var actual = int8.ClassifyBatch(inputs);
        float worst = expected.Zip(actual, (e, a) => Math.Abs(e.UnsafeScore - a.UnsafeScore)).Max();
        int sameDecision = expected.Zip(actual, (e, a) => e.Flagged == a.Flagged).Count(same => same);
        TestContext.Current.SendDiagnosticMessage($"int8.onnx vs f32.onnx on {inputs.Count} development rows: max |Δ unsafe score| {worst:F4}, same decision {sameDecision}/{inputs.Count}");
        Assert.True(worst < 0.05f && sameDecision >= inputs.Count - 1, $"max |Δ| {worst}, same decision {sameDecision}/{inputs.Count}");
    }

    [Fact]
    public void Forward_IdOutsideTheVocabulary_IsAnArgumentError()
    {
        using var classifier = OpenDebertaClassifier();
        float[] logits = new float[2];
        var e = Assert.Throws<ArgumentException>(() => classifier.Forward([1, 8001, 2], new int[3], [3], 1, 3, logits));
        Assert.Contains("8001", e.Message);
        Assert.Throws<ArgumentException>(() => classifier.Forward([1, 5, 2], new int[3], [4], 1, 3, logits));
        Assert.Throws<ArgumentException>(() => classifier.Forward([1, 5, 2], new int[3], [3], 1, 3, new float[3]));
        Assert.Throws<ArgumentException>(() => classifier.Forward([1, 5, 2], new int[2], [3], 1, 3, logits));
    }

    [Fact]
    public void Forward_PaddingIdsAreNotRead()
    {
        using var classifier = OpenDebertaClassifier();
        float[] clean = new float[4], dirty = new float[4];
        classifier.Forward([1, 300, 400, 2, 1, 500, 2, 0], new int[8], [4, 3], 2, 4, clean);
        classifier.Forward([1, 300, 400, 2, 1, 500, 2, -7], [0, 0, 0, 0, 0, 0, 0, 9], [4, 3], 2, 4, dirty);
        Assert.Equal(clean, dirty);
    }

    [Fact]
    public void Forward_CancelledToken_ThrowsOperationCanceled()
    {
        using var classifier = OpenDebertaClassifier();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => classifier.Forward([1, 5, 2], new int[3], [3], 1, 3, new float[2], cancelled.Token));
        // The classifier stays usable afterwards.
        classifier.Forward([1, 5, 2], new int[3], [3], 1, 3, new float[2]);
    }

    [Fact]
    public void Forward_ConcurrentCallers_GetTheSameLogitsAsOneAtATime()
    {
        using var classifier = OpenDebertaClassifier();
        var random = new Random(3);
        var rows = Enumerable.Range(0, 24).Select(_ => Enumerable.Range(0, random.Next(3, 90)).Select(_ => random.Next(4, 8000)).ToArray()).ToArray();
        float[][] expected = [.. rows.Select(r => Logits(classifier, r))];
        float[][] actual = new float[rows.Length][];
        Parallel.For(0, rows.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => actual[i] = Logits(classifier, rows[i]));
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.Equal(expected[i], actual[i]);
        }
    }

    [Fact]
    public void Forward_RepeatedShape_AllocatesLittle()
    {
        using var classifier = OpenDebertaClassifier();
        int[] ids = [.. Enumerable.Range(0, 4 * 64).Select(i => 4 + (i * 37 % 7000))];
        int[] types = new int[4 * 64];
        int[] lengths = [64, 64, 50, 20];
        float[] logits = new float[8];
        classifier.Forward(ids, types, lengths, 4, 64, logits);
        classifier.Forward(ids, types, lengths, 4, 64, logits);
        long before = GC.GetAllocatedBytesForCurrentThread();
        const int Calls = 20;
        for (int i = 0; i < Calls; i++)
        {
            classifier.Forward(ids, types, lengths, 4, 64, logits);
        }

        long perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / Calls;
        TestContext.Current.SendDiagnosticMessage($"ONNX Forward [4, 64]: {perCall} bytes allocated per call on the calling thread");
        // Input tensors are reused; what remains is ONNX Runtime's own per-call bookkeeping.
        Assert.True(perCall < 1024, $"{perCall} bytes per call");
    }

    [Fact]
    public void Dispose_ThenClassify_Throws()
    {
        var guard = OnnxGuard.Open(TestModels.Directory(TestModels.BertTiny));
        guard.Dispose();
        guard.Dispose();
        Assert.Throws<ObjectDisposedException>(() => guard.Classify("hello"));
    }

    private static float[] Logits(OnnxSequenceClassifier classifier, int[] row)
    {
        float[] logits = new float[classifier.NumLabels];
        classifier.Forward(row, new int[row.Length], [row.Length], 1, row.Length, logits);
        return logits;
    }

    private static OnnxSequenceClassifier OpenDebertaClassifier() =>
        OnnxSequenceClassifier.Open(TestModels.Model(TestModels.DebertaEdge), new OnnxClassifierOptions { Threads = 2, MaxSequenceLength = 96, VocabularySize = 8001 });
}
