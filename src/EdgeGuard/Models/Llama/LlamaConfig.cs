using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Models.Llama;

/// <summary>
/// A Hugging Face <c>LlamaConfig</c> or <c>Qwen2Config</c> (<c>config.json</c> of <c>model_type</c> <c>llama</c> or
/// <c>qwen2</c>), read as-is: absent fields take Hugging Face's defaults for that model type. <see cref="Validate"/>
/// refuses, naming the field, every variant the engine does not implement.
/// </summary>
/// <remarks>
/// Properties have setters because the JSON source generator assigns every init-only property (absent ones with their
/// type's default), which would lose the Hugging Face defaults. The text it was parsed from is kept: fields this type
/// does not read (token ids, generation settings) travel into bundles unchanged.
/// </remarks>
public class LlamaConfig : IModelConfig
{
    // Bounds no real decoder reaches; they refuse configs whose sizes would overflow before the weights are looked at.
    private const int MaxWidth = 1 << 16, MaxLayers = 1 << 10, MaxVocabulary = 1 << 24, MaxPositions = 1 << 24;

    private string _json = "{}";

    [JsonPropertyName("model_type")]
    public string? ModelType { get; set; }

    [JsonPropertyName("vocab_size")]
    public int VocabSize { get; set; } = 32000;

    [JsonPropertyName("hidden_size")]
    public int HiddenSize { get; set; } = 4096;

    [JsonPropertyName("intermediate_size")]
    public int IntermediateSize { get; set; } = 11008;

    [JsonPropertyName("num_hidden_layers")]
    public int NumHiddenLayers { get; set; } = 32;

    [JsonPropertyName("num_attention_heads")]
    public int NumAttentionHeads { get; set; } = 32;

    /// <summary>Key/value heads of grouped-query attention; absent means one per query head.</summary>
    [JsonPropertyName("num_key_value_heads")]
    public int? NumKeyValueHeads { get; set; }

    /// <summary>Width of one head; absent means <c>hidden_size / num_attention_heads</c>.</summary>
    [JsonPropertyName("head_dim")]
    public int? HeadDim { get; set; }

    [JsonPropertyName("hidden_act")]
    public string HiddenAct { get; set; } = "silu";

    [JsonPropertyName("max_position_embeddings")]
    public int MaxPositionEmbeddings { get; set; } = 2048;

    [JsonPropertyName("rms_norm_eps")]
    public double RmsNormEps { get; set; } = 1e-6;

    /// <summary>The top-level <c>rope_theta</c> (transformers 4); see <see cref="RopeTheta"/> for the one in effect.</summary>
    [JsonPropertyName("rope_theta")]
    public double? RopeThetaField { get; set; }

    /// <summary>The RoPE variant as transformers 4 writes it (with a top-level <c>rope_theta</c>).</summary>
    [JsonPropertyName("rope_scaling")]
    public RopeScaling? RopeScaling { get; set; }

    /// <summary>
    /// The RoPE variant and base as transformers 5 writes them (<c>rope_theta</c> inside, often no top-level one): when
    /// present it is what counts, as in transformers 5.
    /// </summary>
    [JsonPropertyName("rope_parameters")]
    public RopeScaling? RopeParameters { get; set; }

    [JsonPropertyName("partial_rotary_factor")]
    public double? PartialRotaryFactor { get; set; }

    [JsonPropertyName("tie_word_embeddings")]
    public bool TieWordEmbeddings { get; set; }

    [JsonPropertyName("attention_bias")]
    public bool AttentionBias { get; set; }

    [JsonPropertyName("mlp_bias")]
    public bool MlpBias { get; set; }

    /// <summary>Qwen2's sliding-window attention switch (not implemented; refused when on).</summary>
    [JsonPropertyName("use_sliding_window")]
    public bool UseSlidingWindow { get; set; }

    /// <summary>Where the config came from, for messages.</summary>
    [JsonIgnore]
    public string Origin { get; private set; } = "config.json";

    [JsonIgnore]
    string IModelConfig.ModelType => ModelType ?? ExpectedModelType;

    /// <summary>Key/value heads: <c>num_key_value_heads</c>, else <c>num_attention_heads</c>.</summary>
    [JsonIgnore]
    public int KeyValueHeads => NumKeyValueHeads ?? NumAttentionHeads;

