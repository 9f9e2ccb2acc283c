using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace EdgeGuard.Native;

/// <summary>
/// The strings the library hands out with static storage: NUL-terminated UTF-8 that is never freed. Literals point
/// into the image's read-only data (<c>u8</c> literals are fixed data, never moved); computed ones live in pinned
/// arrays held by static fields.
/// </summary>
internal static unsafe class StaticText
{
    private static readonly byte[] VersionText = PinnedUtf8(AbiLimits.Version);
    private static readonly byte[] BuildProfileText = PinnedUtf8(Native.BuildProfile.Name ?? "");

    public static byte* Empty => Address("\0"u8);

    /// <summary><c>edgeguard_version</c>.</summary>
    public static byte* Version => Address(VersionText);

    /// <summary><c>edgeguard_build_profile</c>.</summary>
    public static byte* BuildProfile => Address(BuildProfileText);

    /// <summary><c>edgeguard_status_string</c>.</summary>
    public static byte* Describe(int status) => (Status)status switch
    {
        Status.Ok => Address("ok\0"u8),
        Status.InvalidArgument => Address("invalid argument\0"u8),
        Status.InvalidUtf8 => Address("invalid UTF-8\0"u8),
        Status.Model => Address("model file error\0"u8),
        Status.Closed => Address("guard closed\0"u8),
        Status.InputTooLong => Address("input too long\0"u8),
        Status.UnsupportedCpu => Address("unsupported CPU\0"u8),
        Status.UnsupportedOption => Address("unsupported option\0"u8),
        Status.OutOfMemory => Address("out of memory\0"u8),
        Status.Internal => Address("internal error\0"u8),
        _ => Address("unknown status\0"u8),
    };

    /// <summary><paramref name="text"/> as NUL-terminated UTF-8 in an array the garbage collector never moves.</summary>
    public static byte[] PinnedUtf8(string text)
    {
        byte[] bytes = GC.AllocateArray<byte>(Encoding.UTF8.GetByteCount(text) + 1, pinned: true);
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    /// <summary>The first byte of a pinned array or of fixed data.</summary>
    public static byte* Address(ReadOnlySpan<byte> fixedBytes) => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(fixedBytes));
}
