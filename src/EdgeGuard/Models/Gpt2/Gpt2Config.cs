using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Models.Gpt2;

/// <summary>
/// A Hugging Face <c>GPT2Config</c> (<c>config.json</c> of <c>model_type</c> <c>gpt2</c>), read as-is with its defaults.
/// <see cref="Validate"/> refuses, naming the field, every variant the engine does not implement.
/// </summary>
/// <remarks>The text it was parsed from is kept, so fields this type does not read travel into bundles unchanged.</remarks>
public sealed class Gpt2Config : IModelConfig
{
    private const int MaxWidth = 1 << 16, MaxLayers = 1 << 10, MaxVocabulary = 1 << 24, MaxPositions = 1 << 20;

    private string _json = "{}";

    [JsonPropertyName("model_type")]
    public string? ModelType { get; set; }

    [JsonPropertyName("vocab_size")]
    public int VocabSize { get; set; } = 50257;

    [JsonPropertyName("n_positions")]
    public int NPositions { get; set; } = 1024;

    [JsonPropertyName("n_embd")]
    public int NEmbd { get; set; } = 768;

    [JsonPropertyName("n_layer")]
    public int NLayer { get; set; } = 12;

    [JsonPropertyName("n_head")]
    public int NHead { get; set; } = 12;

    /// <summary>Width of the MLP; absent means <c>4 · n_embd</c>.</summary>
    [JsonPropertyName("n_inner")]
    public int? NInner { get; set; }

    [JsonPropertyName("activation_function")]
    public string ActivationFunction { get; set; } = "gelu_new";

    [JsonPropertyName("layer_norm_epsilon")]
    public double LayerNormEpsilon { get; set; } = 1e-5;

    [JsonPropertyName("scale_attn_weights")]
    public bool ScaleAttnWeights { get; set; } = true;

    [JsonPropertyName("scale_attn_by_inverse_layer_idx")]
    public bool ScaleAttnByInverseLayerIdx { get; set; }

    [JsonPropertyName("add_cross_attention")]
    public bool AddCrossAttention { get; set; }

    [JsonPropertyName("tie_word_embeddings")]
    public bool TieWordEmbeddings { get; set; } = true;

    [JsonIgnore]
    public string Origin { get; private set; } = "config.json";

    [JsonIgnore]
    string IModelConfig.ModelType => ModelType ?? Gpt2Architecture.ModelTypeName;

    [JsonIgnore]
    int IModelConfig.HiddenSize => NEmbd;

    [JsonIgnore]
    public int IntermediateSize => NInner ?? (4 * NEmbd);

    [JsonIgnore]
    int IModelConfig.NumHiddenLayers => NLayer;

    /// <summary>A decoder has no classifier head.</summary>
    [JsonIgnore]
    public int NumLabels => 0;

    [JsonIgnore]
    public IReadOnlyList<string> Labels => [];

    [JsonIgnore]
    public int MaxSequenceLength => NPositions;

    /// <summary>Parses a GPT-2 <c>config.json</c> text.</summary>
    /// <exception cref="ModelFileException">Not JSON, or a field of the wrong type.</exception>
    public static Gpt2Config Parse(string json, string origin)
    {
        Gpt2Config config = ConfigJson.Deserialize(json, origin, Gpt2ConfigJsonContext.Default.Gpt2Config);
        config.Origin = origin;
        config._json = json;
        return config;
    }

    /// <summary>The config text it was parsed from.</summary>
    public string ToJson() => _json;

