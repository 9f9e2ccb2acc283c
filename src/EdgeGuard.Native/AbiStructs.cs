using System.Runtime.InteropServices;

namespace EdgeGuard.Native;

// The structs of include/edgeguard.h, field for field in the same order, so the C compiler's natural layout and
// LayoutKind.Sequential agree on every target. Pointers are nint; a test holds offsets and sizes to the C layout.

/// <summary><c>edgeguard_options</c>, version 1 (40 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeOptions
{
    public uint StructSize;
    public uint Flags;
    public int Threads;
    public float Threshold;
    public int WindowTokens;
    public int WindowStride;
    public int MaxWindows;
    public int MaxBatch;
    public int LongInput;
    public int UnsafeLabel;
}

/// <summary><c>EDGEGUARD_OPEN_*</c> bits of <see cref="NativeOptions.Flags"/>.</summary>
[Flags]
internal enum OpenFlags : uint
{
    None = 0,
    SkipWeightCheck = 1u << 0,
    NoSanitize = 1u << 1,
    UnsafeLabel = 1u << 2,
    Known = SkipWeightCheck | NoSanitize | UnsafeLabel,
}

/// <summary><c>edgeguard_input</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeInput
{
    public nint Prompt;
    public nuint PromptLength;
    public nint Response;
    public nuint ResponseLength;
}

/// <summary><c>edgeguard_verdict</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeVerdict
{
    public float UnsafeScore;
    public int Flagged;
    public int LabelIndex;
    public int TokenCount;
    public int Windows;
    public int Truncated;
    public nint Label;
}

/// <summary><c>edgeguard_model_info</c>, version 1.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeModelInfo
{
    public uint StructSize;
    public int LabelCount;
    public nint Path;
    public nint Format;
    public nint Precision;
    public nint Name;
    public nint Architecture;
    public nint Labels;
    public int UnsafeLabel;
    public float ModelThreshold;
    public float Threshold;
    public int Layers;
    public int HiddenSize;
    public int MaxSequenceLength;
    public int VocabularySize;
    public int WindowTokens;
    public int Threads;
    public nint Kernels;
}
