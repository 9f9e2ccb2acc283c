namespace EdgeGuard.ModelFiles.Gguf;

/// <summary>
/// Constants and limits of the GGUF container, version 3 (the ggml project's <c>docs/gguf.md</c>),
/// shared by <see cref="GgufReader"/> and <see cref="GgufWriter"/>. All multi-byte values are little-endian.
/// </summary>
public static class GgufFormat
{
    /// <summary>The only container version this runtime reads and writes.</summary>
    public const uint Version = 3;

    /// <summary>Tensor data alignment when a file has no <c>general.alignment</c> key.</summary>
    public const uint DefaultAlignment = 32;

    /// <summary>The metadata key holding the alignment (u32) of tensor data.</summary>
    public const string AlignmentKey = "general.alignment";

    /// <summary>
    /// Longest tensor name in UTF-8 bytes. ggml keeps names in 64-byte NUL-terminated buffers, so a longer
    /// name would make the file unreadable to the ggml tools we want to stay compatible with.
    /// </summary>
    public const int MaxTensorNameBytes = 63;

    /// <summary>Longest metadata key in bytes (the specification's limit).</summary>
    public const int MaxKeyBytes = 65535;

    /// <summary>Most dimensions a tensor may have.</summary>
    public const int MaxDimensions = 4;

    /// <summary>
    /// Deepest nesting of arrays inside arrays. The specification sets no limit; ggml itself reads none.
    /// A bound keeps a hostile file from recursing the parser into a stack overflow.
    /// </summary>
    public const int MaxArrayNesting = 4;

    /// <summary>Bytes of the fixed header: magic, version, tensor count, metadata count.</summary>
    internal const int HeaderBytes = 24;

    /// <summary>The four magic bytes every GGUF file starts with.</summary>
    internal static ReadOnlySpan<byte> Magic => "GGUF"u8;

    /// <summary>Rounds <paramref name="offset"/> up to the next multiple of <paramref name="alignment"/>.</summary>
    public static long AlignUp(long offset, uint alignment)
    {
        long remainder = offset % alignment;
        return remainder == 0 ? offset : offset + (alignment - remainder);
    }

    /// <summary>True when <paramref name="alignment"/> is one the specification allows: a power of two and a multiple of 8.</summary>
    public static bool IsValidAlignment(uint alignment) => alignment >= 8 && (alignment & (alignment - 1)) == 0;

    /// <summary>
    /// Why a tensor with this name and shape (outermost dimension first) cannot be stored, or null when it can.
    /// </summary>
    public static string? DescribeInvalidTensor(string name, IReadOnlyList<long> shape)
    {
        int nameBytes = System.Text.Encoding.UTF8.GetByteCount(name);
        if (nameBytes == 0)
        {
            return "a tensor has an empty name";
        }

        if (nameBytes > MaxTensorNameBytes)
        {
            return $"tensor name '{name}' is {nameBytes} bytes; GGUF allows at most {MaxTensorNameBytes}";
        }

        if (shape.Count > MaxDimensions)
        {
            return $"tensor '{name}' has {shape.Count} dimensions; GGUF allows at most {MaxDimensions}";
        }

        long elements = 1;
        foreach (long dim in shape)
        {
            if (dim <= 0)
            {
                return $"tensor '{name}' has shape [{string.Join(", ", shape)}]; every dimension must be at least 1";
            }

            if (elements > long.MaxValue / dim)
            {
                return $"tensor '{name}' has shape [{string.Join(", ", shape)}], whose element count overflows";
            }

            elements *= dim;
        }

        return null;
    }
}
