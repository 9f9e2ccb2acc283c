using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Models.Deberta;

/// <summary>
/// A Hugging Face <c>DebertaV2Config</c> (<c>config.json</c> of <c>model_type</c> <c>deberta-v2</c>), read as-is.
/// Absent fields take the defaults the Hugging Face implementation gives them, so a config means here what it
/// means there. <see cref="Validate"/> refuses the variants this engine does not implement.
/// </summary>
/// <remarks>
/// Properties have setters because the JSON source generator assigns every init-only property (absent ones
/// with their type's default), which would lose the Hugging Face defaults. Code that loads a model copies the
/// values it depends on, so changing a config afterwards cannot change a loaded model.
/// </remarks>
public sealed class DebertaConfig : IModelConfig
{
    /// <summary>Must be <c>deberta-v2</c> (DeBERTa-v2 and -v3 share it).</summary>
    [JsonPropertyName("model_type")]
    public string? ModelType { get; set; }

    [JsonPropertyName("architectures")]
    public IReadOnlyList<string>? Architectures { get; set; }

    [JsonPropertyName("vocab_size")]
    public int VocabSize { get; set; } = 128100;

    [JsonPropertyName("hidden_size")]
    public int HiddenSize { get; set; } = 1536;

    /// <summary>Width of the word embeddings when it differs from <see cref="HiddenSize"/> (not supported).</summary>
    [JsonPropertyName("embedding_size")]
    public int? EmbeddingSize { get; set; }

    [JsonPropertyName("num_hidden_layers")]
    public int NumHiddenLayers { get; set; } = 24;

    [JsonPropertyName("num_attention_heads")]
    public int NumAttentionHeads { get; set; } = 24;

    /// <summary>Per-head width when it is not <c>hidden_size / num_attention_heads</c> (not supported).</summary>
    [JsonPropertyName("attention_head_size")]
    public int? AttentionHeadSize { get; set; }

    [JsonPropertyName("intermediate_size")]
    public int IntermediateSize { get; set; } = 6144;

    [JsonPropertyName("hidden_act")]
    public string HiddenAct { get; set; } = "gelu";

    [JsonPropertyName("hidden_dropout_prob")]
    public double HiddenDropoutProb { get; set; } = 0.1;

    [JsonPropertyName("attention_probs_dropout_prob")]
    public double AttentionProbsDropoutProb { get; set; } = 0.1;

    [JsonPropertyName("max_position_embeddings")]
    public int MaxPositionEmbeddings { get; set; } = 512;

    [JsonPropertyName("type_vocab_size")]
    public int TypeVocabSize { get; set; }

    [JsonPropertyName("initializer_range")]
    public double InitializerRange { get; set; } = 0.02;

    [JsonPropertyName("layer_norm_eps")]
    public double LayerNormEps { get; set; } = 1e-7;

    [JsonPropertyName("relative_attention")]
    public bool RelativeAttention { get; set; }

    /// <summary>Largest relative distance of the log-bucket mapping; below 1 means <see cref="MaxPositionEmbeddings"/>.</summary>
    [JsonPropertyName("max_relative_positions")]
    public int MaxRelativePositions { get; set; } = -1;

    [JsonPropertyName("position_buckets")]
    public int PositionBuckets { get; set; } = -1;

    /// <summary>Attention terms besides content-to-content; written as a list or as <c>"p2c|c2p"</c>.</summary>
    [JsonPropertyName("pos_att_type")]
    [JsonConverter(typeof(PositionAttentionTypeConverter))]
    public IReadOnlyList<string>? PosAttType { get; set; }

    [JsonPropertyName("share_att_key")]
    public bool ShareAttKey { get; set; }

    [JsonPropertyName("norm_rel_ebd")]
    public string NormRelEbd { get; set; } = "none";

    [JsonPropertyName("position_biased_input")]
    public bool PositionBiasedInput { get; set; } = true;

    /// <summary>Present and non-zero when the first layer has DeBERTa-v2's extra convolution (not supported).</summary>
    [JsonPropertyName("conv_kernel_size")]
    public int? ConvKernelSize { get; set; }

    [JsonPropertyName("conv_act")]
    public string? ConvAct { get; set; }

    [JsonPropertyName("pad_token_id")]
    public int PadTokenId { get; set; }

    /// <summary>Width of the context pooler; null means <see cref="HiddenSize"/>.</summary>
    [JsonPropertyName("pooler_hidden_size")]
    public int? PoolerHiddenSize { get; set; }

    [JsonPropertyName("pooler_hidden_act")]
    public string PoolerHiddenAct { get; set; } = "gelu";

    [JsonPropertyName("pooler_dropout")]
    public double PoolerDropout { get; set; }

    [JsonPropertyName("num_labels")]
    public int? NumLabelsField { get; set; }

