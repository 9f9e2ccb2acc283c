using EdgeGuard.Generation.Decoding;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Models;
using EdgeGuard.Testing;
using EdgeGuard.Tests.Bundle;
using EdgeGuard.Tests.Generation;
using EdgeGuard.Tests.Models;
using TempDirectory = EdgeGuard.Tests.ModelFiles.TempDirectory;

namespace EdgeGuard.Tests.Quantization;

/// <summary>
/// Mixed precision: an int8 model with some linear layers kept in float32 (<see cref="Int8Plan"/>), chosen by name at
/// conversion, stored as float32 in the int8 bundle and run so from it.
/// </summary>
public sealed class MixedPrecisionTests : IClassFixture<MixedPrecisionTests.BertDirectory>
{
    private static readonly WorkerPool Pool = SharedModels.Pool;
    private static readonly int[] Prompt = [3, 17, 42, 5, 9, 7];
    private readonly string BertFixture;

    public MixedPrecisionTests(BertDirectory bert) => BertFixture = bert.Path;

    [Theory]
    [InlineData("bert.encoder.layer.3.output.dense", "bert.encoder.layer.3.output.dense", true)]
    [InlineData("bert.encoder.layer.3.output.dense", "bert.encoder.layer.3.output.dense2", false)]
    [InlineData("bert.encoder.layer.*.output.dense", "bert.encoder.layer.11.output.dense", true)]
    [InlineData("bert.encoder.layer.*.output.dense", "bert.encoder.layer.1.attention.output.dense", false)]
    [InlineData("**.attention.output.dense", "bert.encoder.layer.1.attention.output.dense", true)]
    [InlineData("**.attention.output.dense", "bert.encoder.layer.1.output.dense", false)]
    [InlineData("*", "pooler.dense", false)]
    [InlineData("**", "bert.pooler.dense", true)]
    [InlineData("model.layers.*.mlp.*", "model.layers.0.mlp.down_proj", true)]
    [InlineData("model.layers.*.mlp.*", "model.layers.0.self_attn.q_proj", false)]
    [InlineData("a*b*a", "aa", false)]
    [InlineData("a*b*a", "abba", true)]
    [InlineData("layer.1(0)", "layer.1(0)", true)]
    [InlineData("layer.1(0)", "layer.10", false)]
    public void Matches_IsTheWholeNameWithStarsWithinAPartAndDoubleStarsAcross(string pattern, string name, bool matches) =>
        Assert.Equal(matches, Int8Plan.Matches(pattern, name));

    [Fact]
    public void Bundle_WithLayersKeptInFloat_StoresThemAsFloatAndRunsAsTheMixedEngine()
    {
        using var temp = new TempDirectory();
        string[] keep = ["bert.encoder.layer.*.output.dense", "bert.encoder.layer.0.attention.self.key"];
        string path = temp.File("mixed.gguf");
        using (var directory = ModelSource.Open(BertFixture))
        {
            // A float16 word table is what the engine quantised at load uses (Q8_0 would differ in the embeddings).
            BundleConversion.Write(directory, path, Classifier(), int8: true, wordTable: WordTableFormat.F16, keepFloat: keep);
        }

        using (var bundle = ModelBundle.Open(path))
        {
            Assert.Equal(BundleFormat.PrecisionInt8, bundle.Precision);
            foreach (string layer in new[] { "bert.encoder.layer.1.output.dense", "bert.encoder.layer.0.attention.self.key" })
            {
                Assert.Equal(TensorDType.F32, bundle.Find(layer + ".weight")!.DType);
                Assert.DoesNotContain(bundle.IntegerTensors, t => t.Name == layer + ".qweight");
            }

            foreach (string layer in new[] { "bert.encoder.layer.1.attention.output.dense", "bert.encoder.layer.0.attention.self.query", "bert.encoder.layer.0.attention.self.value", "bert.pooler.dense" })
            {
                Assert.Null(bundle.Find(layer + ".weight"));
                Assert.Contains(bundle.IntegerTensors, t => t.Name == layer + ".qweight");
            }
        }

        float[] mixed, fromBundle, allInt8, float32;
        using (var directory = ModelSource.Open(BertFixture))
        {
            mixed = Logits(directory.LoadClassifier(Pool, ModelPrecision.Int8, PackedInt8Matrix.FullWeightLimit, keep));
            allInt8 = Logits(directory.LoadClassifier(Pool, ModelPrecision.Int8, PackedInt8Matrix.FullWeightLimit));
            float32 = Logits(directory.LoadClassifier(Pool));
        }

        using (var bundle = ModelSource.Open(path))
        {
            EncoderClassifier engine = bundle.LoadClassifier(Pool);
            Assert.Equal(ModelPrecision.Int8, engine.Precision);
            fromBundle = Logits(engine);
        }

        Assert.Equal(mixed, fromBundle);
        Assert.NotEqual(allInt8, mixed);
        Assert.All(Enumerable.Range(0, float32.Length), i => Assert.InRange(Math.Abs(mixed[i] - float32[i]), 0f, 0.05f));
    }

