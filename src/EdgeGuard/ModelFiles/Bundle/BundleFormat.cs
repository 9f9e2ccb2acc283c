namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>
/// Fixed facts of the EdgeGuard bundle: a GGUF v3 file with the metadata keys in <see cref="BundleKeys"/>.
/// The design and its compatibility rules are in <c>docs/decisions/0001-bundle-format.md</c>.
/// </summary>
public static class BundleFormat
{
    /// <summary>
    /// The bundle format version this runtime writes and the newest it reads. A file's version is the oldest
    /// runtime format that can execute it correctly; readers refuse anything newer.
    /// </summary>
    public const uint CurrentVersion = 1;

    /// <summary>Value of <c>general.architecture</c>: the Hugging Face <c>model_type</c> of DeBERTa-v3 checkpoints.</summary>
    public const string Architecture = "deberta-v2";

    /// <summary>Alignment of tensor data: one cache line, and a whole number of AVX-512 and NEON vectors.</summary>
    public const uint Alignment = 64;

    /// <summary>Value of <c>edgeguard.precision</c> for float32 weights, the only precision of format version 1.</summary>
    public const string PrecisionF32 = "f32";
}