    [JsonPropertyName("id2label")]
    public IReadOnlyDictionary<string, string>? Id2Label { get; set; }

    /// <summary>Label indices by name; informational (id2label is authoritative).</summary>
    [JsonPropertyName("label2id")]
    public IReadOnlyDictionary<string, int>? Label2Id { get; set; }

    [JsonPropertyName("torch_dtype")]
    public string? TorchDType { get; set; }

    /// <summary>Where the config came from, for messages.</summary>
    [JsonIgnore]
    public string Origin { get; private set; } = "config.json";

    /// <summary>Number of classifier outputs: <c>num_labels</c>, else the size of <c>id2label</c>, else 2 (the Hugging Face default).</summary>
    [JsonIgnore]
    public int NumLabels => ClassifierLabelFields.Count(NumLabelsField, Id2Label);

    /// <summary>Label names by index, <c>LABEL_i</c> where the config names none.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> Labels => ClassifierLabelFields.Names(NumLabels, Id2Label);

    [JsonIgnore]
    string IModelConfig.ModelType => ModelType ?? DebertaArchitecture.ModelTypeName;

    /// <inheritdoc />
    [JsonIgnore]
    public int MaxSequenceLength => MaxPositionEmbeddings;

    /// <summary>Width of one attention head.</summary>
    [JsonIgnore]
    public int HeadSize => HiddenSize / NumAttentionHeads;

    /// <summary>The maximum distance the log-bucket mapping uses (<c>max_relative_positions</c>, or <c>max_position_embeddings</c> when below 1).</summary>
    [JsonIgnore]
    public int EffectiveMaxRelativePositions => MaxRelativePositions < 1 ? MaxPositionEmbeddings : MaxRelativePositions;

    /// <summary>Parses a <c>config.json</c> text.</summary>
    /// <param name="json">The file's text.</param>
    /// <param name="origin">Its path, for messages.</param>
    /// <exception cref="ModelFileException">Not JSON, or a field of the wrong type; the message names <paramref name="origin"/>.</exception>
    public static DebertaConfig Parse(string json, string origin)
    {
        ArgumentNullException.ThrowIfNull(json);
        DebertaConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(json, DebertaConfigJsonContext.Default.DebertaConfig);
        }
        catch (JsonException e)
        {
            string where = e.Path is null ? string.Empty : $" at {e.Path}";
            throw new ModelFileException($"{origin}: not a valid config{where} ({e.Message}).", e);
        }

        if (config is null)
        {
            throw new ModelFileException($"{origin}: the config is JSON null, not an object.");
        }

