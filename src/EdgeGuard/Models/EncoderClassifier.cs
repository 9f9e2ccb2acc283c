using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Models;

/// <summary>
/// A sequence classifier built as an encoder (embeddings, post-LayerNorm layers) and a head on the first token, as
/// every BERT-family and DeBERTa classifier is: the forward pass, input checks and workspace reuse they share.
/// Each architecture supplies its embeddings, attention, pooling and head.
/// </summary>
/// <remarks>
/// Weights are used where the <see cref="ModelFiles.ITensorSource"/> holds them (zero-copy for aligned F32), so the
/// source must stay open while the classifier is in use. Rows are packed without their padding: padding never costs
/// compute and cannot influence valid positions. Attention memory grows with the square of the longest row.
/// </remarks>
public abstract class EncoderClassifier
{
    private readonly Stack<EncoderWorkspace> _idleWorkspaces = new();
    private readonly EncoderLayer[] _layers;
    private readonly Linear _classifier;

    private protected EncoderClassifier(IModelConfig config, WorkerPool pool, EncoderLayer[] layers, Linear pooler, Linear classifier, ModelPrecision precision)
    {
        Config = config;
        Pool = pool;
        _layers = layers;
        Pooler = pooler;
        _classifier = classifier;
        Precision = precision;
        HiddenSize = config.HiddenSize;
    }

    /// <summary>The validated config.</summary>
    public IModelConfig Config { get; }

    /// <summary>How the dense layers compute.</summary>
    public ModelPrecision Precision { get; }

    /// <summary>Width of the hidden states and of the pooled output.</summary>
    public int HiddenSize { get; }

    /// <summary>Number of logits per row.</summary>
    public int NumLabels => _classifier.OutFeatures;

    /// <summary>The longest row the model accepts (its position table's reach); callers split longer input into windows.</summary>
    public abstract int MaxSequenceLength { get; }

    /// <summary>The worker threads every forward runs on.</summary>
    private protected WorkerPool Pool { get; }

    /// <summary>The dense layer of the pooler (token 0's state → pooled output), for export.</summary>
    private protected Linear Pooler { get; }

    /// <summary>The encoder layers, for export.</summary>
    private protected IReadOnlyList<EncoderLayer> Layers => _layers;

    /// <summary>The names of the encoder's and pooler's linear layers (the ones int8 can quantise), in order.</summary>
    internal IReadOnlyList<string> LinearLayerNames => [.. _layers.SelectMany(l => l.Linears).Append(Pooler).Select(l => l.Name)];

    /// <summary>The int8 linear layers (encoder and pooler), for writing them into a bundle.</summary>
    internal IEnumerable<Linear> Int8Linears => _layers.SelectMany(l => l.Linears).Append(Pooler).Where(l => l.Quantized is not null);

    /// <summary>Tables this engine keeps in float16 (the word embeddings of an int8 engine), for writing them into a bundle.</summary>
    internal abstract IEnumerable<EmbeddingTable> HalfTables { get; }

    /// <summary>Input-independent tensors this architecture computed at load (name under the architecture's namespace, rows, columns, values), for writing them into a bundle.</summary>
    internal virtual IEnumerable<(string Name, int Rows, int Columns, float[] Values)> PrecomputedTensors => [];

    /// <summary>
    /// What this int8 engine prepared, for an int8 bundle: its packed linear layers, float16 tables and precomputed
    /// tensors. The engine must have been loaded in <see cref="ModelPrecision.Int8"/>.
    /// </summary>
    public Int8Conversion ToInt8Conversion()
    {
        if (Precision != ModelPrecision.Int8)
        {
            throw new InvalidOperationException("Only an int8 engine has int8 weights to store; load the model with ModelPrecision.Int8.");
        }

        Linear[] linears = [.. Int8Linears];
        return new Int8Conversion(
            [.. linears.Select(l => new Int8Conversion.PackedLinear(l.Name, l.Quantized!))],
            [.. HalfTables.Select(t => new Int8Conversion.HalfTable(t.TensorName, t.Rows, t.Width, t.HalfTable))],
            [.. PrecomputedTensors.Select(t => new Int8Conversion.Precomputed(t.Name, t.Rows, t.Columns, t.Values))],
            linears.Length == 0 ? Kernels.Int8.PackedInt8Matrix.FullWeightLimit : linears[0].Quantized!.WeightLimit);
    }