    [Fact]
    public void EveryLayerKeptInFloat_GivesTheFloatEngineButForTheHalfWordTable()
    {
        using var directory = ModelSource.Open(BertFixture);
        EncoderClassifier kept = directory.LoadClassifier(Pool, ModelPrecision.Int8, keepFloat: ["**"]);
        Assert.Equal(ModelPrecision.Int8, kept.Precision);
        Assert.Empty(kept.Int8Linears);
        float[] expected = Logits(directory.LoadClassifier(Pool)), actual = Logits(kept);
        Assert.All(Enumerable.Range(0, expected.Length), i => Assert.InRange(Math.Abs(actual[i] - expected[i]), 0f, 2e-3f));
    }

    [Fact]
    public void DebertaWithOneProjectionKeptInFloat_BundleRunsAsTheMixedEngine()
    {
        // DeBERTa's query, key and value share one quantised input: keeping the key in float32 leaves it to the value.
        using var temp = new TempDirectory();
        var plan = new Int8Plan(PackedInt8Matrix.FullWeightLimit, ["deberta.encoder.layer.*.attention.self.key_proj"]);
        HuggingFaceDirectory directory = SharedModels.Directory(SharedModels.Xsmall);
        var mixedEngine = EdgeGuard.Models.Deberta.DebertaClassifier.Load(directory.Config, directory.Weights, Pool, ModelPrecision.Int8, plan);
        Assert.Empty(plan.UnmatchedPatterns);
        string path = temp.File("mixed.gguf");
        string configJson = File.ReadAllText(Path.Combine(RepoPaths.Fixture(SharedModels.Xsmall), "config.json"));
        var contents = SampleBundle.Contents() with { ConfigJson = configJson, Precision = BundleFormat.PrecisionInt8 };
        BundleWriter.WriteInt8(path, contents, directory.Weights, mixedEngine.ToInt8Conversion());

        float[] mixed = Logits(mixedEngine);
        float[] allInt8 = Logits(EdgeGuard.Models.Deberta.DebertaClassifier.Load(directory.Config, directory.Weights, Pool, ModelPrecision.Int8, new Int8Plan(PackedInt8Matrix.FullWeightLimit)));
        using var bundle = ModelBundle.Open(path);
        Assert.Equal(TensorDType.F32, bundle.Find("deberta.encoder.layer.1.attention.self.key_proj.weight")!.DType);
        Assert.Null(bundle.Find("deberta.encoder.layer.1.attention.self.value_proj.weight"));
        Assert.Equal(mixed, Logits(EdgeGuard.Models.Deberta.DebertaClassifier.Load(directory.Config, bundle, Pool)));
        Assert.NotEqual(allInt8, mixed);
    }

