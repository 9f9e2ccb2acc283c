namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>
/// Fixed facts of the EdgeGuard bundle: a GGUF v3 file with the metadata keys in <see cref="BundleKeys"/>.
/// The design and its compatibility rules are in <c>docs/decisions/0001-bundle-format.md</c> and
/// <c>docs/decisions/0010-model-agnostic-bundles.md</c>.
/// </summary>
public static class BundleFormat
{
    /// <summary>
    /// The newest bundle format version this runtime reads and writes. A file's version is the oldest runtime format
    /// that can execute it correctly, so the writer stamps <see cref="ModelAgnosticVersion"/> unless the file needs
    /// more (<see cref="Q8TableVersion"/>); readers refuse anything newer.
    /// </summary>
    public const uint CurrentVersion = 4;

    /// <summary>The version of DeBERTa-v3 bundles with float weights only (<see cref="PrecisionF32"/>), which runtimes since version 1 read.</summary>
    public const uint Float32Version = 1;

    /// <summary>The version of DeBERTa-v3 bundles with int8 linear layers (<see cref="PrecisionInt8"/>).</summary>
    public const uint Int8Version = 2;

    /// <summary>
    /// The version of model-agnostic bundles: any architecture (<c>general.architecture</c> is the config's
    /// <c>model_type</c>), any tokenizer kind carried as its files, classifier metadata optional, and each
    /// architecture's precomputed tensors under its own name.
    /// </summary>
    public const uint ModelAgnosticVersion = 3;

    /// <summary>
    /// The version of int8 bundles that store a lookup table (the word embeddings) as ggml Q8_0 blocks; version 3
    /// stores it as float16. A file is stamped 4 only when it holds a Q8_0 tensor, which earlier runtimes cannot read.
    /// </summary>
    public const uint Q8TableVersion = 4;

    /// <summary>The architecture every version 1 and 2 bundle holds: DeBERTa-v2/v3.</summary>
    public const string LegacyArchitecture = "deberta-v2";

    /// <summary>The tokenizer kind every version 1 and 2 bundle holds, as <c>edgeguard.tokenizer.spm_model</c>.</summary>
    public const string LegacyTokenizerKind = "spm-unigram";

    /// <summary>The file name of the SentencePiece model of a version 1 or 2 bundle.</summary>
    public const string LegacyTokenizerFile = "spm.model";

    /// <summary>Alignment of tensor data: one cache line, and a whole number of AVX-512 and NEON vectors.</summary>
    public const uint Alignment = 64;

    /// <summary>Value of <c>edgeguard.precision</c> for float32 weights.</summary>
    public const string PrecisionF32 = "f32";

    /// <summary>Value of <c>edgeguard.precision</c> for int8 linear layers.</summary>
    public const string PrecisionInt8 = "int8";

    /// <summary>Longest architecture name, tokenizer kind or tokenizer file name a bundle may hold.</summary>
    public const int MaxNameLength = 64;

    /// <summary>Most files a bundled tokenizer may have.</summary>
    public const int MaxTokenizerFiles = 8;
}