    /// <summary>
    /// Classifies <paramref name="batch"/> rows of token ids. Thread-safe; allocation-free once buffers for the
    /// largest batch shape seen have been made.
    /// </summary>
    /// <param name="inputIds"><c>batch × seqLen</c> ids, row-major, each row right-padded (padding ids are not read).</param>
    /// <param name="tokenTypeIds">Empty (all 0), or <c>batch × seqLen</c> segment ids laid out like <paramref name="inputIds"/>.</param>
    /// <param name="validLengths">Tokens per row, each in <c>[1, seqLen]</c>.</param>
    /// <param name="batch">Rows.</param>
    /// <param name="seqLen">Padded row length.</param>
    /// <param name="logits"><c>batch × NumLabels</c> outputs.</param>
    /// <param name="cancellationToken">Checked before each layer.</param>
    /// <exception cref="ArgumentException">Inconsistent sizes, or an id outside the vocabulary (or a token type outside the model's) at a valid position.</exception>
    public void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits, CancellationToken cancellationToken = default) =>
        ForwardCore(inputIds, tokenTypeIds, validLengths, batch, seqLen, logits, default, default, cancellationToken);

    /// <summary>
    /// As <see cref="Forward(ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, int, int, Span{float}, CancellationToken)"/>, also
    /// copying the pooled output <c>[batch, hidden]</c> and the last hidden state <c>[batch, seqLen, hidden]</c>
    /// (padding positions are written as 0: they are not computed). Either may be empty to skip it.
    /// </summary>
    public void Forward(
        ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits, Span<float> pooledOutput, Span<float> lastHiddenState)
    {
        if (!pooledOutput.IsEmpty && pooledOutput.Length != batch * HiddenSize)
        {
            throw new ArgumentException($"pooledOutput has {pooledOutput.Length} values for {batch} rows of {HiddenSize}.", nameof(pooledOutput));
        }

        if (!lastHiddenState.IsEmpty && lastHiddenState.Length != (long)batch * seqLen * HiddenSize)
        {
            throw new ArgumentException($"lastHiddenState has {lastHiddenState.Length} values for {batch}×{seqLen} positions of {HiddenSize}.", nameof(lastHiddenState));
        }

        ForwardCore(inputIds, tokenTypeIds, validLengths, batch, seqLen, logits, pooledOutput, lastHiddenState, CancellationToken.None);
    }

    /// <summary>As the overload with token types, every token of type 0 (a single segment, or a model without token types).</summary>
    public void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits, CancellationToken cancellationToken = default) =>
        ForwardCore(inputIds, default, validLengths, batch, seqLen, logits, default, default, cancellationToken);

    /// <summary>As the overload with token types, every token of type 0.</summary>
    public void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits, Span<float> pooledOutput, Span<float> lastHiddenState) =>
        Forward(inputIds, default, validLengths, batch, seqLen, logits, pooledOutput, lastHiddenState);

    /// <summary>Whether rows longer than <see cref="MaxSequenceLength"/> are defined (relative positions saturate); absolute position tables end there.</summary>
    private protected virtual bool AcceptsRowsBeyondMaxSequenceLength => false;

    /// <summary>A new workspace for this model's buffers.</summary>
    private protected abstract EncoderWorkspace CreateWorkspace();

    /// <summary>Per-worker attention scratch a row of <paramref name="length"/> tokens needs, to refuse impossible lengths up front.</summary>
    private protected abstract long AttentionScratchFor(int length);

    /// <summary>Writes the embedded packed tokens to <see cref="EncoderWorkspace.Hidden"/>; ids and types are checked.</summary>
    private protected abstract void Embed(EncoderWorkspace workspace);

    /// <summary>The pooler's activation on <paramref name="pooled"/> (dense output of token 0), in place.</summary>
    private protected abstract void ActivatePooled(Span<float> pooled);

    /// <summary>Checks the token types of one valid row; a model without token types accepts only 0.</summary>
    private protected abstract string? DescribeInvalidTokenType(int tokenType);

    private void ForwardCore(
        ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, ReadOnlySpan<int> validLengths, int batch, int seqLen,
        Span<float> logits, Span<float> pooledOutput, Span<float> lastHiddenState, CancellationToken cancellationToken)
    {
        CheckInputs(inputIds, tokenTypeIds, validLengths, batch, seqLen, logits);
        cancellationToken.ThrowIfCancellationRequested();
        EncoderWorkspace workspace = RentWorkspace();
        try
        {
            workspace.Prepare(inputIds, tokenTypeIds, validLengths, batch, seqLen);
            Embed(workspace);

            // A verdict reads token 0 of the last layer only, so that layer computes no other outputs unless the caller
            // asked for every token's state.
            int full = lastHiddenState.IsEmpty && _layers.Length > 0 ? _layers.Length - 1 : _layers.Length;
            for (int i = 0; i < full; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                _layers[i].Forward(Pool, workspace);
            }

            if (full < _layers.Length)
            {
                cancellationToken.ThrowIfCancellationRequested();
                _layers[full].ForwardClassTokens(Pool, workspace);
            }
            else
            {
                workspace.GatherClassTokens();
            }

            Span<float> pooled = workspace.Pooled.AsSpan(0, batch * HiddenSize);
            Pooler.Forward(Pool, workspace.Cls, batch, pooled, workspace.Quantized ? workspace.QuantizedActivations : null);
            ActivatePooled(pooled);
            _classifier.Forward(Pool, pooled, batch, logits);

            if (!pooledOutput.IsEmpty)
            {
                pooled.CopyTo(pooledOutput);
            }

            if (!lastHiddenState.IsEmpty)
            {
                workspace.CopyHiddenState(seqLen, lastHiddenState);
            }
        }
        finally
        {
            ReturnWorkspace(workspace);
        }
    }

    private void CheckInputs(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(seqLen, 1);
        if (inputIds.Length != (long)batch * seqLen)
        {
            throw new ArgumentException($"inputIds has {inputIds.Length} ids for {batch}×{seqLen}.", nameof(inputIds));
        }

        if (!tokenTypeIds.IsEmpty && tokenTypeIds.Length != inputIds.Length)
        {
            throw new ArgumentException($"tokenTypeIds has {tokenTypeIds.Length} ids for {batch}×{seqLen}; pass none or one per input id.", nameof(tokenTypeIds));
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
        if (AttentionScratchFor(seqLen) > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(seqLen), seqLen, "Rows this long do not fit the attention scratch; split the input into windows of MaxSequenceLength.");
        }

        long tokens = 0;
        int vocab = Config.VocabSize;
        for (int b = 0; b < batch; b++)
        {
            int length = validLengths[b];
            if (length < 1 || length > seqLen)
            {
                throw new ArgumentException($"validLengths[{b}] = {length} is outside [1, {seqLen}].", nameof(validLengths));
            }

            if (length > MaxSequenceLength && !AcceptsRowsBeyondMaxSequenceLength)
            {
                throw new ArgumentException($"validLengths[{b}] = {length} exceeds the {MaxSequenceLength} positions the model has; split the input into windows.", nameof(validLengths));
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

            if (!tokenTypeIds.IsEmpty)
            {
                ReadOnlySpan<int> types = tokenTypeIds.Slice(b * seqLen, length);
                for (int i = 0; i < types.Length; i++)
                {
                    if (types[i] != 0 && DescribeInvalidTokenType(types[i]) is { } problem)
                    {
                        throw new ArgumentException($"tokenTypeIds[{(b * seqLen) + i}] = {types[i]} (row {b}, position {i}): {problem}.", nameof(tokenTypeIds));
                    }
                }
            }
        }

        if (tokens * Math.Max(Config.IntermediateSize, HiddenSize) > Array.MaxLength)
        {
            throw new ArgumentException($"{tokens} tokens in one batch exceed the activation buffers; use smaller batches.", nameof(inputIds));
        }
    }

    private EncoderWorkspace RentWorkspace()
    {
        lock (_idleWorkspaces)
        {
            if (_idleWorkspaces.TryPop(out EncoderWorkspace? workspace))
            {
                return workspace;
            }
        }

        return CreateWorkspace();
    }

    private void ReturnWorkspace(EncoderWorkspace workspace)
    {
        lock (_idleWorkspaces)
        {
            _idleWorkspaces.Push(workspace);
        }
    }
}