        config.Origin = origin;
        return config;
    }

    /// <summary>Reads and parses <paramref name="path"/>.</summary>
    /// <exception cref="ModelFileException">Missing, unreadable or malformed.</exception>
    public static DebertaConfig Load(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException($"{path}: cannot read the model config ({e.Message}).", e);
        }

        return Parse(json, path);
    }

    /// <summary>The config as compact JSON in Hugging Face field names, every field this type knows (defaults included).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, DebertaConfigJsonContext.Default.DebertaConfig);

    /// <summary>
    /// The smallest <c>max_position_embeddings</c> a model may have: a window must hold a prompt and response pair of one
    /// token each, <c>[CLS] p [SEP] r [SEP]</c>. A smaller model would open and then fail every pair (and, below 3, every prompt).
    /// </summary>
    public const int MinMaxPositionEmbeddings = 5;

    /// <summary>
    /// Refuses, with a message naming the field and its value, every variant the engine does not implement:
    /// the engine is DeBERTa-v3 (relative attention with log buckets, shared c2p/p2c projections, normalised
    /// relative embeddings, no absolute positions, no token types, no convolution, GELU).
    /// </summary>
    /// <exception cref="ModelFileException">The first unsupported or inconsistent field.</exception>
    public void Validate()
    {
        if (ModelType != "deberta-v2")
        {
            Fail($"model_type={Show(ModelType)} is not supported (deberta-v2 expected)");
        }

        RequirePositive(VocabSize, "vocab_size");
        RequirePositive(HiddenSize, "hidden_size");
        RequirePositive(NumHiddenLayers, "num_hidden_layers");
        RequirePositive(NumAttentionHeads, "num_attention_heads");
        RequirePositive(IntermediateSize, "intermediate_size");
        RequirePositive(MaxPositionEmbeddings, "max_position_embeddings");
        if (HiddenSize % NumAttentionHeads != 0)
        {
            Fail($"hidden_size={HiddenSize} is not divisible by num_attention_heads={NumAttentionHeads}");
        }

        if (AttentionHeadSize is int headSize && headSize != HiddenSize / NumAttentionHeads)
        {
            Fail($"attention_head_size={headSize} is not supported (only hidden_size / num_attention_heads = {HiddenSize / NumAttentionHeads})");
        }

        if (EmbeddingSize is int embeddingSize && embeddingSize != HiddenSize)
        {
            Fail($"embedding_size={embeddingSize} is not supported (embedding projection; only embedding_size = hidden_size)");
        }

        // LayerNorm adds eps in float32: a value float32 rounds to 0 or infinity would divide by zero or erase the input.
        float eps = (float)LayerNormEps;
        if (!(eps > 0 && float.IsFinite(eps)))
        {
            Fail($"layer_norm_eps={LayerNormEps.ToString(CultureInfo.InvariantCulture)} must be a positive number float32 can hold (it is added in float32)");
        }

        if (HiddenAct != "gelu")
        {
            Fail($"hidden_act={Show(HiddenAct)} is not supported (only \"gelu\", the exact erf GELU)");
        }

        if (!RelativeAttention)
        {
            Fail("relative_attention=false is not supported (DeBERTa-v3 disentangled attention expected)");
        }

        if (MaxPositionEmbeddings < MinMaxPositionEmbeddings)
        {
            Fail($"max_position_embeddings={MaxPositionEmbeddings} is too small: a window must hold at least [CLS] prompt [SEP] response [SEP], {MinMaxPositionEmbeddings} tokens");
        }

        if (PositionBuckets <= 0)
        {
            Fail($"position_buckets={PositionBuckets} is not supported (log-bucketed relative positions expected)");
        }

        if (PositionBuckets < 2)
        {
            Fail($"position_buckets={PositionBuckets} is too small for the log-bucket mapping (at least 2)");
        }

        if (EffectiveMaxRelativePositions <= (PositionBuckets / 2) + 1)
        {
            Fail($"max_relative_positions={MaxRelativePositions} (effective {EffectiveMaxRelativePositions}) must exceed position_buckets / 2 + 1 = {(PositionBuckets / 2) + 1} for the log-bucket mapping");
        }

        if (!ShareAttKey)
        {
            Fail("share_att_key=false is not supported (unshared position projections)");
        }

        IReadOnlyList<string> attention = PosAttType ?? [];
        bool c2p = attention.Contains("c2p"), p2c = attention.Contains("p2c");
        if (attention.Contains("p2p"))
        {
            Fail($"pos_att_type={ShowList(attention)} is not supported (p2p)");
        }

        if (!c2p || !p2c || attention.Any(t => t is not ("c2p" or "p2c")) || attention.Distinct().Count() != attention.Count)
        {
            Fail($"pos_att_type={ShowList(PosAttType)} is not supported (exactly [\"p2c\", \"c2p\"] expected)");
        }

        if (!NormRelEbd.ToLowerInvariant().Split('|').Select(s => s.Trim()).Contains("layer_norm"))
        {
            Fail($"norm_rel_ebd={Show(NormRelEbd)} is not supported (\"layer_norm\" expected)");
        }

        if (PositionBiasedInput)
        {
            Fail("position_biased_input=true is not supported (absolute position embeddings)");
        }

        if (TypeVocabSize != 0)
        {
            Fail($"type_vocab_size={TypeVocabSize} is not supported (token type embeddings; 0 expected)");
        }

        if (ConvKernelSize is int kernel && kernel != 0)
        {
            Fail($"conv_kernel_size={kernel} is not supported (DeBERTa-v2 convolution layer)");
        }

        if (PoolerHiddenSize is int pooler && pooler != HiddenSize)
        {
            Fail($"pooler_hidden_size={pooler} is not supported (the pooler reads hidden states: {HiddenSize} expected)");
        }

        if (PoolerHiddenAct != "gelu")
        {
            Fail($"pooler_hidden_act={Show(PoolerHiddenAct)} is not supported (only \"gelu\")");
        }

        ValidateLabels();
    }

    private void ValidateLabels()
    {
        if (ClassifierLabelFields.Problem(NumLabelsField, Id2Label) is { } problem)
        {
            Fail(problem);
        }
    }

    /// <summary>
    /// Checks every size the weights fix against them, before anything is sized by this config: num_labels (the classifier),
    /// vocab_size and hidden_size (the word embeddings), position_buckets (rel_embeddings), num_hidden_layers (the numbered
    /// layers present), intermediate_size (layer 0's feed-forward), that there is no convolution layer, and that a window of
    /// max_position_embeddings tokens fits the attention buffers of the head size the weights confirm. A config is
    /// text anyone can edit; a size is believed only when tensors of that size are there, so a wrong one is one clear
    /// error instead of an allocation of whatever the config says. Call after <see cref="Validate"/>.
    /// </summary>
    /// <remarks>
    /// The tensor names are the loader's (<see cref="DebertaClassifier"/>): these are the tensors whose shapes fix the
    /// sizes, checked here by name before the loader reads them, so that nothing is allocated on the config's word.
    /// </remarks>
    /// <param name="weights">The weights under Hugging Face names.</param>
    /// <exception cref="ModelFileException">The first size the weights contradict, naming the field, its value and what the weights hold.</exception>
    public void ValidateAgainst(ITensorSource weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights is ITensorFactory)
        {
            // It makes whatever tensors the config asks for.
            RequireWindowFitsScratch();
            return;
        }

        var bounds = new TensorBounds(weights, Origin);
        bounds.RequireDimension("num_labels", NumLabels, "classifier.weight", 0);
        bounds.RequireDimension("vocab_size", VocabSize, "deberta.embeddings.word_embeddings.weight", 0);
        bounds.RequireDimension("hidden_size", HiddenSize, "deberta.embeddings.word_embeddings.weight", 1);
        bounds.RequireDimension("position_buckets", PositionBuckets, "deberta.encoder.rel_embeddings.weight", 0, perUnit: 2);
        bounds.RequireNumberedBlocks("num_hidden_layers", NumHiddenLayers, "deberta.encoder.layer.", "layer");
        bounds.RequireDimension("intermediate_size", IntermediateSize, "deberta.encoder.layer.0.intermediate.dense.bias", 0);
        foreach (TensorInfo tensor in weights.Tensors)
        {
            if (tensor.Name.StartsWith("deberta.encoder.conv.", StringComparison.Ordinal))
            {
                throw new ModelFileException($"{weights.Origin}: tensor '{tensor.Name}' is a convolution layer weight, but {Origin} has no conv_kernel_size.");
            }
        }

        RequireWindowFitsScratch();
    }

    /// <summary>
    /// A window of max_position_embeddings tokens must fit the attention scratch, or the model would advertise windows it
    /// cannot run. Checked once the weights have confirmed the head size it depends on.
    /// </summary>
    private void RequireWindowFitsScratch()
    {
        // The square alone rules out long windows first, so ScratchFor only sees lengths it computes without overflow.
        if ((long)MaxPositionEmbeddings * MaxPositionEmbeddings > Array.MaxLength || DebertaWorkspace.ScratchFor(MaxPositionEmbeddings, PositionBuckets, HeadSize) > Array.MaxLength)
        {
            Fail($"max_position_embeddings={MaxPositionEmbeddings} is too large: the attention scores of one window that long do not fit in one buffer (at most {LongestWindow(PositionBuckets, HeadSize)} tokens with this position_buckets and head size)");
        }
    }

    /// <summary>The longest window whose attention scratch fits one array (<see cref="DebertaWorkspace.ScratchFor"/>).</summary>
    private static int LongestWindow(int positionBuckets, int headSize)
    {
        int low = 1, high = (int)Math.Sqrt(Array.MaxLength);
        while (low < high)
        {
            int mid = low + ((high - low + 1) / 2);
            if (DebertaWorkspace.ScratchFor(mid, positionBuckets, headSize) <= Array.MaxLength)
            {
                low = mid;
            }
            else
            {
                high = mid - 1;
            }
        }

        return low;
    }

    private void RequirePositive(int value, string field)
    {
        if (value <= 0)
        {
            Fail($"{field}={value} must be positive");
        }
    }

    private void Fail(string problem) => throw new ModelFileException($"{Origin}: {problem}.");

    private static string Show(string? value) => ErrorText.Quote(value);

    private static string ShowList(IReadOnlyList<string>? values) => ErrorText.QuoteList(values);
}

