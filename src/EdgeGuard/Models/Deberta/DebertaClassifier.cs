using System.Globalization;
using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Models.Deberta;

/// <summary>
/// A DeBERTa-v3 sequence classifier (<c>DebertaV2ForSequenceClassification</c>): embeddings, encoder layers with
/// disentangled attention, context pooler (dense + GELU on token 0), linear classifier. In float32 this is the
/// reference engine the golden fixtures pin. Relative positions follow the Hugging Face bucket rule.
/// </summary>
/// <remarks>
/// DeBERTa-v3 has no token-type embeddings (type_vocab_size 0): token type ids are accepted and ignored, as Hugging
/// Face ignores them.
/// </remarks>
public sealed class DebertaClassifier : EncoderClassifier
{
    private readonly Embeddings _embeddings;
    private readonly RelativePositionBuckets _buckets;
    private readonly DebertaConfig _config;

    private DebertaClassifier(
        DebertaConfig config, WorkerPool pool, Embeddings embeddings, EncoderLayer[] layers, Linear pooler, Linear classifier, RelativePositionBuckets buckets, ModelPrecision precision)
        : base(config, pool, layers, pooler, classifier, precision)
    {
        _config = config;
        _embeddings = embeddings;
        _buckets = buckets;
    }

    /// <summary>
    /// The window length the model was trained for (max_position_embeddings); callers should split longer input.
    /// Forward accepts longer rows, as Hugging Face does, with relative positions saturating.
    /// </summary>
    public override int MaxSequenceLength => _config.MaxPositionEmbeddings;

    /// <summary>The validated DeBERTa config.</summary>
    public new DebertaConfig Config => _config;

    internal override IEnumerable<EmbeddingTable> HalfTables => _embeddings.Words.HalfTable.IsEmpty ? [] : [_embeddings.Words];

    /// <summary>Each layer's position projections, <c>[2·position_buckets, hidden]</c>, named <see cref="PositionProjectionName"/>.</summary>
    internal override IEnumerable<(string Name, int Rows, int Columns, float[] Values)> PrecomputedTensors
    {
        get
        {
            for (int layer = 0; layer < Layers.Count; layer++)
            {
                (float[] key, float[] query) = ((DisentangledAttention)Layers[layer].Attention).PositionProjections();
                yield return (PositionProjectionName(layer, "key"), 2 * _config.PositionBuckets, _config.HiddenSize, key);
                yield return (PositionProjectionName(layer, "query"), 2 * _config.PositionBuckets, _config.HiddenSize, query);
            }
        }
    }

    /// <summary>
    /// The name of a layer's precomputed position projection in a bundle: <c>deberta-v2.rel_pos.{layer}.{kind}</c>
    /// (<paramref name="kind"/> <c>key</c> or <c>query</c>); bundle format 2 named it <c>edgeguard.rel_pos.{layer}.{kind}</c>.
    /// </summary>
    internal static string PositionProjectionName(int layer, string kind) =>
        string.Create(CultureInfo.InvariantCulture, $"{DebertaArchitecture.ModelTypeName}.rel_pos.{layer}.{kind}");

    /// <summary>The format-2 name of <see cref="PositionProjectionName"/>.</summary>
    internal static string LegacyPositionProjectionName(int layer, string kind) =>
        string.Create(CultureInfo.InvariantCulture, $"edgeguard.rel_pos.{layer}.{kind}");

    /// <summary>
    /// Validates <paramref name="config"/> and every weight the model needs (name and shape), then precomputes the
    /// input-independent relative-position projections of each layer on <paramref name="pool"/>.
    /// </summary>
    /// <param name="config">The model config; validated here.</param>
    /// <param name="weights">The weights under Hugging Face names; must outlive the classifier.</param>
    /// <param name="pool">The threads every forward runs on.</param>
    /// <exception cref="ModelFileException">An unsupported config, or a missing, unreadable or misshapen tensor (named with expected and actual shape), or weights whose sizes contradict the config (<see cref="DebertaConfig.ValidateAgainst"/>).</exception>
    public static DebertaClassifier Load(DebertaConfig config, ITensorSource weights, WorkerPool pool) =>
        Load(config, weights, pool, RelativePositionRule.HuggingFace);

    /// <summary>As the public overload, with a choice of bucket rule (the original rule reproduces Microsoft DeBERTa's outputs).</summary>
    internal static DebertaClassifier Load(DebertaConfig config, ITensorSource weights, WorkerPool pool, RelativePositionRule rule) =>
        Load(config, weights, pool, rule, ModelPrecision.Float32);

