using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Models.Bert;

/// <summary>
/// A Hugging Face <c>BertConfig</c> or <c>RobertaConfig</c> (<c>config.json</c> of <c>model_type</c> <c>bert</c> or
/// <c>roberta</c>), read as-is: absent fields take Hugging Face's defaults for that model type. <see cref="Validate"/>
/// refuses, naming the field, every variant the engine does not implement.
/// </summary>
/// <remarks>
/// Properties have setters because the JSON source generator assigns every init-only property (absent ones with their
/// type's default), which would lose the Hugging Face defaults. Code that loads a model copies what it depends on.
/// </remarks>
public class BertConfig : IModelConfig
{
    // Bounds that no real encoder reaches; they refuse configs whose sizes would overflow or exhaust memory before
    // the weights are even looked at (the weights then pin every size exactly).
    private const int MaxWidth = 1 << 16, MaxLayers = 1 << 10, MaxVocabulary = 1 << 24, MaxPositions = 1 << 20, MaxLabels = 1 << 12;

    /// <summary><c>bert</c> (or <c>roberta</c> for <see cref="RobertaConfig"/>).</summary>
    [JsonPropertyName("model_type")]
    public string? ModelType { get; set; }

    [JsonPropertyName("architectures")]
    public IReadOnlyList<string>? Architectures { get; set; }

    [JsonPropertyName("vocab_size")]
    public int VocabSize { get; set; } = 30522;

    [JsonPropertyName("hidden_size")]
    public int HiddenSize { get; set; } = 768;

    [JsonPropertyName("num_hidden_layers")]
    public int NumHiddenLayers { get; set; } = 12;

    [JsonPropertyName("num_attention_heads")]
    public int NumAttentionHeads { get; set; } = 12;

    [JsonPropertyName("intermediate_size")]
    public int IntermediateSize { get; set; } = 3072;

    [JsonPropertyName("hidden_act")]
    public string HiddenAct { get; set; } = "gelu";

    [JsonPropertyName("hidden_dropout_prob")]
    public double HiddenDropoutProb { get; set; } = 0.1;

    [JsonPropertyName("attention_probs_dropout_prob")]
    public double AttentionProbsDropoutProb { get; set; } = 0.1;

    [JsonPropertyName("max_position_embeddings")]
    public int MaxPositionEmbeddings { get; set; } = 512;

    [JsonPropertyName("type_vocab_size")]
    public int TypeVocabSize { get; set; } = 2;

    [JsonPropertyName("initializer_range")]
    public double InitializerRange { get; set; } = 0.02;

    [JsonPropertyName("layer_norm_eps")]
    public double LayerNormEps { get; set; } = 1e-12;

    [JsonPropertyName("pad_token_id")]
    public int PadTokenId { get; set; }

    [JsonPropertyName("position_embedding_type")]
    public string? PositionEmbeddingType { get; set; } = "absolute";

    /// <summary>Embeddings narrower than the hidden states with a projection (ALBERT-style; not supported).</summary>
    [JsonPropertyName("embedding_size")]
    public int? EmbeddingSize { get; set; }

    [JsonPropertyName("is_decoder")]
    public bool IsDecoder { get; set; }

    [JsonPropertyName("add_cross_attention")]
    public bool AddCrossAttention { get; set; }

    /// <summary>Hugging Face's head choice: single-label (softmax) classification is what a guard reads.</summary>
    [JsonPropertyName("problem_type")]
    public string? ProblemType { get; set; }

    [JsonPropertyName("classifier_dropout")]
    public double? ClassifierDropout { get; set; }

    [JsonPropertyName("num_labels")]
    public int? NumLabelsField { get; set; }

    [JsonPropertyName("id2label")]
    public IReadOnlyDictionary<string, string>? Id2Label { get; set; }

    [JsonPropertyName("label2id")]
    public IReadOnlyDictionary<string, int>? Label2Id { get; set; }

    [JsonPropertyName("torch_dtype")]
    public string? TorchDType { get; set; }

    /// <summary>Where the config came from, for messages.</summary>
    [JsonIgnore]
    public string Origin { get; private set; } = "config.json";

    [JsonIgnore]
    string IModelConfig.ModelType => ModelType ?? ExpectedModelType;

