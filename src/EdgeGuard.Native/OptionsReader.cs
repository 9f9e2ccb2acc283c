namespace EdgeGuard.Native;

/// <summary>
/// <c>edgeguard_options</c> to <see cref="GuardOptions"/>. The caller's <c>struct_size</c> says how much of the struct
/// it knows: fields it does not cover take their defaults (a program built against an older header), and a larger
/// struct is accepted only when the bytes this library does not know are zero (a newer header asking for something
/// this library cannot do must not be silently ignored).
/// </summary>
internal static unsafe class OptionsReader
{
    /// <summary>
    /// The struct of ABI 1: the least a caller may pass. Fields appended later are read only from callers whose
    /// struct_size covers them; this stays the size of the ABI 1 struct.
    /// </summary>
    public static readonly uint Version1Size = (uint)sizeof(NativeOptions);

    /// <summary>Largest struct_size read; anything beyond is surely not an options struct.</summary>
    public const uint MaxStructSize = 4096;

    /// <summary>The options at <paramref name="options"/>, or the defaults for NULL.</summary>
    public static GuardOptions Read(NativeOptions* options)
    {
        if (options is null)
        {
            return new GuardOptions();
        }

        uint size = options->StructSize;
        if (size < Version1Size || size > MaxStructSize)
        {
            throw new AbiException(Status.InvalidArgument,
                $"options->struct_size is {size}; set it to sizeof(edgeguard_options) ({Version1Size} bytes for ABI {AbiLimits.AbiVersion}).");
        }

        uint known = (uint)sizeof(NativeOptions);
        if (size > known)
        {
            var unknown = new ReadOnlySpan<byte>((byte*)options + known, (int)(size - known));
            int set = unknown.IndexOfAnyExcept((byte)0);
            if (set >= 0)
            {
                throw new AbiException(Status.UnsupportedOption,
                    $"options set byte {known + set} of {size}, beyond the {known} bytes this library (version {AbiLimits.Version}) knows; upgrade the library or leave the newer fields zero.");
            }
        }

        // Fields beyond the caller's struct_size keep their zero: their defaults.
        NativeOptions o = default;
        Buffer.MemoryCopy(options, &o, known, Math.Min(size, known));
        var flags = (OpenFlags)o.Flags;
        if ((flags & ~OpenFlags.Known) != 0)
        {
            throw new AbiException(Status.UnsupportedOption,
                $"options->flags sets bits 0x{(uint)(flags & ~OpenFlags.Known):x} this library (version {AbiLimits.Version}) does not know.");
        }

        return new GuardOptions
        {
            Threads = o.Threads,
            Threshold = o.Threshold == 0f ? null : o.Threshold,
            WindowTokens = o.WindowTokens == 0 ? null : o.WindowTokens,
            WindowStride = o.WindowStride == 0 ? null : o.WindowStride,
            MaxWindows = o.MaxWindows == 0 ? new GuardOptions().MaxWindows : o.MaxWindows,
            MaxBatch = o.MaxBatch == 0 ? new GuardOptions().MaxBatch : o.MaxBatch,
            LongInput = o.LongInput switch
            {
                0 => LongInputMode.SlidingWindow,
                1 => LongInputMode.Truncate,
                _ => throw new AbiException(Status.InvalidArgument,
                    $"options->long_input is {o.LongInput}; use EDGEGUARD_LONG_INPUT_SLIDING_WINDOW (0) or EDGEGUARD_LONG_INPUT_TRUNCATE (1)."),
            },
            VerifyWeights = (flags & OpenFlags.SkipWeightCheck) == 0,
            SanitizeInput = (flags & OpenFlags.NoSanitize) == 0,
            UnsafeLabel = (flags & OpenFlags.UnsafeLabel) != 0 ? o.UnsafeLabel : null,
        };
    }
}