    /// <summary>As <see cref="Load(DebertaConfig, ITensorSource, WorkerPool)"/>, computing in <paramref name="precision"/>.</summary>
    /// <param name="precision">float32 (the reference), or int8 dense layers quantised from the float32 weights at load,
    /// to the weight limit this process's kernel multiplies fastest (<see cref="Int8Gemm.PreferredWeightLimit"/>).</param>
    public static DebertaClassifier Load(DebertaConfig config, ITensorSource weights, WorkerPool pool, ModelPrecision precision) =>
        Load(config, weights, pool, RelativePositionRule.HuggingFace, precision);

    /// <summary>As <see cref="Load(DebertaConfig, ITensorSource, WorkerPool, ModelPrecision)"/>, int8 weights quantised as <paramref name="int8Plan"/> says.</summary>
    /// <param name="int8Plan">The weight limit (<see cref="PackedInt8Matrix.FullWeightLimit"/> or <see cref="PackedInt8Matrix.SevenBitWeightLimit"/>) and the layers kept in float32; unused in float32 and for layers a bundle stores as int8.</param>
    public static DebertaClassifier Load(DebertaConfig config, ITensorSource weights, WorkerPool pool, ModelPrecision precision, Int8Plan int8Plan) =>
        Load(config, weights, pool, RelativePositionRule.HuggingFace, precision, int8Plan);

    internal static DebertaClassifier Load(DebertaConfig config, ITensorSource weights, WorkerPool pool, RelativePositionRule rule, ModelPrecision precision) =>
        Load(config, weights, pool, rule, precision, new Int8Plan(Int8Gemm.PreferredWeightLimit(Int8Gemm.Selected)));

    internal static DebertaClassifier Load(DebertaConfig config, ITensorSource weights, WorkerPool pool, RelativePositionRule rule, ModelPrecision precision, Int8Plan int8Plan)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(pool);
        config.Validate();
        config.ValidateAgainst(weights);

        int hidden = config.HiddenSize;
        float eps = (float)config.LayerNormEps;
        var root = new WeightLoader(weights);
        WeightLoader deberta = root.Child("deberta");
        WeightLoader encoder = deberta.Child("encoder");
        var embeddings = Embeddings.Load(deberta.Child("embeddings"), config);
        if (precision == ModelPrecision.Int8)
        {
            embeddings = embeddings.WithHalfTable();
        }

        // LayerNorm(rel_embeddings) (norm_rel_ebd = layer_norm), shared by every layer's position projections.
        int relRows = 2 * config.PositionBuckets;
        ReadOnlySpan<float> relEmbeddings = encoder.Child("rel_embeddings").Matrix("weight", relRows, hidden).Span;
        var relNorm = LayerNormWeights.Load(encoder.Child("LayerNorm"), hidden, eps);
        float[] normalisedRel = new float[relRows * hidden];
        relNorm.Forward(pool, relEmbeddings, default, normalisedRel, relRows);

        var layers = new EncoderLayer[config.NumHiddenLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            WeightLoader layer = encoder.Child("layer").Child(i.ToString(CultureInfo.InvariantCulture));
            layers[i] = new EncoderLayer(
                DisentangledAttention.Load(layer.Child("attention").Child("self"), config, normalisedRel, pool, i),
                PostNormFeedForward.Load(layer, hidden, config.IntermediateSize, eps));
            if (precision == ModelPrecision.Int8)
            {
                layers[i] = layers[i].WithInt8Weights(int8Plan);
            }
        }

        var pooler = Linear.Load(root.Child("pooler").Child("dense"), hidden, hidden);
        if (precision == ModelPrecision.Int8)
        {
            pooler = pooler.WithInt8Weights(int8Plan);
        }

        var classifier = Linear.Load(root.Child("classifier"), hidden, config.NumLabels);
        var buckets = new RelativePositionBuckets(config.PositionBuckets, config.EffectiveMaxRelativePositions, rule);
        // A bundle's int8 layers run in int8 whatever was asked.
        bool int8 = precision == ModelPrecision.Int8 || layers.Any(l => l.IsInt8) || pooler.Quantized is not null;
        return new DebertaClassifier(config, pool, embeddings, layers, pooler, classifier, buckets, int8 ? ModelPrecision.Int8 : ModelPrecision.Float32);
    }

    private protected override EncoderWorkspace CreateWorkspace() =>
        new DebertaWorkspace(_config.HiddenSize, _config.IntermediateSize, _config.HeadSize, Pool.DegreeOfParallelism, Precision == ModelPrecision.Int8, _buckets);

    private protected override long AttentionScratchFor(int length) => DebertaWorkspace.ScratchFor(length, _config.PositionBuckets, _config.HeadSize);

    private protected override void Embed(EncoderWorkspace workspace) => _embeddings.Forward(Pool, workspace);

    // ContextPooler: pooler_hidden_act is gelu (the config check refuses others).
    private protected override void ActivatePooled(Span<float> pooled) => Gelu.Apply(pooled);

    private protected override string? DescribeInvalidTokenType(int tokenType) => null;

    private protected override bool AcceptsRowsBeyondMaxSequenceLength => true;
}
