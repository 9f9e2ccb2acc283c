using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace EdgeGuard.Native;

/// <summary>
/// NUL-terminated UTF-8 the library hands out at fixed addresses: literals point into the image's read-only data
/// (<c>u8</c> literals are fixed data, never moved), computed strings live in arrays the garbage collector never moves.
/// </summary>
internal static unsafe class StaticText
{
    public static byte* Empty => Address("\0"u8);

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
