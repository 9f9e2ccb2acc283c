using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Deberta;
using EdgeGuard.Testing;
using EdgeGuard.Tests.ModelFiles;
using EdgeGuard.Models;

namespace EdgeGuard.Tests.Models;

public sealed class DebertaClassifierTests
{
    private const string Xsmall = SharedModels.Xsmall;

    [Fact]
    public void Properties_ComeFromTheConfig()
    {
        DebertaClassifier classifier = SharedModels.Classifier(Xsmall);
        Assert.Equal(2, classifier.NumLabels);
        Assert.Equal(512, classifier.MaxSequenceLength);
        Assert.Equal(384, classifier.Config.HiddenSize);
    }

    [Fact]
    public void Forward_PaddedRows_MatchUnpaddedRows()
    {
        DebertaClassifier classifier = SharedModels.Classifier(Xsmall);
        int[][] rows = [RandomIds(1, 37), RandomIds(2, 5), RandomIds(3, 1), RandomIds(4, 60)];
        int seqLen = rows.Max(r => r.Length) + 3;
        int[] ids = new int[rows.Length * seqLen];

        // Padding ids are never read, so even ids outside the vocabulary must not matter.
        Array.Fill(ids, -7);
        for (int b = 0; b < rows.Length; b++)
        {
            rows[b].CopyTo(ids, b * seqLen);
        }

        float[] batched = new float[rows.Length * 2];
        classifier.Forward(ids, rows.Select(r => r.Length).ToArray(), rows.Length, seqLen, batched, TestContext.Current.CancellationToken);
        for (int b = 0; b < rows.Length; b++)
        {
            float[] single = new float[2];
            classifier.Forward(rows[b], [rows[b].Length], 1, rows[b].Length, single, TestContext.Current.CancellationToken);
            Assert.Equal(single[0], batched[2 * b], 1e-6f);
            Assert.Equal(single[1], batched[(2 * b) + 1], 1e-6f);
        }
    }

    [Fact]
    public void Forward_LastHiddenState_PaddingPositionsAreZeroAndValidOnesMatchUnpadded()
    {
        DebertaClassifier classifier = SharedModels.Classifier(SharedModels.Tiny);
        int hidden = classifier.Config.HiddenSize;
        int[] ids = [1, 10, 20, 2, 0, 0, 1, 30, 2, 0, 0, 0];
        float[] states = new float[2 * 6 * hidden];
        classifier.Forward(ids, [4, 3], 2, 6, new float[4], new float[2 * hidden], states);
        Assert.All(states.AsSpan(4 * hidden, 2 * hidden).ToArray(), v => Assert.Equal(0f, v));
        Assert.All(states.AsSpan((6 + 3) * hidden, 3 * hidden).ToArray(), v => Assert.Equal(0f, v));

        float[] single = new float[3 * hidden];
        classifier.Forward([1, 30, 2], [3], 1, 3, new float[2], default, single);
        for (int i = 0; i < single.Length; i++)
        {
            Assert.Equal(single[i], states[(6 * hidden) + i], 1e-6f);
        }
    }