/// <summary>
/// <c>pos_att_type</c>: a JSON list of strings, or one string of <c>|</c>-separated names (<c>"p2c|c2p"</c>), or null.
/// Read case-insensitively and trimmed as Hugging Face does; always written back as a list.
/// </summary>
internal sealed class PositionAttentionTypeConverter : JsonConverter<IReadOnlyList<string>?>
{
    public override bool HandleNull => true;

    public override IReadOnlyList<string>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return [.. reader.GetString()!.ToLowerInvariant().Split('|').Select(s => s.Trim())];
            case JsonTokenType.StartArray:
                var list = new List<string>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        throw new JsonException("pos_att_type entries must be strings.");
                    }

                    list.Add(reader.GetString()!.Trim().ToLowerInvariant());
                }

                return list;
            default:
                throw new JsonException("pos_att_type must be a list of strings or a \"|\"-separated string.");
        }
    }

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<string>? value, JsonSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNullValue();
            return;
        }

        writer.WriteStartArray();
        foreach (string item in value)
        {
            writer.WriteStringValue(item);
        }

        writer.WriteEndArray();
    }
}

/// <summary>Source-generated (reflection-free, NativeAOT-safe) JSON for <see cref="DebertaConfig"/>.</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(DebertaConfig))]
internal sealed partial class DebertaConfigJsonContext : JsonSerializerContext;
