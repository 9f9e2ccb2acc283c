using System.Globalization;
using System.Numerics.Tensors;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Models.Bert;

/// <summary>
/// A BERT-family sequence classifier exactly as Hugging Face's <c>BertForSequenceClassification</c> and
/// <c>RobertaForSequenceClassification</c> compute it: embeddings (words, absolute positions, token types), post-LayerNorm
/// encoder layers with scaled dot-product attention and exact GELU, then on the first token a dense layer + tanh (BERT's
/// pooler, or the first half of RoBERTa's classification head) and a linear classifier.
/// </summary>
public sealed class BertClassifier : EncoderClassifier
{
    private readonly BertEmbeddings _embeddings;
    private readonly BertConfig _config;

    private BertClassifier(BertConfig config, WorkerPool pool, BertEmbeddings embeddings, EncoderLayer[] layers, Linear pooler, Linear classifier, ModelPrecision precision)
        : base(config, pool, layers, pooler, classifier, precision)
    {
        _config = config;
        _embeddings = embeddings;
    }

    /// <summary>The validated config.</summary>
    public new BertConfig Config => _config;

    /// <summary>The position table's reach: <c>max_position_embeddings</c>, less RoBERTa's offset.</summary>
    public override int MaxSequenceLength => _config.MaxSequenceLength;

    internal override IEnumerable<EmbeddingTable> HalfTables => _embeddings.Words.HalfTable.IsEmpty ? [] : [_embeddings.Words];

    /// <summary>
    /// Validates <paramref name="config"/> and every weight the model needs (name and shape): <c>bert.*</c> with
    /// <c>bert.pooler.dense</c> and <c>classifier</c>, or <c>roberta.*</c> with <c>classifier.dense</c> and
    /// <c>classifier.out_proj</c>.
    /// </summary>
    /// <param name="precision">float32 (the reference), or int8 encoder and pooler layers quantised at load as <paramref name="int8Plan"/> says.</param>
    /// <exception cref="ModelFileException">An unsupported config, a missing or misshapen tensor, or weights for more layers than the config has.</exception>
    public static BertClassifier Load(BertConfig config, ITensorSource weights, WorkerPool pool, ModelPrecision precision, Int8Plan int8Plan)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(pool);
        config.Validate();
        bool roberta = config is RobertaConfig;
        string prefix = roberta ? "roberta" : "bert";
        config.ValidateAgainst(weights);

        int hidden = config.HiddenSize;
        float eps = (float)config.LayerNormEps;
        var root = new WeightLoader(weights);
        WeightLoader encoder = root.Child(prefix).Child("encoder");
        var embeddings = BertEmbeddings.Load(root.Child(prefix).Child("embeddings"), config);
        if (precision == ModelPrecision.Int8)
        {
            embeddings = embeddings.WithHalfTable();
        }

        var layers = new EncoderLayer[config.NumHiddenLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            WeightLoader layer = encoder.Child("layer").Child(i.ToString(CultureInfo.InvariantCulture));
            layers[i] = new EncoderLayer(
                ScaledDotProductAttention.Load(layer.Child("attention").Child("self"), hidden, config.NumAttentionHeads),
                PostNormFeedForward.Load(layer, hidden, config.IntermediateSize, eps));
            if (precision == ModelPrecision.Int8)
            {
                layers[i] = layers[i].WithInt8Weights(int8Plan);
            }
        }

        WeightLoader head = root.Child("classifier");
        var pooler = Linear.Load(roberta ? head.Child("dense") : root.Child("bert").Child("pooler").Child("dense"), hidden, hidden);
        if (precision == ModelPrecision.Int8)
        {
            pooler = pooler.WithInt8Weights(int8Plan);
        }

        var classifier = Linear.Load(roberta ? head.Child("out_proj") : head, hidden, config.NumLabels);

        // A bundle's int8 layers run in int8 whatever was asked.
        bool int8 = precision == ModelPrecision.Int8 || layers.Any(l => l.IsInt8) || pooler.Quantized is not null;
        return new BertClassifier(config, pool, embeddings, layers, pooler, classifier, int8 ? ModelPrecision.Int8 : ModelPrecision.Float32);
    }

    private protected override EncoderWorkspace CreateWorkspace() =>
        new(_config.HiddenSize, _config.IntermediateSize, _config.HeadSize, Pool.DegreeOfParallelism, Precision == ModelPrecision.Int8);

    private protected override long AttentionScratchFor(int length) => ScaledDotProductAttention.ScratchFor(length, _config.HeadSize);

    private protected override void Embed(EncoderWorkspace workspace) => _embeddings.Forward(Pool, workspace);

    private protected override void ActivatePooled(Span<float> pooled) => TensorPrimitives.Tanh(pooled, pooled);

    private protected override string? DescribeInvalidTokenType(int tokenType) =>
        (uint)tokenType < (uint)_config.TypeVocabSize ? null : $"the model has {_config.TypeVocabSize} token types (type_vocab_size)";
}