    /// <summary>Width of one head: <c>head_dim</c>, else <c>hidden_size / num_attention_heads</c>.</summary>
    [JsonIgnore]
    public int HeadSize => HeadDim ?? (HiddenSize / Math.Max(NumAttentionHeads, 1));

    /// <summary>The RoPE base in effect: <c>rope_parameters.rope_theta</c>, else <c>rope_theta</c>, else 10000.</summary>
    [JsonIgnore]
    public double RopeTheta => RopeParameters?.RopeTheta ?? RopeThetaField ?? 10000.0;

    /// <summary>The RoPE variant's parameters in effect: <c>rope_parameters</c>, else <c>rope_scaling</c>.</summary>
    [JsonIgnore]
    public RopeScaling? RopeVariant => RopeParameters ?? RopeScaling;

    /// <summary>The RoPE variant: <c>default</c>, or the <c>rope_type</c> (its older name <c>type</c>) of <see cref="RopeVariant"/>.</summary>
    [JsonIgnore]
    public string RopeType => RopeVariant is { } variant ? variant.RopeType ?? variant.Type ?? "default" : "default";

    // The field messages name.
    private string RopeField => RopeParameters is null ? "rope_scaling" : "rope_parameters";

    /// <summary>A decoder has no classifier head.</summary>
    [JsonIgnore]
    public int NumLabels => 0;

    [JsonIgnore]
    public IReadOnlyList<string> Labels => [];

    /// <inheritdoc />
    [JsonIgnore]
    public int MaxSequenceLength => MaxPositionEmbeddings;

    /// <summary>Whether q, k and v carry biases: Qwen2's always do.</summary>
    [JsonIgnore]
    public virtual bool QueryKeyValueBias => false;

    [JsonIgnore]
    protected virtual string ExpectedModelType => LlamaArchitecture.LlamaModelType;

    /// <summary>Parses a Llama <c>config.json</c> text.</summary>
    /// <exception cref="ModelFileException">Not JSON, or a field of the wrong type.</exception>
    public static LlamaConfig Parse(string json, string origin) => Parse(json, origin, LlamaConfigJsonContext.Default.LlamaConfig);

