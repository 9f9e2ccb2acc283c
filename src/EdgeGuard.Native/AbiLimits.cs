namespace EdgeGuard.Native;

/// <summary>The versions and limits <c>include/edgeguard.h</c> declares; a test holds the header to these values.</summary>
internal static class AbiLimits
{
    /// <summary><c>EDGEGUARD_ABI_VERSION</c>: the soname's number, raised by any incompatible change.</summary>
    public const uint AbiVersion = 1;

    /// <summary><c>EDGEGUARD_VERSION_MAJOR.MINOR.PATCH</c>.</summary>
    public const string Version = "1.0.0";

    /// <summary><c>EDGEGUARD_MAX_TEXT_BYTES</c>.</summary>
    public const ulong MaxTextBytes = 1UL << 28;

    /// <summary><c>EDGEGUARD_MAX_PATH_BYTES</c>.</summary>
    public const ulong MaxPathBytes = 4096;

    /// <summary><c>EDGEGUARD_MAX_BATCH_INPUTS</c>.</summary>
    public const ulong MaxBatchInputs = 1UL << 20;
}
