using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Deberta;

namespace EdgeGuard.Backends;

/// <summary>
/// The built-in DeBERTa-v3 engine as an <see cref="ISequenceClassifier"/>: it owns the weights the engine reads in place
/// and the worker pool it computes on, and releases both (weights first) when disposed.
/// </summary>
internal sealed class NativeClassifier(DebertaClassifier engine, ITensorSource weights, WorkerPool pool) : ISequenceClassifier
{
    /// <summary>The engine, for diagnostics that need more than logits.</summary>
    public DebertaClassifier Engine { get; } = engine;

    public int NumLabels => Engine.NumLabels;

    public int MaxSequenceLength => Engine.MaxSequenceLength;

    public int Threads => pool.DegreeOfParallelism;

    /// <remarks>DeBERTa-v3 has no token type embeddings (type_vocab_size 0): <paramref name="tokenTypeIds"/> is checked for size only and ignored.</remarks>
    public void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits, CancellationToken cancellationToken = default)
    {
        if (tokenTypeIds.Length != inputIds.Length)
        {
            throw new ArgumentException($"tokenTypeIds has {tokenTypeIds.Length} values for {inputIds.Length} ids; they share the batch × seqLen layout.", nameof(tokenTypeIds));
        }

        Engine.Forward(inputIds, validLengths, batch, seqLen, logits, cancellationToken);
    }

    public void Dispose()
    {
        weights.Dispose();
        pool.Dispose();
    }
}
