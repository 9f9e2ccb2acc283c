using EdgeGuard.ModelFiles;
using EdgeGuard.Models;
using EdgeGuard.Testing;

namespace EdgeGuard.Tests.ModelFiles;

public sealed class HuggingFaceDirectoryTests
{
    [Fact]
    public void Open_FixtureDirectory_ReadsConfigWeightsAndNoTokenizer()
    {
        using var directory = HuggingFaceDirectory.Open(RepoPaths.Fixture("tiny-buckets"));
        Assert.Contains("\"hidden_size\": 32", directory.ConfigJson);
        Assert.NotNull(directory.Weights.Find("classifier.weight"));
        Assert.Null(directory.FindFile("spm.model"));
    }

    [Fact]
    public void Open_WithSpmModel_ReportsItsPath()
    {
        using var dir = WriteModelDirectory();
        File.WriteAllBytes(dir.File("spm.model"), [0]);
        using var directory = HuggingFaceDirectory.Open(dir.Path);
        Assert.Equal(dir.File("spm.model"), directory.FindFile("spm.model"));
    }

    [Fact]
    public void Open_MissingDirectory_NamesIt()
    {
        string path = Path.Combine(Path.GetTempPath(), "edgeguard-missing-" + Guid.NewGuid().ToString("N"));
        var error = Assert.Throws<ModelFileException>(() => HuggingFaceDirectory.Open(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Open_MissingConfig_NamesConfigJson()
    {
        using var dir = WriteModelDirectory();
        File.Delete(dir.File("config.json"));
        var error = Assert.Throws<ModelFileException>(() => HuggingFaceDirectory.Open(dir.Path));
        Assert.Contains("config.json is missing", error.Message);
    }

    [Fact]
    public void Open_MissingWeights_NamesModelSafetensors()
    {
        using var dir = WriteModelDirectory();
        File.Delete(dir.File("model.safetensors"));
        var error = Assert.Throws<ModelFileException>(() => HuggingFaceDirectory.Open(dir.Path));
        Assert.Contains("model.safetensors is missing", error.Message);
    }

    [Fact]
    public void Open_OnlyPytorchWeights_SaysToConvert()
    {
        using var dir = WriteModelDirectory();
        File.Delete(dir.File("model.safetensors"));
        File.WriteAllBytes(dir.File("pytorch_model.bin"), [0]);
        var error = Assert.Throws<ModelFileException>(() => HuggingFaceDirectory.Open(dir.Path));
        Assert.Contains("convert pytorch_model.bin", error.Message);
    }

    [Fact]
    public void Open_UnsupportedConfig_IsRefusedNamingTheField()
    {
        using var dir = WriteModelDirectory();
        File.WriteAllText(dir.File("config.json"), File.ReadAllText(dir.File("config.json")).Replace("\"share_att_key\": true", "\"share_att_key\": false"));
        var error = Assert.Throws<ModelFileException>(() => ModelSource.Open(dir.Path));
        Assert.Contains("share_att_key=false", error.Message);
    }

    [Fact]
    public void Open_ConfigSizeTheWeightsContradict_IsRefusedBeforeAnythingIsSizedByIt()
    {
        using var dir = WriteModelDirectory();
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(dir.File("config.json")))!.AsObject();
        config.Remove("id2label");
        config.Remove("label2id");
        config["num_labels"] = 20_000_000;
        File.WriteAllText(dir.File("config.json"), config.ToJsonString());
        var error = Assert.Throws<ModelFileException>(() => ModelSource.Open(dir.Path));
        Assert.Equal(
            $"{dir.File("config.json")}: num_labels=20000000 does not match the weights: tensor 'classifier.weight' of {dir.File("model.safetensors")} has shape [2, 32], so num_labels=2.",
            error.Message);
    }

    /// <summary>A copy of the tiny fixture's config and weights, without a tokenizer.</summary>
    private static TempDirectory WriteModelDirectory()
    {
        var dir = new TempDirectory();
        File.Copy(Path.Combine(RepoPaths.Fixture("tiny-buckets"), "config.json"), dir.File("config.json"));
        File.Copy(Path.Combine(RepoPaths.Fixture("tiny-buckets"), "model.safetensors"), dir.File("model.safetensors"));
        return dir;
    }
}
