namespace EdgeGuard.Backends;

/// <summary>
/// The engine behind a <see cref="Guard"/>: turns batches of token ids into class logits. The built-in DeBERTa-v3
/// engine is one; an optional assembly (e.g. the ONNX Runtime backend) supplies others through
/// <see cref="Guard.Create(GuardBackend, GuardOptions?)"/>.
/// </summary>
/// <remarks>
/// Implementations must be safe to call from many threads at once: one <see cref="Guard"/> serves concurrent callers
/// and does not serialise them. <see cref="IDisposable.Dispose"/> is called once, after the last call has returned.
/// </remarks>
public interface ISequenceClassifier : IDisposable
{
    /// <summary>Logits per row.</summary>
    int NumLabels { get; }

    /// <summary>The most tokens one row may hold, special tokens included; the guard splits longer input into windows.</summary>
    int MaxSequenceLength { get; }

    /// <summary>Threads one call computes on.</summary>
    int Threads { get; }

    /// <summary>Classifies <paramref name="batch"/> rows of token ids.</summary>
    /// <param name="inputIds"><c>batch × seqLen</c> ids, row-major, each row right-padded; padding ids are not read.</param>
    /// <param name="tokenTypeIds">The segment of each id, in the same <c>batch × seqLen</c> layout as <paramref name="inputIds"/>
    /// (as the tokenizer's <see cref="Tokenization.PairTemplate"/> writes them: 0 for the first segment, 1 for the second
    /// of a BERT-style pair); padding is not read. Engines without token type embeddings (DeBERTa-v3, RoBERTa) accept and
    /// ignore them.</param>
    /// <param name="validLengths">Tokens per row, each in <c>[1, seqLen]</c>.</param>
    /// <param name="batch">Rows.</param>
    /// <param name="seqLen">Padded row length.</param>
    /// <param name="logits"><c>batch × NumLabels</c> outputs, row-major.</param>
    /// <param name="cancellationToken">Stops the call early with <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="ArgumentException">Inconsistent sizes, or a token id outside the vocabulary (or a token type outside the model's) at a valid position.</exception>
    void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits, CancellationToken cancellationToken = default);
}
