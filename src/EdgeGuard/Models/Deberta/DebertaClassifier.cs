using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Models.Deberta;

/// <summary>
/// A DeBERTa-v3 sequence classifier (<c>DebertaV2ForSequenceClassification</c>) in float32: embeddings,
/// encoder layers with disentangled attention, context pooler, linear classifier. This is the reference engine
/// the golden fixtures pin. Relative positions follow the Hugging Face bucket rule.
/// </summary>
/// <remarks>
/// Weights are used where the <see cref="ITensorSource"/> holds them (zero-copy for aligned F32), so the source
/// must stay open while the classifier is in use. Rows are packed without their padding: padding never costs
/// compute and cannot influence valid positions. Attention memory grows with the square of the longest row.
/// </remarks>
public sealed class DebertaClassifier
{
    private readonly WorkerPool _pool;
    private readonly Embeddings _embeddings;
    private readonly EncoderLayer[] _layers;
    private readonly ContextPooler _pooler;
    private readonly Linear _classifier;
    private readonly RelativePositionBuckets _buckets;
    private readonly Stack<DebertaWorkspace> _idleWorkspaces = new();
    private readonly int _hidden;
    private readonly int _intermediate;
    private readonly int _vocabSize;
    private readonly int _positionBuckets;
    private readonly int _headSize;

    private DebertaClassifier(
        DebertaConfig config, WorkerPool pool, Embeddings embeddings, EncoderLayer[] layers, ContextPooler pooler, Linear classifier, RelativePositionBuckets buckets)
    {
        Config = config;
        _pool = pool;
        _embeddings = embeddings;
        _layers = layers;
        _pooler = pooler;
        _classifier = classifier;
        _buckets = buckets;
        _hidden = config.HiddenSize;
        _intermediate = config.IntermediateSize;
        _vocabSize = config.VocabSize;
        _positionBuckets = config.PositionBuckets;
        _headSize = config.HeadSize;
        MaxSequenceLength = config.MaxPositionEmbeddings;
    }

    /// <summary>The int8 linear layers (encoder and pooler), for writing them into a bundle.</summary>
    internal IEnumerable<Linear> Int8Linears => _layers.SelectMany(l => l.Linears).Append(_pooler.Dense).Where(l => l.Quantized is not null);

    /// <summary>The word embedding table in float16 and its tensor name, when this engine holds it so (int8).</summary>
    internal (string Name, ReadOnlyMemory<Half> Table) HalfWordEmbeddings => (_embeddings.TableTensor, _embeddings.HalfTable);

    /// <summary>Layer <paramref name="layer"/>'s position projections, <c>[2·position_buckets, hidden]</c>, for writing them into a bundle.</summary>
    internal (float[] Key, float[] Query) PositionProjections(int layer) => _layers[layer].Attention.PositionProjections();

    /// <summary>How the dense layers compute.</summary>
    public DebertaPrecision Precision { get; private init; }

    /// <summary>The validated config.</summary>
    public DebertaConfig Config { get; }

    /// <summary>Number of logits per row.</summary>
    public int NumLabels => _classifier.OutFeatures;

    /// <summary>
    /// The window length the model was trained for (max_position_embeddings); callers should split longer input.
    /// <see cref="Forward(ReadOnlySpan{int}, ReadOnlySpan{int}, int, int, Span{float}, CancellationToken)"/> accepts
    /// longer rows, as Hugging Face does, with relative positions saturating.
    /// </summary>
    public int MaxSequenceLength { get; }

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
        Load(config, weights, pool, rule, DebertaPrecision.Float32);

    /// <summary>As <see cref="Load(DebertaConfig, ITensorSource, WorkerPool)"/>, computing in <paramref name="precision"/>.</summary>
    /// <param name="precision">float32 (the reference), or int8 dense layers quantised from the float32 weights at load,
    /// to the weight limit this process's kernel multiplies fastest (<see cref="Int8Gemm.PreferredWeightLimit"/>).</param>
    public static DebertaClassifier Load(DebertaConfig config, ITensorSource weights, WorkerPool pool, DebertaPrecision precision) =>
        Load(config, weights, pool, RelativePositionRule.HuggingFace, precision);

