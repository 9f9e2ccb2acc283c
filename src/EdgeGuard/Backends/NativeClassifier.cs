using EdgeGuard.Kernels.Threading;
using EdgeGuard.Models;

namespace EdgeGuard.Backends;

/// <summary>
/// The built-in engine as an <see cref="ISequenceClassifier"/>: it owns the model files the engine reads in place and
/// the worker pool it computes on, and releases both (files first) when disposed.
/// </summary>
internal sealed class NativeClassifier(EncoderClassifier engine, IDisposable files, WorkerPool pool) : ISequenceClassifier
{
    /// <summary>The engine, for diagnostics that need more than logits.</summary>
    public EncoderClassifier Engine { get; } = engine;

    public int NumLabels => Engine.NumLabels;

    public int MaxSequenceLength => Engine.MaxSequenceLength;

    public int Threads => pool.DegreeOfParallelism;

    public void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits, CancellationToken cancellationToken = default) =>
        Engine.Forward(inputIds, tokenTypeIds, validLengths, batch, seqLen, logits, cancellationToken);

    public void Dispose()
    {
        files.Dispose();
        pool.Dispose();
    }
}
