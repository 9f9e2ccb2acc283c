namespace EdgeGuard;

/// <summary>Describes an opened guard model.</summary>
/// <param name="Path">What was opened.</param>
/// <param name="Format"><c>bundle</c>, <c>huggingface</c>, or the name another backend gives its files (e.g. <c>onnx</c>).</param>
/// <param name="Precision">Weight precision of the engine, e.g. <c>f32</c> or <c>int8</c>.</param>
/// <param name="Name">The model's name, if the file gives one.</param>
/// <param name="Labels">Class names, index = class id.</param>
/// <param name="UnsafeLabel">Index of the class that means unsafe.</param>
/// <param name="Threshold">The model's own decision threshold.</param>
/// <param name="Layers">Encoder layers.</param>
/// <param name="HiddenSize">Hidden size.</param>
/// <param name="MaxSequenceLength">Most tokens one window may hold.</param>
/// <param name="VocabularySize">Rows of the embedding table.</param>
public sealed record GuardModelInfo(
    string Path, string Format, string Precision, string? Name, IReadOnlyList<string> Labels, int UnsafeLabel, float Threshold,
    int Layers, int HiddenSize, int MaxSequenceLength, int VocabularySize)
{
    /// <summary>The model's architecture (its Hugging Face <c>model_type</c>), when the backend knows it.</summary>
    public string? Architecture { get; init; }
}