    /// <summary>As <see cref="Load(DebertaConfig, ITensorSource, WorkerPool, DebertaPrecision)"/>, int8 weights quantised to ±<paramref name="int8WeightLimit"/>.</summary>
    /// <param name="int8WeightLimit"><see cref="PackedInt8Matrix.FullWeightLimit"/> or <see cref="PackedInt8Matrix.SevenBitWeightLimit"/>; unused in float32 and for layers a bundle stores as int8.</param>
    public static DebertaClassifier Load(DebertaConfig config, ITensorSource weights, WorkerPool pool, DebertaPrecision precision, int int8WeightLimit) =>
        Load(config, weights, pool, RelativePositionRule.HuggingFace, precision, int8WeightLimit);

    internal static DebertaClassifier Load(DebertaConfig config, ITensorSource weights, WorkerPool pool, RelativePositionRule rule, DebertaPrecision precision) =>
        Load(config, weights, pool, rule, precision, Int8Gemm.PreferredWeightLimit(Int8Gemm.Selected));

    internal static DebertaClassifier Load(DebertaConfig config, ITensorSource weights, WorkerPool pool, RelativePositionRule rule, DebertaPrecision precision, int int8WeightLimit)
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
        if (precision == DebertaPrecision.Int8)
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
            layers[i] = EncoderLayer.Load(encoder.Child("layer").Child(i.ToString(System.Globalization.CultureInfo.InvariantCulture)), config, normalisedRel, pool, i);
            if (precision == DebertaPrecision.Int8)
            {
                layers[i] = layers[i].WithInt8Weights(int8WeightLimit);
            }
        }

        var pooler = ContextPooler.Load(root.Child("pooler"), config);
        if (precision == DebertaPrecision.Int8)
        {
            pooler = pooler.WithInt8Weights(int8WeightLimit);
        }

        var classifier = Linear.Load(root.Child("classifier"), hidden, config.NumLabels);
        var buckets = new RelativePositionBuckets(config.PositionBuckets, config.EffectiveMaxRelativePositions, rule);
        // A version-2 bundle's int8 layers run in int8 whatever was asked.
        bool int8 = precision == DebertaPrecision.Int8 || (layers.Length > 0 && layers[0].IsInt8);
        return new DebertaClassifier(config, pool, embeddings, layers, pooler, classifier, buckets) { Precision = int8 ? DebertaPrecision.Int8 : DebertaPrecision.Float32 };
    }

    /// <summary>
    /// Classifies <paramref name="batch"/> rows of token ids. Thread-safe; allocation-free once buffers for the
    /// largest batch shape seen have been made.
    /// </summary>
    /// <param name="inputIds"><c>batch × seqLen</c> ids, row-major, each row right-padded (padding ids are not read).</param>
    /// <param name="validLengths">Tokens per row, each in <c>[1, seqLen]</c>.</param>
    /// <param name="batch">Rows.</param>
    /// <param name="seqLen">Padded row length.</param>
    /// <param name="logits"><c>batch × NumLabels</c> outputs.</param>
    /// <param name="cancellationToken">Checked before each layer.</param>
    /// <exception cref="ArgumentException">Inconsistent sizes, or a token id outside <c>[0, vocab_size)</c> at a valid position.</exception>
    public void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits, CancellationToken cancellationToken = default) =>
        ForwardCore(inputIds, validLengths, batch, seqLen, logits, default, default, cancellationToken);

    /// <summary>
    /// As <see cref="Forward(ReadOnlySpan{int}, ReadOnlySpan{int}, int, int, Span{float}, CancellationToken)"/>, also
    /// copying the pooled output <c>[batch, hidden]</c> and the last hidden state <c>[batch, seqLen, hidden]</c>
    /// (padding positions are written as 0: they are not computed). Either may be empty to skip it.
    /// </summary>
    public void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits, Span<float> pooledOutput, Span<float> lastHiddenState)
    {
        if (!pooledOutput.IsEmpty && pooledOutput.Length != batch * _hidden)
        {
            throw new ArgumentException($"pooledOutput has {pooledOutput.Length} values for {batch} rows of {_hidden}.", nameof(pooledOutput));
        }

        if (!lastHiddenState.IsEmpty && lastHiddenState.Length != (long)batch * seqLen * _hidden)
        {
            throw new ArgumentException($"lastHiddenState has {lastHiddenState.Length} values for {batch}×{seqLen} positions of {_hidden}.", nameof(lastHiddenState));
        }

        ForwardCore(inputIds, validLengths, batch, seqLen, logits, pooledOutput, lastHiddenState, CancellationToken.None);
    }

    private void ForwardCore(
        ReadOnlySpan<int> inputIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits, Span<float> pooledOutput, Span<float> lastHiddenState, CancellationToken cancellationToken)
    {
        CheckInputs(inputIds, validLengths, batch, seqLen, logits);
        cancellationToken.ThrowIfCancellationRequested();
        DebertaWorkspace workspace = RentWorkspace();
        try
        {
            workspace.Prepare(inputIds, validLengths, batch, seqLen, _buckets);
            _embeddings.Forward(_pool, workspace);

            // A verdict reads token 0 of the last layer only, so that layer computes no other outputs unless the caller
            // asked for every token's state.
            int full = lastHiddenState.IsEmpty && _layers.Length > 0 ? _layers.Length - 1 : _layers.Length;
            for (int i = 0; i < full; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                _layers[i].Forward(_pool, workspace);
            }

            if (full < _layers.Length)
            {
                cancellationToken.ThrowIfCancellationRequested();
                _layers[full].ForwardClassTokens(_pool, workspace);
            }
            else
            {
                workspace.GatherClassTokens();
            }

            _pooler.Forward(_pool, workspace.Cls, batch, workspace.Pooled, workspace.Quantized ? workspace.QuantizedActivations : null);
            _classifier.Forward(_pool, workspace.Pooled.AsSpan(0, batch * _hidden), batch, logits);

            if (!pooledOutput.IsEmpty)
            {
                workspace.Pooled.AsSpan(0, batch * _hidden).CopyTo(pooledOutput);
            }

            if (!lastHiddenState.IsEmpty)
            {
                CopyHiddenState(workspace, seqLen, lastHiddenState);
            }
        }
        finally
        {
            ReturnWorkspace(workspace);
        }
    }

    private void CheckInputs(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(seqLen, 1);
        if (inputIds.Length != (long)batch * seqLen)
        {
            throw new ArgumentException($"inputIds has {inputIds.Length} ids for {batch}×{seqLen}.", nameof(inputIds));
        }

        if (validLengths.Length != batch)
        {
            throw new ArgumentException($"validLengths has {validLengths.Length} entries for {batch} rows.", nameof(validLengths));
        }

        if (logits.Length != batch * NumLabels)
        {
            throw new ArgumentException($"logits has {logits.Length} values for {batch} rows of {NumLabels} labels.", nameof(logits));
        }

        // Per-worker attention scratch is one array; refuse lengths whose square cannot be allocated.
        if (DebertaWorkspace.ScratchFor(seqLen, _positionBuckets, _headSize) > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(seqLen), seqLen, "Rows this long do not fit the attention scratch; split the input into windows of MaxSequenceLength.");
        }

        long tokens = 0;
        int vocab = _vocabSize;
        for (int b = 0; b < batch; b++)
        {
            int length = validLengths[b];
            if (length < 1 || length > seqLen)
            {
                throw new ArgumentException($"validLengths[{b}] = {length} is outside [1, {seqLen}].", nameof(validLengths));
            }

            tokens += length;
            ReadOnlySpan<int> row = inputIds.Slice(b * seqLen, length);
            for (int i = 0; i < row.Length; i++)
            {
                if ((uint)row[i] >= (uint)vocab)
                {
                    throw new ArgumentException($"inputIds[{(b * seqLen) + i}] = {row[i]} (row {b}, position {i}) is outside the vocabulary [0, {vocab}).", nameof(inputIds));
                }
            }
        }

        if (tokens * _intermediate > Array.MaxLength)
        {
            throw new ArgumentException($"{tokens} tokens in one batch exceed the activation buffers; use smaller batches.", nameof(inputIds));
        }
    }

    private void CopyHiddenState(DebertaWorkspace workspace, int seqLen, Span<float> lastHiddenState)
    {
        for (int b = 0; b < workspace.Batch; b++)
        {
            int length = workspace.Lengths[b];
            Span<float> row = lastHiddenState.Slice(b * seqLen * _hidden, seqLen * _hidden);
            workspace.Hidden.AsSpan(workspace.Offsets[b] * _hidden, length * _hidden).CopyTo(row);
            row[(length * _hidden)..].Clear();
        }
    }

    private DebertaWorkspace RentWorkspace()
    {
        lock (_idleWorkspaces)
        {
            if (_idleWorkspaces.TryPop(out DebertaWorkspace? workspace))
            {
                return workspace;
            }
        }

        return new DebertaWorkspace(_hidden, _intermediate, _headSize, _pool.DegreeOfParallelism, Precision == DebertaPrecision.Int8);
    }

    private void ReturnWorkspace(DebertaWorkspace workspace)
    {
        lock (_idleWorkspaces)
        {
            _idleWorkspaces.Push(workspace);
        }
    }
}
