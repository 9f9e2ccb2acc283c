using EdgeGuard.ModelFiles;

namespace EdgeGuard.Onnx.Tests;

/// <summary>Every way a model can be wrong ends in a <see cref="ModelFileException"/> that names the file and the problem.</summary>
public sealed class ModelFileErrorTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgeguard-onnx-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Open_MissingPath_SaysSo()
    {
        string path = Path.Combine(_directory, "absent.onnx");
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("no such ONNX model file or directory", e.Message);
    }

    [Fact]
    public void Open_DirectoryWithoutModelOnnx_NamesTheFileItLookedFor()
    {
        CopyBeside(TestModels.BertTiny);
        File.Copy(TestModels.Model(TestModels.BertTiny), Path.Combine(_directory, "model_quantized.onnx"));
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(_directory));
        Assert.Contains("no model.onnx", e.Message);
        Assert.Contains("model_quantized.onnx", e.Message);
    }

    [Fact]
    public void Open_EmptyFile_SaysItIsEmpty()
    {
        string path = WriteModel([]);
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void Open_TruncatedFile_SaysItIsTruncated()
    {
        byte[] whole = File.ReadAllBytes(TestModels.Model(TestModels.BertTiny));
        string path = WriteModel(whole[..(whole.Length / 2)]);
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Open_RandomBytes_IsRefusedAsNotAnOnnxModel(int seed)
    {
        byte[] noise = new byte[4096];
        new Random(seed).NextBytes(noise);
        string path = WriteModel(noise);
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("ONNX model", e.Message);
    }

    [Fact]
    public void Open_NotAClassifier_NamesTheExpectedAndTheActualInputs()
    {
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(TestModels.MalformedModel("not-a-classifier.onnx")));
        Assert.Contains("input 'x'", e.Message);
        Assert.Contains("expected int64 inputs input_ids and attention_mask", e.Message);
        Assert.Contains("x (float32 [batch, 3, 8, 8])", e.Message);
    }

    [Fact]
    public void Open_InputNamedIds_NamesTheMismatch()
    {
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(TestModels.MalformedModel("input-named-ids.onnx")));
        Assert.Contains("input 'ids'", e.Message);
        Assert.Contains("input_ids", e.Message);
        Assert.Contains("input-named-ids.onnx", e.Message);
    }

    [Fact]
    public void Open_NoLogitsOutput_ListsTheOutputsTheFileHas()
    {
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(TestModels.MalformedModel("no-logits-output.onnx")));
        Assert.Contains("no output 'logits'", e.Message);
        Assert.Contains("scores (float32 [batch, 2])", e.Message);
    }

    [Fact]
    public void Open_FloatInputIds_NamesTheElementType()
    {
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(TestModels.MalformedModel("float-input-ids.onnx")));
        Assert.Contains("input 'input_ids' has element type float32", e.Message);
        Assert.Contains("expected int64", e.Message);
    }

    [Fact]
    public void Open_FixedShape_AsksForDynamicAxes()
    {
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(TestModels.MalformedModel("fixed-shape.onnx")));
        Assert.Contains("fixed shape [1, 16]", e.Message);
        Assert.Contains("dynamic_axes", e.Message);
    }

    [Fact]
    public void Open_MissingConfig_SaysWhereItLookedAndWhatItIsNeededFor()
    {
        // One level down, so that the directory above (also searched) is this test's own.
        string model = Directory.CreateDirectory(Path.Combine(_directory, "model")).FullName;
        File.Copy(TestModels.Model(TestModels.BertTiny), Path.Combine(model, "model.onnx"));
        File.Copy(Path.Combine(TestModels.Directory(TestModels.BertTiny), "vocab.txt"), Path.Combine(model, "vocab.txt"));
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(model));
        Assert.Contains("no config.json beside it, in hf/ or in the directory above", e.Message);
        Assert.Contains("id2label", e.Message);
    }

    [Theory]
    [InlineData("int8.onnx", "hf")] // make bench-models: <shape>/int8.onnx beside <shape>/hf/
    [InlineData("onnx/model.onnx", ".")] // Hugging Face ONNX exports: onnx/model.onnx below config.json and the tokenizer
    public void Open_HuggingFaceFilesInAnotherDirectory_AreFound(string modelFile, string huggingFaceDirectory)
    {
        string hf = Directory.CreateDirectory(Path.Combine(_directory, huggingFaceDirectory)).FullName;
        foreach (string file in new[] { "config.json", "vocab.txt", "tokenizer_config.json" })
        {
            File.Copy(Path.Combine(TestModels.Directory(TestModels.BertTiny), file), Path.Combine(hf, file));
        }

        string model = Path.Combine(_directory, modelFile);
        Directory.CreateDirectory(Path.GetDirectoryName(model)!);
        File.Copy(TestModels.Model(TestModels.BertTiny), model);
        using var moved = OnnxGuard.Open(model);
        using var original = OnnxGuard.Open(TestModels.Directory(TestModels.BertTiny));
        Assert.Equal(["benign", "harmful"], moved.Model.Labels);
        Assert.Equal(original.Classify("how do i bake bread ?").UnsafeScore, moved.Classify("how do i bake bread ?").UnsafeScore);
    }

    [Fact]
    public void Open_DebertaWithoutSpmModel_NamesTheTokenizerFile()
    {
        // The fixture exports are DeBERTa-v3 graphs with a config but, like the fixtures, no spm.model.
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(TestModels.Directory(TestModels.Tiny)));
        Assert.Contains("spm.model is missing", e.Message);
    }

    [Fact]
    public void Open_BertWithoutVocabulary_NamesTheTokenizerFile()
    {
        File.Copy(TestModels.Model(TestModels.BertTiny), Path.Combine(_directory, "model.onnx"));
        File.Copy(Path.Combine(TestModels.Directory(TestModels.BertTiny), "config.json"), Path.Combine(_directory, "config.json"));
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(_directory));
        Assert.Contains("vocab.txt (or tokenizer.json) is missing", e.Message);
    }

    [Fact]
    public void Open_MoreLabelsThanLogits_IsRefused()
    {
        CopyBeside(TestModels.BertTiny);
        File.Copy(TestModels.Model(TestModels.BertTiny), Path.Combine(_directory, "model.onnx"));
        string config = File.ReadAllText(Path.Combine(_directory, "config.json"))
            .Replace("\"1\": \"harmful\"", "\"1\": \"harmful\", \"2\": \"spam\"", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(_directory, "config.json"), config);
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(_directory));
        Assert.Contains("3 labels are named but the model's 'logits' has 2 columns", e.Message);
    }

    [Fact]
    public void Open_VocabularyLargerThanTheEmbeddingTable_IsRefused()
    {
        CopyBeside(TestModels.BertTiny);
        File.Copy(TestModels.Model(TestModels.BertTiny), Path.Combine(_directory, "model.onnx"));
        File.AppendAllLines(Path.Combine(_directory, "vocab.txt"), ["extra", "words"]);
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(_directory));
        Assert.Contains("do not belong together", e.Message);
    }

    [Fact]
    public void Open_MalformedConfig_NamesTheFile()
    {
        CopyBeside(TestModels.BertTiny);
        File.Copy(TestModels.Model(TestModels.BertTiny), Path.Combine(_directory, "model.onnx"));
        File.WriteAllText(Path.Combine(_directory, "config.json"), "{\"model_type\": \"bert\", ");
        var e = Assert.Throws<ModelFileException>(() => OnnxGuard.Open(_directory));
        Assert.Contains("config.json: not valid JSON", e.Message);
    }

    private string WriteModel(byte[] bytes)
    {
        CopyBeside(TestModels.BertTiny);
        string path = Path.Combine(_directory, "model.onnx");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A valid config.json and vocab.txt, so that only the model file is at fault.</summary>
    private void CopyBeside(string model)
    {
        foreach (string file in new[] { "config.json", "vocab.txt", "tokenizer_config.json" })
        {
            File.Copy(Path.Combine(TestModels.Directory(model), file), Path.Combine(_directory, file), overwrite: true);
        }
    }
}