    [Theory]
    [InlineData(ModelPrecision.Float32)]
    [InlineData(ModelPrecision.Int8)]
    public void Forward_VerdictOnly_GivesTheBitsOfTheFullLastLayer(ModelPrecision precision)
    {
        // Without lastHiddenState the last layer computes token 0 only; with it, every token. Same logits, to the bit.
        HuggingFaceDirectory directory = SharedModels.Directory(Xsmall);
        var classifier = DebertaClassifier.Load(directory.Config, directory.Weights, SharedModels.Pool, precision);
        int hidden = classifier.Config.HiddenSize;
        int[] lengths = [70, 1, 33, 2];
        int seqLen = 70;
        int[] ids = new int[lengths.Length * seqLen];
        for (int b = 0; b < lengths.Length; b++)
        {
            RandomIds(20 + b, lengths[b]).CopyTo(ids, b * seqLen);
        }

        float[] verdictLogits = new float[2 * lengths.Length], verdictPooled = new float[lengths.Length * hidden];
        float[] fullLogits = new float[2 * lengths.Length], fullPooled = new float[lengths.Length * hidden];
        float[] states = new float[lengths.Length * seqLen * hidden];
        classifier.Forward(ids, lengths, lengths.Length, seqLen, verdictLogits, verdictPooled, default);
        classifier.Forward(ids, lengths, lengths.Length, seqLen, fullLogits, fullPooled, states);
        Assert.Equal(fullLogits, verdictLogits);
        Assert.Equal(fullPooled, verdictPooled);
        Assert.Contains(states, v => v != 0);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1000)]
    [InlineData(int.MaxValue)]
    public void Forward_TokenIdOutsideTheVocabulary_ThrowsArgumentException(int badId)
    {
        DebertaClassifier classifier = SharedModels.Classifier(Xsmall);
        int[] ids = [1, 5, badId, 2];
        var error = Assert.Throws<ArgumentException>(() => classifier.Forward(ids, [4], 1, 4, new float[2], TestContext.Current.CancellationToken));
        Assert.Contains("inputIds[2]", error.Message);
        Assert.Contains("[0, 1000)", error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void Forward_ValidLengthOutsideTheRow_ThrowsArgumentException(int length)
    {
        DebertaClassifier classifier = SharedModels.Classifier(Xsmall);
        Assert.Throws<ArgumentException>(() => classifier.Forward([1, 5, 6, 2], [length], 1, 4, new float[2], TestContext.Current.CancellationToken));
    }

    [Fact]
    public void Forward_MismatchedSpanLengths_ThrowArgumentException()
    {
        DebertaClassifier classifier = SharedModels.Classifier(Xsmall);
        Assert.Throws<ArgumentException>(() => classifier.Forward([1, 5, 6, 2], [4], 1, 4, new float[3], TestContext.Current.CancellationToken));
        Assert.Throws<ArgumentException>(() => classifier.Forward([1, 5, 6], [3], 1, 4, new float[2], TestContext.Current.CancellationToken));
        Assert.Throws<ArgumentException>(() => classifier.Forward([1, 5, 6, 2], [4, 4], 1, 4, new float[2], TestContext.Current.CancellationToken));
        Assert.Throws<ArgumentException>(() => classifier.Forward([1, 5, 6, 2], [4], 1, 4, new float[2], new float[5], default));
    }

    [Fact]
    public void Forward_Cancelled_ThrowsOperationCanceledException()
    {
        DebertaClassifier classifier = SharedModels.Classifier(Xsmall);
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => classifier.Forward([1, 5, 6, 2], [4], 1, 4, new float[2], cancellation.Token));
    }

    [Fact]
    public void Forward_ConcurrentCallers_GetTheSameLogitsAsOneCaller()
    {
        DebertaClassifier classifier = SharedModels.Classifier(Xsmall);
        int[][] inputs = [.. Enumerable.Range(0, 6).Select(i => RandomIds(100 + i, 20 + (7 * i)))];
        float[][] expected = [.. inputs.Select(ids =>
        {
            float[] logits = new float[2];
            classifier.Forward(ids, [ids.Length], 1, ids.Length, logits);
            return logits;
        })];

        var failures = new int[1];
        var threads = new Thread[4];
        for (int t = 0; t < threads.Length; t++)
        {
            threads[t] = new Thread(() =>
            {
                for (int round = 0; round < 5; round++)
                {
                    for (int i = 0; i < inputs.Length; i++)
                    {
                        float[] logits = new float[2];
                        classifier.Forward(inputs[i], [inputs[i].Length], 1, inputs[i].Length, logits);
                        if (Math.Abs(logits[0] - expected[i][0]) > 1e-6 || Math.Abs(logits[1] - expected[i][1]) > 1e-6)
                        {
                            Interlocked.Increment(ref failures[0]);
                        }
                    }
                }
            });
            threads[t].Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        Assert.Equal(0, failures[0]);
    }

    [Fact]
    public void Forward_SteadyState_DoesNotAllocateOnTheCallingThread()
    {
        using var pool = new WorkerPool(2);
        HuggingFaceDirectory directory = SharedModels.Directory(Xsmall);
        var classifier = DebertaClassifier.Load(directory.Config, directory.Weights, pool);
        int[] ids = RandomIds(7, 3 * 50);
        int[] lengths = [50, 31, 9];
        float[] logits = new float[6];
        classifier.Forward(ids, lengths, 3, 50, logits, TestContext.Current.CancellationToken);
        classifier.Forward(ids, lengths, 3, 50, logits, TestContext.Current.CancellationToken);
        long before = GC.GetAllocatedBytesForCurrentThread();
        classifier.Forward(ids, lengths, 3, 50, logits, TestContext.Current.CancellationToken);
        classifier.Forward(ids, [20, 50, 1], 3, 50, logits, TestContext.Current.CancellationToken);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Fact]
    public void Load_MissingTensor_NamesItAndItsShape()
    {
        HuggingFaceDirectory directory = SharedModels.Directory(Xsmall);
        var weights = new EditedTensorSource(directory.Weights).Remove("deberta.encoder.layer.1.attention.self.value_proj.bias");
        var error = Assert.Throws<ModelFileException>(() => DebertaClassifier.Load(directory.Config, weights, SharedModels.Pool));
        Assert.Contains("'deberta.encoder.layer.1.attention.self.value_proj.bias' (expected shape [384])", error.Message);
    }

    [Fact]
    public void Load_MisshapenTensor_NamesItWithExpectedAndActualShape()
    {
        HuggingFaceDirectory directory = SharedModels.Directory(Xsmall);
        var weights = new EditedTensorSource(directory.Weights).Set("deberta.encoder.rel_embeddings.weight", [512, 383]);
        var error = Assert.Throws<ModelFileException>(() => DebertaClassifier.Load(directory.Config, weights, SharedModels.Pool));
        Assert.Contains("'deberta.encoder.rel_embeddings.weight' has shape [512, 383], expected [512, 384]", error.Message);
    }

    [Fact]
    public void Load_WeightsForMoreLayersThanTheConfig_IsRefused()
    {
        HuggingFaceDirectory directory = SharedModels.Directory(Xsmall);
        var weights = new EditedTensorSource(directory.Weights).Set("deberta.encoder.layer.2.output.dense.bias", [384]);
        var error = Assert.Throws<ModelFileException>(() => DebertaClassifier.Load(directory.Config, weights, SharedModels.Pool));
        Assert.Contains("num_hidden_layers=2", error.Message);
    }

    [Fact]
    public void Load_UnusedTensors_AreIgnored()
    {
        HuggingFaceDirectory directory = SharedModels.Directory(SharedModels.Tiny);
        var weights = new EditedTensorSource(directory.Weights).Set("deberta.embeddings.position_embeddings.weight", [64, 32]).Set("lm_predictions.bias", [300]);
        Assert.Equal(2, DebertaClassifier.Load(directory.Config, weights, SharedModels.Pool).NumLabels);
    }

    [Theory]
    [InlineData("F16", 5e-3)]
    [InlineData("BF16", 3e-2)]
    public void Load_HalfPrecisionWeights_GiveLogitsCloseToFloat32(string dtype, double tolerance)
    {
        HuggingFaceDirectory reference = SharedModels.Directory(Xsmall);
        using var dir = new TempDirectory();
        File.Copy(Path.Combine(RepoPaths.Fixture(Xsmall), "config.json"), dir.File("config.json"));
        SafetensorsTestWriter.Convert(reference.Weights, dtype).Write(dir.File("model.safetensors"));

        using var converted = HuggingFaceDirectory.Open(dir.Path);
        Assert.All(converted.Weights.Tensors, t => Assert.Equal(Enum.Parse<TensorDType>(dtype), t.DType));
        var halfModel = DebertaClassifier.Load(converted.Config, converted.Weights, SharedModels.Pool);
        DebertaClassifier fullModel = SharedModels.Classifier(Xsmall);

        int[] ids = RandomIds(11, 40);
        float[] half = new float[2], full = new float[2];
        halfModel.Forward(ids, [40], 1, 40, half, TestContext.Current.CancellationToken);
        fullModel.Forward(ids, [40], 1, 40, full, TestContext.Current.CancellationToken);
        Assert.Equal(full[0], half[0], tolerance);
        Assert.Equal(full[1], half[1], tolerance);
        Assert.NotEqual(full[0], half[0]);
    }

    private static int[] RandomIds(int seed, int length)
    {
        var random = new Random(seed);
        int[] ids = new int[length];
        for (int i = 0; i < length; i++)
        {
            ids[i] = random.Next(4, 1000);
        }

        ids[0] = 1;
        ids[^1] = 2;
        return ids;
    }
}
