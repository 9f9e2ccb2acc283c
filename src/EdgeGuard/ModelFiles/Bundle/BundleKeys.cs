namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>
/// Metadata keys of an EdgeGuard bundle. Keys outside the <c>edgeguard.</c> namespace are GGUF's standard ones.
/// Types and meaning are documented in <c>docs/model-files.md</c>.
/// </summary>
public static class BundleKeys
{
    /// <summary>string, required: the Hugging Face <c>model_type</c> of the model (<see cref="BundleFormat.LegacyArchitecture"/> in versions 1 and 2).</summary>
    public const string Architecture = "general.architecture";

    /// <summary>string, optional: human-readable model name.</summary>
    public const string Name = "general.name";

    /// <summary>u32, required: the bundle format version (<see cref="BundleFormat.CurrentVersion"/>).</summary>
    public const string FormatVersion = "edgeguard.bundle.version";

    /// <summary>string, required: the model's Hugging Face <c>config.json</c>, compact.</summary>
    public const string ConfigJson = "edgeguard.config_json";

    /// <summary>string, optional: the model's Hugging Face <c>generation_config.json</c>, compact (a decoder's default generation settings).</summary>
    public const string GenerationConfigJson = "edgeguard.generation_config_json";

    /// <summary>string array, required in versions 1 and 2, in version 3 for classifiers (with <see cref="UnsafeLabel"/> and <see cref="Threshold"/>): class names, index = class id.</summary>
    public const string Labels = "edgeguard.labels";

    /// <summary>u32, required with <see cref="Labels"/>: the class id that means unsafe.</summary>
    public const string UnsafeLabel = "edgeguard.unsafe_label";

    /// <summary>f32, required with <see cref="Labels"/>: decision threshold on P(unsafe), in (0, 1).</summary>
    public const string Threshold = "edgeguard.threshold";

    /// <summary>u8 array, required in versions 1 and 2 (not used in 3): the SentencePiece model file, byte for byte.</summary>
    public const string TokenizerModel = "edgeguard.tokenizer.spm_model";

    /// <summary>string, required in version 3: the tokenizer kind (<c>spm-unigram</c>, <c>wordpiece</c>, <c>bpe-bytelevel</c>).</summary>
    public const string TokenizerKind = "edgeguard.tokenizer.kind";

    /// <summary>string array, required in version 3: the names of the tokenizer's files, each stored under <see cref="TokenizerFilePrefix"/>.</summary>
    public const string TokenizerFiles = "edgeguard.tokenizer.files";

    /// <summary>Prefix of a tokenizer file's key (u8 array, the file byte for byte): <c>edgeguard.tokenizer.file.{name}</c>.</summary>
    public const string TokenizerFilePrefix = "edgeguard.tokenizer.file.";

    /// <summary>string, required: weight precision, <see cref="BundleFormat.PrecisionF32"/> in version 1, <see cref="BundleFormat.PrecisionInt8"/> in version 2, either in version 3.</summary>
    public const string Precision = "edgeguard.precision";

    /// <summary>string, required in int8 bundles: the packed layout of every <c>.qweight</c> tensor (a <c>PackedInt8Matrix.LayoutKey</c>).</summary>
    public const string Int8Layout = "edgeguard.layout.int8_weights";

    /// <summary>
    /// u32, optional in int8 bundles (absent means 127): the largest |w| of every <c>.qweight</c> tensor, 127 (8-bit
    /// weights) or 63 (7-bit, which the AVX2 kernel multiplies faster; <c>edgeguard convert --weight-bits 7</c>).
    /// </summary>
    public const string Int8WeightLimit = "edgeguard.int8.weight_limit";

    /// <summary>string, optional: where the model came from (a Hub id, a training run).</summary>
    public const string Source = "edgeguard.source";

    /// <summary>u64, required: XXH3-64 of the header region and file length; see <c>docs/model-files.md</c>.</summary>
    public const string HeaderChecksum = "edgeguard.checksum.header";

    /// <summary>u64, required: XXH3-64 of the tensor data section, to the end of the file.</summary>
    public const string TensorDataChecksum = "edgeguard.checksum.tensor_data";
}