    private protected static T Parse<T>(string json, string origin, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : LlamaConfig
    {
        T config = ConfigJson.Deserialize(json, origin, type);
        config.Origin = origin;
        config._json = json;
        return config;
    }

    /// <summary>The config text it was parsed from (every field, read or not).</summary>
    public string ToJson() => _json;

    /// <summary>
    /// Refuses, naming the field and its value, every variant the engine does not implement: it runs SiLU-gated MLPs,
    /// full rotary embeddings (default or <c>llama3</c> frequencies), grouped-query attention without sliding windows.
    /// </summary>
    /// <exception cref="ModelFileException">The first unsupported or inconsistent field.</exception>
    public void Validate()
    {
        if (ModelType != ExpectedModelType)
        {
            Fail($"model_type={ErrorText.Quote(ModelType)} is not supported here ({ExpectedModelType} expected)");
        }

        RequireInRange(VocabSize, "vocab_size", 1, MaxVocabulary);
        RequireInRange(HiddenSize, "hidden_size", 1, MaxWidth);
        RequireInRange(IntermediateSize, "intermediate_size", 1, 4 * MaxWidth);
        RequireInRange(NumHiddenLayers, "num_hidden_layers", 1, MaxLayers);
        RequireInRange(NumAttentionHeads, "num_attention_heads", 1, MaxWidth);
        RequireInRange(KeyValueHeads, "num_key_value_heads", 1, NumAttentionHeads);
        RequireInRange(MaxPositionEmbeddings, "max_position_embeddings", 1, MaxPositions);
        if (NumAttentionHeads % KeyValueHeads != 0)
        {
            Fail($"num_attention_heads={NumAttentionHeads} is not a multiple of num_key_value_heads={KeyValueHeads}");
        }

        if (HeadDim is null && HiddenSize % NumAttentionHeads != 0)
        {
            Fail($"hidden_size={HiddenSize} is not divisible by num_attention_heads={NumAttentionHeads} (and no head_dim is given)");
        }

        RequireInRange(HeadSize, "head_dim", 2, MaxWidth);
        if (HeadSize % 2 != 0)
        {
            Fail($"head_dim={HeadSize} is odd; rotary embeddings rotate pairs of values");
        }

        if ((long)NumAttentionHeads * HeadSize > 4 * MaxWidth)
        {
            Fail($"num_attention_heads × head_dim = {(long)NumAttentionHeads * HeadSize} is beyond {4 * MaxWidth}");
        }

        if (HiddenAct != "silu")
        {
            Fail($"hidden_act={ErrorText.Quote(HiddenAct)} is not supported (only \"silu\": the SwiGLU MLP)");
        }

        if (!double.IsFinite(RmsNormEps) || RmsNormEps <= 0)
        {
            Fail($"rms_norm_eps={RmsNormEps.ToString(CultureInfo.InvariantCulture)} must be a positive number");
        }

        if ((PartialRotaryFactor ?? RopeParameters?.PartialRotaryFactor) is double partial && partial != 1.0)
        {
            string field = PartialRotaryFactor is null ? "rope_parameters.partial_rotary_factor" : "partial_rotary_factor";
            Fail($"{field}={partial.ToString(CultureInfo.InvariantCulture)} is not supported (only 1: every value of a head rotates)");
        }

        if (AttentionBias || MlpBias)
        {
            Fail(AttentionBias ? "attention_bias=true is not supported (llama projections without biases; qwen2 has q/k/v biases by its model_type)" : "mlp_bias=true is not supported");
        }

        if (UseSlidingWindow)
        {
            Fail("use_sliding_window=true is not supported (every layer attends to the whole context)");
        }

        ValidateRopeScaling();
    }

    /// <summary>
    /// Checks every size a tensor fixes against the weights (vocab_size, hidden_size, num_hidden_layers,
    /// intermediate_size, num_attention_heads and num_key_value_heads by head_dim, the head's vocabulary) before
    /// anything is sized by them; the loader then checks every tensor's full shape.
    /// </summary>
    /// <exception cref="ModelFileException">A size disagrees with the weights, or a tensor that fixes one is missing.</exception>
    public void ValidateAgainst(ITensorSource weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights is ITensorFactory)
        {
            return;
        }

        var bounds = new TensorBounds(weights, Origin);
        bounds.RequireDimension("vocab_size", VocabSize, "model.embed_tokens.weight", 0);
        bounds.RequireDimension("hidden_size", HiddenSize, "model.embed_tokens.weight", 1);
        bounds.RequireNumberedBlocks("num_hidden_layers", NumHiddenLayers, "model.layers.", "layer");
        const string layer = "model.layers.0.";
        bounds.RequireDimension("intermediate_size", IntermediateSize, DecoderLinears.OutputTensor(weights, layer + "mlp.gate_proj"), 0);
        bounds.RequireDimension("num_attention_heads", NumAttentionHeads, DecoderLinears.OutputTensor(weights, layer + "self_attn.q_proj"), 0, HeadSize);
        bounds.RequireDimension("num_key_value_heads", KeyValueHeads, DecoderLinears.OutputTensor(weights, layer + "self_attn.k_proj"), 0, HeadSize);
        LmHead.Check(weights, bounds, Origin, TieWordEmbeddings, VocabSize, HiddenSize);
    }

