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
    public const uint CurrentVersion = 2;

    /// <summary>The version of bundles with float weights only (<see cref="PrecisionF32"/>): runtimes since version 1 read them.</summary>
    public const uint Float32Version = 1;

    /// <summary>The version of bundles with int8 linear layers (<see cref="PrecisionInt8"/>).</summary>
    public const uint Int8Version = 2;

    /// <summary>Value of <c>general.architecture</c>: the Hugging Face <c>model_type</c> of DeBERTa-v3 checkpoints.</summary>
    public const string Architecture = "deberta-v2";

    /// <summary>Alignment of tensor data: one cache line, and a whole number of AVX-512 and NEON vectors.</summary>
    public const uint Alignment = 64;

    /// <summary>Value of <c>edgeguard.precision</c> for float32 weights, the only precision of format version 1.</summary>
    public const string PrecisionF32 = "f32";

    /// <summary>Value of <c>edgeguard.precision</c> for int8 linear layers (format version 2).</summary>
    public const string PrecisionInt8 = "int8";
}
