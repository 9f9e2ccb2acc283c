namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>Everything in a bundle besides the weights: what <see cref="BundleWriter.Write(string, BundleContents, ITensorSource, IProgress{double}?)"/> stores.</summary>
/// <param name="ConfigJson">The model's Hugging Face <c>config.json</c> text; must be a JSON object. Stored compact.</param>
/// <param name="TokenizerModel">The SentencePiece <c>spm.model</c> bytes; stored losslessly.</param>
/// <param name="Labels">Class names, index = class id; at least one, none empty.</param>
/// <param name="UnsafeLabel">The class id that means unsafe.</param>
/// <param name="Threshold">Decision threshold on P(unsafe), strictly between 0 and 1.</param>
/// <param name="Precision">Weight precision: <see cref="BundleFormat.PrecisionF32"/> (the only one format version 1 has).</param>
/// <param name="Name">Optional human-readable model name (<c>general.name</c>).</param>
/// <param name="Source">Optional provenance: a Hub id, a training run (<c>edgeguard.source</c>).</param>
public sealed record BundleContents(
    string ConfigJson,
    byte[] TokenizerModel,
    IReadOnlyList<string> Labels,
    int UnsafeLabel,
    float Threshold,
    string Precision,
    string? Name,
    string? Source);