    private void ValidateRopeScaling()
    {
        if (RopeParameters is { } parameters)
        {
            // transformers 5 may nest one set per layer type ({"full_attention": {...}}), which reads as no base and no type.
            if (parameters.RopeTheta is null && parameters.RopeType is null && parameters.Type is null)
            {
                Fail("rope_parameters gives neither rope_theta nor rope_type (per-layer-type RoPE parameters are not supported)");
            }

            if (parameters.RopeTheta is double inner && RopeThetaField is double outer && inner != outer)
            {
                Fail($"rope_theta={outer.ToString(CultureInfo.InvariantCulture)} disagrees with rope_parameters.rope_theta={inner.ToString(CultureInfo.InvariantCulture)}");
            }

            string scalingType = RopeScaling is null ? "default" : RopeScaling.RopeType ?? RopeScaling.Type ?? "default";
            if (RopeScaling is not null && scalingType != RopeType)
            {
                Fail($"rope_scaling.rope_type={ErrorText.Quote(scalingType)} disagrees with rope_parameters.rope_type={ErrorText.Quote(RopeType)}");
            }
        }

        if (!double.IsFinite(RopeTheta) || RopeTheta <= 1)
        {
            Fail($"rope_theta={RopeTheta.ToString(CultureInfo.InvariantCulture)} must be a number above 1");
        }

        string field = RopeField;
        switch (RopeType)
        {
            case "default":
                return;
            case "llama3":
                RopeScaling scaling = RopeVariant!;
                if (scaling.Factor is not double factor || !double.IsFinite(factor) || factor < 1)
                {
                    Fail($"{field}.factor must be a number of at least 1 for rope_type \"llama3\"");
                }

                if (scaling.LowFreqFactor is not double low || scaling.HighFreqFactor is not double high || !double.IsFinite(low) || !double.IsFinite(high) || low <= 0 || high <= low)
                {
                    Fail($"{field}.low_freq_factor and high_freq_factor must be positive numbers with high_freq_factor > low_freq_factor for rope_type \"llama3\"");
                }

                if (scaling.OriginalMaxPositionEmbeddings is not int original || original < 1)
                {
                    Fail($"{field}.original_max_position_embeddings must be a positive integer for rope_type \"llama3\"");
                }

                return;
            default:
                Fail($"{field}.rope_type={ErrorText.Quote(RopeType)} is not supported (\"default\" or \"llama3\")");
                return;
        }
    }

    private protected void Fail(string problem) => throw new ModelFileException($"{Origin}: {problem}.");

    private void RequireInRange(long value, string field, long min, long max)
    {
        if (value < min || value > max)
        {
            Fail($"{field}={value} is outside [{min}, {max}]");
        }
    }
}

/// <summary>
/// A Hugging Face <c>Qwen2Config</c>: Llama's fields with Qwen2's defaults; the graph adds biases to q, k and v.
/// </summary>
public sealed class Qwen2Config : LlamaConfig
{
    /// <summary>Qwen2's defaults where Llama's differ.</summary>
    public Qwen2Config()
    {
        VocabSize = 151936;
        IntermediateSize = 22016;
        NumKeyValueHeads = 32;
        MaxPositionEmbeddings = 32768;
    }

    /// <inheritdoc />
    [JsonIgnore]
    public override bool QueryKeyValueBias => true;

    [JsonIgnore]
    protected override string ExpectedModelType => LlamaArchitecture.Qwen2ModelType;

    /// <summary>Parses a Qwen2 <c>config.json</c> text.</summary>
    /// <exception cref="ModelFileException">Not JSON, or a field of the wrong type.</exception>
    public static new Qwen2Config Parse(string json, string origin) => Parse(json, origin, LlamaConfigJsonContext.Default.Qwen2Config);
}

/// <summary>
/// <c>rope_scaling</c> (transformers 4) or <c>rope_parameters</c> (transformers 5, which adds the base): the RoPE variant
/// and its parameters, only what the <c>llama3</c> type reads.
/// </summary>
public sealed class RopeScaling
{
    /// <summary>The base, in <c>rope_parameters</c> only.</summary>
    [JsonPropertyName("rope_theta")]
    public double? RopeTheta { get; set; }

    /// <summary>In <c>rope_parameters</c> only; 1 is the only value supported.</summary>
    [JsonPropertyName("partial_rotary_factor")]
    public double? PartialRotaryFactor { get; set; }

    [JsonPropertyName("rope_type")]
    public string? RopeType { get; set; }

    /// <summary>The older name of <see cref="RopeType"/>.</summary>
    [JsonPropertyName("type")]
    public string? Type { get; set; }

    [JsonPropertyName("factor")]
    public double? Factor { get; set; }

    [JsonPropertyName("low_freq_factor")]
    public double? LowFreqFactor { get; set; }

    [JsonPropertyName("high_freq_factor")]
    public double? HighFreqFactor { get; set; }

    [JsonPropertyName("original_max_position_embeddings")]
    public int? OriginalMaxPositionEmbeddings { get; set; }
}

/// <summary>Source-generated (reflection-free, NativeAOT-safe) JSON for <see cref="LlamaConfig"/> and <see cref="Qwen2Config"/>.</summary>
[JsonSourceGenerationOptions(
    NumberHandling = JsonNumberHandling.Strict,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(LlamaConfig))]
[JsonSerializable(typeof(Qwen2Config))]
internal sealed partial class LlamaConfigJsonContext : JsonSerializerContext;
