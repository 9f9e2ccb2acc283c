using EdgeGuard.ModelFiles.Gguf;

namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>Everything in a bundle besides the weights: what <see cref="BundleWriter"/> stores.</summary>
/// <param name="Architecture">The model's Hugging Face <c>model_type</c> (<c>general.architecture</c>).</param>
/// <param name="ConfigJson">The model's Hugging Face <c>config.json</c> text; must be a JSON object. Stored compact.</param>
/// <param name="Tokenizer">The tokenizer's kind and files; stored byte for byte.</param>
/// <param name="Classifier">Labels, unsafe label and threshold of a classifier; null for a model that is not one.</param>
/// <param name="Precision">Weight precision: <see cref="BundleFormat.PrecisionF32"/> or <see cref="BundleFormat.PrecisionInt8"/>.</param>
/// <param name="Name">Optional human-readable model name (<c>general.name</c>).</param>
/// <param name="Source">Optional provenance: a Hub id, a training run (<c>edgeguard.source</c>).</param>
/// <param name="ArchitectureMetadata">
/// Optional keys the architecture describes itself with for other GGUF tools (llama.cpp's <c>llama.block_count</c> …),
/// each under <c>{Architecture}.</c>; they carry no meaning for this runtime, which reads the config.
/// </param>
/// <param name="GenerationConfigJson">Optional: the model's <c>generation_config.json</c> text (a JSON object). Stored compact.</param>
public sealed record BundleContents(
    string Architecture,
    string ConfigJson,
    BundleTokenizer Tokenizer,
    BundleClassifier? Classifier,
    string Precision,
    string? Name,
    string? Source,
    IReadOnlyList<KeyValuePair<string, GgufValue>>? ArchitectureMetadata = null,
    string? GenerationConfigJson = null);

/// <summary>A tokenizer as a bundle carries it: its kind and its files, byte for byte.</summary>
/// <param name="Kind">The tokenizer kind (<c>spm-unigram</c>, <c>wordpiece</c>, <c>bpe-bytelevel</c>).</param>
/// <param name="Files">File name → contents; at least one file, none empty.</param>
public sealed record BundleTokenizer(string Kind, IReadOnlyDictionary<string, byte[]> Files);

/// <summary>What makes a model a classifier the guard can run: class names, the unsafe class and the threshold.</summary>
/// <param name="Labels">Class names, index = class id; at least one, none empty.</param>
/// <param name="UnsafeLabel">The class id that means unsafe.</param>
/// <param name="Threshold">Decision threshold on P(unsafe), strictly between 0 and 1.</param>
public sealed record BundleClassifier(IReadOnlyList<string> Labels, int UnsafeLabel, float Threshold);