    /// <summary>Number of classifier outputs: <c>num_labels</c>, else the size of <c>id2label</c>, else 2 (the Hugging Face default).</summary>
    [JsonIgnore]
    public int NumLabels => ClassifierLabelFields.Count(NumLabelsField, Id2Label);

    /// <summary>Label names by index, <c>LABEL_i</c> where the config names none. <see cref="Validate"/> bounds their number first.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> Labels => ClassifierLabelFields.Names(NumLabels, Id2Label);

    /// <summary>Width of one attention head.</summary>
    [JsonIgnore]
    public int HeadSize => HiddenSize / NumAttentionHeads;

    /// <summary>The id of the first position a row uses: 0 for BERT; RoBERTa counts from <c>pad_token_id + 1</c>.</summary>
    [JsonIgnore]
    public virtual int FirstPositionId => 0;

    /// <inheritdoc />
    [JsonIgnore]
    public int MaxSequenceLength => MaxPositionEmbeddings - FirstPositionId;

    /// <summary>The <c>model_type</c> this config type reads.</summary>
    [JsonIgnore]
    protected virtual string ExpectedModelType => BertArchitecture.ModelTypeName;

    /// <summary>Parses a BERT <c>config.json</c> text.</summary>
    /// <exception cref="ModelFileException">Not JSON, or a field of the wrong type; the message names <paramref name="origin"/>.</exception>
    public static BertConfig Parse(string json, string origin) => Parse(json, origin, BertConfigJsonContext.Default.BertConfig);

    private protected static T Parse<T>(string json, string origin, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : BertConfig
    {
        T config = ConfigJson.Deserialize(json, origin, type);
        config.Origin = origin;
        return config;
    }

    /// <summary>The config as compact JSON in Hugging Face field names (defaults included).</summary>
    public virtual string ToJson() => JsonSerializer.Serialize(this, BertConfigJsonContext.Default.BertConfig);

    /// <summary>
    /// Refuses, naming the field and its value, every variant the engine does not implement: it runs BERT-style
    /// post-LayerNorm encoders with absolute positions, token types, exact GELU, and a single-label head.
    /// </summary>
    /// <exception cref="ModelFileException">The first unsupported or inconsistent field.</exception>
    public void Validate()
    {
        if (ModelType != ExpectedModelType)
        {
            Fail($"model_type={Show(ModelType)} is not supported here ({ExpectedModelType} expected)");
        }

        RequireInRange(VocabSize, "vocab_size", 1, MaxVocabulary);
        RequireInRange(HiddenSize, "hidden_size", 1, MaxWidth);
        RequireInRange(NumHiddenLayers, "num_hidden_layers", 1, MaxLayers);
        RequireInRange(NumAttentionHeads, "num_attention_heads", 1, MaxWidth);
        RequireInRange(IntermediateSize, "intermediate_size", 1, 4 * MaxWidth);
        RequireInRange(MaxPositionEmbeddings, "max_position_embeddings", 1, MaxPositions);
        RequireInRange(TypeVocabSize, "type_vocab_size", 0, MaxWidth);
        RequireInRange(NumLabels, NumLabelsField is null ? "id2label" : "num_labels", 1, MaxLabels);
        RequireInRange(PadTokenId, "pad_token_id", 0, VocabSize - 1);
        if (HiddenSize % NumAttentionHeads != 0)
        {
            Fail($"hidden_size={HiddenSize} is not divisible by num_attention_heads={NumAttentionHeads}");
        }

        // A window must hold at least a first token, one of text and a separator.
        if (MaxSequenceLength < 3)
        {
            Fail($"max_position_embeddings={MaxPositionEmbeddings} leaves {MaxSequenceLength} positions per row; at least 3 are needed");
        }

        if (EmbeddingSize is int embeddingSize && embeddingSize != HiddenSize)
        {
            Fail($"embedding_size={embeddingSize} is not supported (embedding projection; only embedding_size = hidden_size)");
        }

        if (!double.IsFinite(LayerNormEps) || LayerNormEps <= 0)
        {
            Fail($"layer_norm_eps={LayerNormEps.ToString(CultureInfo.InvariantCulture)} must be a positive number");
        }

        if (HiddenAct != "gelu")
        {
            Fail($"hidden_act={Show(HiddenAct)} is not supported (only \"gelu\", the exact erf GELU)");
        }

        if (PositionEmbeddingType is not (null or "absolute"))
        {
            Fail($"position_embedding_type={Show(PositionEmbeddingType)} is not supported (only \"absolute\")");
        }

        if (IsDecoder || AddCrossAttention)
        {
            Fail(IsDecoder ? "is_decoder=true is not supported (an encoder classifier is expected)" : "add_cross_attention=true is not supported");
        }

        if (ProblemType is not (null or "single_label_classification"))
        {
            Fail($"problem_type={Show(ProblemType)} is not supported (single_label_classification: one softmax over the labels)");
        }

        if (ClassifierLabelFields.Problem(NumLabelsField, Id2Label) is { } problem)
        {
            Fail(problem);
        }
    }

    /// <summary>
    /// Checks every size a tensor fixes against the weights (<see cref="TensorBounds"/>): num_labels, vocab_size,
    /// hidden_size, max_position_embeddings, type_vocab_size, num_hidden_layers, intermediate_size — before anything is
    /// sized by them. Weights made on request (<see cref="ITensorFactory"/>) follow the config and are not checked.
    /// </summary>
    /// <exception cref="ModelFileException">A size disagrees with the weights, or a tensor that fixes one is missing.</exception>
    public void ValidateAgainst(ITensorSource weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights is ITensorFactory)
        {
            return;
        }

        bool roberta = this is RobertaConfig;
        string prefix = roberta ? "roberta" : "bert";
        var bounds = new TensorBounds(weights, Origin);
        bounds.RequireDimension("num_labels", NumLabels, roberta ? "classifier.out_proj.weight" : "classifier.weight", 0);
        bounds.RequireDimension("vocab_size", VocabSize, prefix + ".embeddings.word_embeddings.weight", 0);
        bounds.RequireDimension("hidden_size", HiddenSize, prefix + ".embeddings.word_embeddings.weight", 1);
        bounds.RequireDimension("max_position_embeddings", MaxPositionEmbeddings, prefix + ".embeddings.position_embeddings.weight", 0);
        if (TypeVocabSize > 0)
        {
            bounds.RequireDimension("type_vocab_size", TypeVocabSize, prefix + ".embeddings.token_type_embeddings.weight", 0);
        }

        bounds.RequireNumberedBlocks("num_hidden_layers", NumHiddenLayers, prefix + ".encoder.layer.", "layer");
        bounds.RequireDimension("intermediate_size", IntermediateSize, prefix + ".encoder.layer.0.intermediate.dense.bias", 0);
    }