    /// <summary>
    /// Refuses every variant the engine does not implement: it runs GPT-2's pre-LayerNorm blocks with <c>gelu_new</c>,
    /// learned positions and self-attention scaled by <c>1/√head_size</c> (or unscaled).
    /// </summary>
    /// <exception cref="ModelFileException">The first unsupported or inconsistent field.</exception>
    public void Validate()
    {
        if (ModelType != Gpt2Architecture.ModelTypeName)
        {
            Fail($"model_type={ErrorText.Quote(ModelType)} is not supported here (gpt2 expected)");
        }

        RequireInRange(VocabSize, "vocab_size", 1, MaxVocabulary);
        RequireInRange(NEmbd, "n_embd", 1, MaxWidth);
        RequireInRange(NLayer, "n_layer", 1, MaxLayers);
        RequireInRange(NHead, "n_head", 1, MaxWidth);
        RequireInRange(NPositions, "n_positions", 1, MaxPositions);
        RequireInRange(IntermediateSize, "n_inner", 1, 4 * MaxWidth);
        if (NEmbd % NHead != 0)
        {
            Fail($"n_embd={NEmbd} is not divisible by n_head={NHead}");
        }

        if (ActivationFunction is not ("gelu_new" or "gelu_pytorch_tanh"))
        {
            Fail($"activation_function={ErrorText.Quote(ActivationFunction)} is not supported (\"gelu_new\" or \"gelu_pytorch_tanh\", one formula)");
        }

        if (!double.IsFinite(LayerNormEpsilon) || LayerNormEpsilon <= 0)
        {
            Fail($"layer_norm_epsilon={LayerNormEpsilon.ToString(CultureInfo.InvariantCulture)} must be a positive number");
        }

        if (ScaleAttnByInverseLayerIdx)
        {
            Fail("scale_attn_by_inverse_layer_idx=true is not supported");
        }

        if (AddCrossAttention)
        {
            Fail("add_cross_attention=true is not supported (a decoder-only model is expected)");
        }
    }

    /// <summary>
    /// The prefix of the weights' names: <c>transformer.</c> as <c>GPT2LMHeadModel.save_pretrained</c> writes them, or
    /// none, as the original checkpoints name them (<c>h.0.attn.c_attn.weight</c>).
    /// </summary>
    /// <exception cref="ModelFileException">Neither <c>transformer.wte.weight</c> nor <c>wte.weight</c> is there.</exception>
    public static string WeightPrefix(ITensorSource weights) =>
        weights.Find("transformer.wte.weight") is not null ? "transformer." :
        weights.Find("wte.weight") is not null ? string.Empty :
        throw new ModelFileException($"{weights.Origin}: neither 'transformer.wte.weight' nor 'wte.weight' is there; not the weights of a GPT-2 model.");

    /// <summary>
    /// Checks vocab_size, n_embd, n_positions, n_layer and n_inner against the weights before anything is sized by them.
    /// </summary>
    /// <exception cref="ModelFileException">A size disagrees with the weights, or a tensor that fixes one is missing.</exception>
    public void ValidateAgainst(ITensorSource weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights is ITensorFactory)
        {
            return;
        }

        string prefix = WeightPrefix(weights);
        var bounds = new TensorBounds(weights, Origin);
        bounds.RequireDimension("vocab_size", VocabSize, prefix + "wte.weight", 0);
        bounds.RequireDimension("n_embd", NEmbd, prefix + "wte.weight", 1);
        bounds.RequireDimension("n_positions", NPositions, prefix + "wpe.weight", 0);
        bounds.RequireNumberedBlocks("n_layer", NLayer, prefix + "h.", "layer");
        bounds.RequireDimension("n_inner", IntermediateSize, prefix + "h.0.mlp.c_fc.bias", 0);
        LmHead.Check(weights, bounds, Origin, TieWordEmbeddings, VocabSize, NEmbd);
    }

    private void Fail(string problem) => throw new ModelFileException($"{Origin}: {problem}.");

    private void RequireInRange(long value, string field, long min, long max)
    {
        if (value < min || value > max)
        {
            Fail($"{field}={value} is outside [{min}, {max}]");
        }
    }
}

/// <summary>Source-generated (reflection-free, NativeAOT-safe) JSON for <see cref="Gpt2Config"/>.</summary>
[JsonSourceGenerationOptions(
    NumberHandling = JsonNumberHandling.Strict,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(Gpt2Config))]
internal sealed partial class Gpt2ConfigJsonContext : JsonSerializerContext;