    [Fact]
    public void DecoderWithItsFeedForwardKeptInFloat_BundleRunsAsTheMixedEngine()
    {
        using var copy = DecoderFixtures.CopyWithConfig("llama-gqa-tied", _ => { });
        File.WriteAllText(copy.File("tokenizer.json"), """{"version":"1.0","model":{"type":"BPE","vocab":{},"merges":[]}}""");
        string[] keep = ["model.layers.*.mlp.down_proj"];
        using var pool = new WorkerPool(1);
        float[] expected;
        using (var directory = ModelSource.Open(copy.Path))
        {
            BundleConversion.Write(directory, copy.File("model.gguf"), classifier: null, int8: true, keepFloat: keep);
            expected = DecoderFixtures.PrefillAndStepLogits(DecoderModel.Load(directory, pool, ModelPrecision.Int8, PackedInt8Matrix.FullWeightLimit, keep), Prompt);
        }

        using var bundle = ModelSource.Open(copy.File("model.gguf"));
        Assert.NotNull(bundle.Weights.Find("model.layers.0.mlp.down_proj.weight"));
        Assert.Null(bundle.Weights.Find("model.layers.0.mlp.up_proj.weight"));
        DecoderModel model = DecoderModel.Load(bundle, pool);
        Assert.Equal(ModelPrecision.Int8, model.Precision);
        Assert.Equal(expected, DecoderFixtures.PrefillAndStepLogits(model, Prompt));
    }

    [Fact]
    public void APatternThatNamesNoLayer_IsRefusedNamingItAndTheModelsLayers()
    {
        using var directory = ModelSource.Open(BertFixture);
        var error = Assert.Throws<ModelFileException>(() => directory.LoadClassifier(Pool, ModelPrecision.Int8, keepFloat: ["bert.encoder.layer.*.output.dense", "encoder.layers.*.fc2"]));
        Assert.Contains("\"encoder.layers.*.fc2\"", error.Message);
        Assert.DoesNotContain("\"bert.encoder.layer.*.output.dense\"", error.Message);
        Assert.Contains("\"bert.encoder.layer.0.attention.self.query\"", error.Message);
        Assert.Contains("\"bert.pooler.dense\"", error.Message);
    }

    [Fact]
    public void KeepingLayersInFloat_OutsideAnInt8Conversion_IsRefused()
    {
        using var temp = new TempDirectory();
        using (var directory = ModelSource.Open(BertFixture))
        {
            Assert.Throws<ArgumentException>(() => directory.LoadClassifier(Pool, ModelPrecision.Float32, keepFloat: ["**"]));
            Assert.Throws<ArgumentException>(() => BundleConversion.Write(directory, temp.File("f32.gguf"), Classifier(), int8: false, keepFloat: ["**"]));
            Assert.Throws<ArgumentException>(() => new Int8Plan(PackedInt8Matrix.FullWeightLimit, [" "]));
            BundleConversion.Write(directory, temp.File("int8.gguf"), Classifier(), int8: true);
        }

        using var bundle = ModelSource.Open(temp.File("int8.gguf"));
        var error = Assert.Throws<ModelFileException>(() => bundle.LoadClassifier(Pool, ModelPrecision.Int8, keepFloat: ["**"]));
        Assert.Contains("quantised already", error.Message);
    }

    private static BundleClassifier Classifier() => new(["safe", "unsafe"], 1, 0.5f);

    private static float[] Logits(EncoderClassifier classifier)
    {
        var random = new Random(11);
        int vocabulary = classifier.Config.VocabSize;
        int[] ids = [.. Enumerable.Range(0, 2 * 19).Select(_ => random.Next(vocabulary))];
        float[] logits = new float[2 * classifier.NumLabels];
        classifier.Forward(ids, [19, 11], 2, 19, logits);
        return logits;
    }

    /// <summary>A small random BERT classifier as a Hugging Face directory, with a real uncased WordPiece vocabulary.</summary>
    public sealed class BertDirectory : IDisposable
    {
        private readonly TempDirectory _root = new();

        public BertDirectory()
        {
            Path = _root.File("bert");
            Tooling.SyntheticModel.Write(
                Tooling.ModelShape.Get("bert-tiny"), System.IO.Path.Combine(RepoPaths.RepoRoot, "tests", "data", "tokenizers", "bert-uncased-minilm"), Path, vocabSize: null, seed: 7);
        }

        public string Path { get; }

        public void Dispose() => _root.Dispose();
    }
}