    private protected void Fail(string problem) => throw new ModelFileException($"{Origin}: {problem}.");

    private void RequireInRange(long value, string field, long min, long max)
    {
        if (value < min || value > max)
        {
            Fail($"{field}={value} is outside [{min}, {max}]");
        }
    }

    private static string Show(string? value) => ErrorText.Quote(value);
}

/// <summary>
/// A Hugging Face <c>RobertaConfig</c>: BERT's fields with RoBERTa's defaults. Position ids start after the padding
/// index (<c>pad_token_id + 1</c>), so a row holds at most <c>max_position_embeddings − pad_token_id − 1</c> tokens.
/// </summary>
public sealed class RobertaConfig : BertConfig
{
    /// <summary>RoBERTa's defaults where BERT's differ.</summary>
    public RobertaConfig()
    {
        VocabSize = 50265;
        PadTokenId = 1;
    }

    /// <inheritdoc />
    [JsonIgnore]
    public override int FirstPositionId => PadTokenId + 1;

    [JsonIgnore]
    protected override string ExpectedModelType => RobertaArchitecture.ModelTypeName;

    /// <summary>Parses a RoBERTa <c>config.json</c> text.</summary>
    /// <exception cref="ModelFileException">Not JSON, or a field of the wrong type.</exception>
    public static new RobertaConfig Parse(string json, string origin) => Parse(json, origin, BertConfigJsonContext.Default.RobertaConfig);

    /// <inheritdoc />
    public override string ToJson() => JsonSerializer.Serialize(this, BertConfigJsonContext.Default.RobertaConfig);
}

/// <summary>Source-generated (reflection-free, NativeAOT-safe) JSON for <see cref="BertConfig"/> and <see cref="RobertaConfig"/>.</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(BertConfig))]
[JsonSerializable(typeof(RobertaConfig))]
internal sealed partial class BertConfigJsonContext : JsonSerializerContext;
