namespace EdgeGuard.Onnx;

/// <summary>How <see cref="OnnxSequenceClassifier.Open"/> runs a model and checks its input.</summary>
public sealed record OnnxClassifierOptions
{
    /// <summary>Threads one call computes on (ONNX Runtime's intra-op threads); 0 means one per processor.</summary>
    public int Threads { get; init; }

    /// <summary>The most tokens one row may hold (the model's <c>max_position_embeddings</c>).</summary>
    public required int MaxSequenceLength { get; init; }

    /// <summary>Rows of the model's embedding table; ids at or above it are refused before they reach the graph.</summary>
    public required int VocabularySize { get; init; }

    /// <summary>
    /// When set, ONNX Runtime profiles every node of every call and writes its Chrome-trace JSON to a file whose name
    /// starts with this prefix when the classifier is disposed (for per-node timings; it slows the calls it watches).
    /// </summary>
    public string? ProfileOutputPrefix { get; init; }
}
