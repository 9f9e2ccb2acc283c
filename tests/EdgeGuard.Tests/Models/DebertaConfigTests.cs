using System.Text.Json.Nodes;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Deberta;
using EdgeGuard.Testing;
using EdgeGuard.Tests.ModelFiles;

namespace EdgeGuard.Tests.Models;

public sealed class DebertaConfigTests
{
    private static string FixtureConfig(string fixture) => File.ReadAllText(Path.Combine(RepoPaths.Fixture(fixture), "config.json"));

    [Theory]
    [InlineData("tiny-buckets")]
    [InlineData("xsmall-2layer")]
    public void Parse_FixtureConfigs_ReadAsHuggingFaceWritesThem(string fixture)
    {
        DebertaConfig config = DebertaConfig.Parse(FixtureConfig(fixture), "config.json");
        config.Validate();
        Assert.Equal("deberta-v2", config.ModelType);
        Assert.Equal(["p2c", "c2p"], config.PosAttType);
        Assert.True(config.ShareAttKey);
        Assert.Equal(1e-7, config.LayerNormEps);
        Assert.Equal(config.MaxPositionEmbeddings, config.EffectiveMaxRelativePositions);
        Assert.Equal(2, config.NumLabels);
        Assert.Equal(["safe", "unsafe"], config.Labels);
    }

    [Fact]
    public void ToJson_ParsesBackToTheSameCanonicalJson()
    {
        DebertaConfig config = DebertaConfig.Parse(FixtureConfig("xsmall-2layer"), "config.json");
        string json = config.ToJson();
        DebertaConfig again = DebertaConfig.Parse(json, "bundle");
        again.Validate();
        Assert.Equal(json, again.ToJson());
        Assert.Contains("\"pos_att_type\":[\"p2c\",\"c2p\"]", json);
        Assert.Contains("\"id2label\":{\"0\":\"safe\",\"1\":\"unsafe\"}", json);
    }

    [Fact]
    public void Parse_AbsentFields_TakeHuggingFaceDefaults()
    {
        DebertaConfig config = DebertaConfig.Parse("{\"model_type\":\"deberta-v2\"}", "config.json");
        Assert.Equal(128100, config.VocabSize);
        Assert.False(config.RelativeAttention);
        Assert.True(config.PositionBiasedInput);
        Assert.Equal("none", config.NormRelEbd);
        Assert.Equal(["LABEL_0", "LABEL_1"], config.Labels);
    }

    public static TheoryData<string, string, string> UnsupportedFields() => new()
    {
        { "model_type", "\"bert\"", "model_type=\"bert\"" },
        { "relative_attention", "false", "relative_attention=false" },
        { "position_buckets", "-1", "position_buckets=-1" },
        { "position_buckets", "0", "position_buckets=0" },
        { "share_att_key", "false", "share_att_key=false is not supported (unshared position projections)" },
        { "pos_att_type", "[\"p2c\", \"c2p\", \"p2p\"]", "pos_att_type=[\"p2c\", \"c2p\", \"p2p\"]" },
        { "pos_att_type", "\"p2c|c2p|p2p\"", "(p2p)" },
        { "pos_att_type", "\"c2p\"", "pos_att_type=[\"c2p\"]" },
        { "pos_att_type", "null", "pos_att_type=null" },
        { "norm_rel_ebd", "\"none\"", "norm_rel_ebd=\"none\"" },
        { "position_biased_input", "true", "position_biased_input=true" },
        { "conv_kernel_size", "3", "conv_kernel_size=3" },
        { "hidden_act", "\"gelu_new\"", "hidden_act=\"gelu_new\"" },
        { "pooler_hidden_act", "\"tanh\"", "pooler_hidden_act=\"tanh\"" },
        { "hidden_size", "33", "hidden_size=33 is not divisible by num_attention_heads=2" },
        { "num_hidden_layers", "0", "num_hidden_layers=0" },
        { "vocab_size", "-5", "vocab_size=-5" },
        { "type_vocab_size", "2", "type_vocab_size=2" },
        { "num_labels", "3", "num_labels=3 disagrees with id2label" },
        { "attention_head_size", "8", "attention_head_size=8" },
        { "embedding_size", "16", "embedding_size=16" },
        { "pooler_hidden_size", "16", "pooler_hidden_size=16" },
        { "layer_norm_eps", "0", "layer_norm_eps=0" },
        { "max_relative_positions", "5", "max_relative_positions=5" },
        { "id2label", "{\"0\": \"safe\", \"2\": \"unsafe\"}", "id2label has the keys [\"0\", \"2\"] but must have the keys 0..1 (no \"1\")" },
    };

    [Theory]
    [MemberData(nameof(UnsupportedFields))]
    public void Validate_UnsupportedField_IsRefusedNamingFieldAndValue(string field, string value, string expectedMessage)
    {
        using var dir = new TempDirectory();
        string path = WriteModifiedConfig(dir, field, value);
        DebertaConfig config = DebertaConfig.Load(path);
        var error = Assert.Throws<ModelFileException>(config.Validate);
        Assert.StartsWith(path + ": ", error.Message);
        Assert.Contains(expectedMessage, error.Message);
    }

    [Theory]
    [InlineData("conv_kernel_size", "0")]
    [InlineData("pos_att_type", "\" C2P | p2c \"")]
    [InlineData("max_relative_positions", "1024")]
    [InlineData("num_labels", "2")]
    public void Validate_EquivalentSpellings_AreAccepted(string field, string value)
    {
        using var dir = new TempDirectory();
        DebertaConfig.Load(WriteModifiedConfig(dir, field, value)).Validate();
    }

    [Fact]
    public void Validate_PositionBucketsMissing_IsRefused()
    {
        JsonObject json = JsonNode.Parse(FixtureConfig("tiny-buckets"))!.AsObject();
        json.Remove("position_buckets");
        var error = Assert.Throws<ModelFileException>(DebertaConfig.Parse(json.ToJsonString(), "c.json").Validate);
        Assert.Contains("position_buckets=-1", error.Message);
    }

    [Fact]
    public void Parse_FieldOfTheWrongType_NamesFileAndField()
    {
        var error = Assert.Throws<ModelFileException>(() => DebertaConfig.Parse("{\"hidden_size\": \"wide\"}", "/models/x/config.json"));
        Assert.StartsWith("/models/x/config.json: ", error.Message);
        Assert.Contains("hidden_size", error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"hidden_size\": 3")]
    [InlineData("[1, 2]")]
    [InlineData("null")]
    public void Parse_MalformedJson_NamesTheFile(string json)
    {
        var error = Assert.Throws<ModelFileException>(() => DebertaConfig.Parse(json, "/models/x/config.json"));
        Assert.StartsWith("/models/x/config.json: ", error.Message);
    }

    [Fact]
    public void Load_MissingFile_NamesTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), "edgeguard-" + Guid.NewGuid().ToString("N"), "config.json");
        var error = Assert.Throws<ModelFileException>(() => DebertaConfig.Load(path));
        Assert.StartsWith(path, error.Message);
    }

    private static string WriteModifiedConfig(TempDirectory dir, string field, string value)
    {
        JsonObject json = JsonNode.Parse(FixtureConfig("tiny-buckets"))!.AsObject();
        json[field] = JsonNode.Parse(value);
        string path = dir.File("config.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }
}
