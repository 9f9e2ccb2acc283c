using System.Text;
using System.Text.Unicode;

namespace EdgeGuard.Native;

/// <summary>
/// Text and pointers the caller passes in, checked before anything reads them: NULL, length limits (checked before the
/// memory is touched, so a length the caller got wrong is refused rather than read past), UTF-8 validity.
/// </summary>
internal static unsafe class Utf8Arguments
{
    /// <summary>A required text: <paramref name="pointer"/> may not be NULL, even with length 0.</summary>
    /// <param name="what">The argument's name in messages ("prompt", "input 3's response").</param>
    public static string Text(byte* pointer, nuint length, string what)
    {
        NotNull(pointer, what);
        return Decode(pointer, length, AbiLimits.MaxTextBytes, Status.InputTooLong, what);
    }

    /// <summary>An optional text: NULL (with length 0) means none.</summary>
    public static string? OptionalText(byte* pointer, nuint length, string what)
    {
        if (pointer is null)
        {
            return length == 0 ? null
                : throw new AbiException(Status.InvalidArgument, $"{what} is NULL but its length is {length} bytes; pass length 0 for no {what}.");
        }

        return Decode(pointer, length, AbiLimits.MaxTextBytes, Status.InputTooLong, what);
    }

    /// <summary>A model path: UTF-8, not empty, no NUL byte, at most <see cref="AbiLimits.MaxPathBytes"/>.</summary>
    public static string Path(byte* pointer, nuint length)
    {
        NotNull(pointer, "path");
        string path = Decode(pointer, length, AbiLimits.MaxPathBytes, Status.InvalidArgument, "path");
        if (path.Length == 0)
        {
            throw new AbiException(Status.InvalidArgument, "path is empty (path_length 0); pass the model's path and its length in bytes.");
        }

        int nul = path.IndexOf('\0');
        return nul < 0 ? path
            : throw new AbiException(Status.InvalidArgument, $"path holds a NUL byte at offset {Encoding.UTF8.GetByteCount(path.AsSpan(0, nul))}; path_length must count the path's bytes without the terminator.");
    }

    public static void NotNull(void* pointer, string what)
    {
        if (pointer is null)
        {
            throw new AbiException(Status.InvalidArgument, $"{what} is NULL.");
        }
    }

    private static string Decode(byte* pointer, nuint length, ulong limit, Status tooLong, string what)
    {
        if (length > limit)
        {
            throw new AbiException(tooLong, $"{what} is {length} bytes long; the limit is {limit} bytes.");
        }

        var bytes = new ReadOnlySpan<byte>(pointer, (int)length);
        if (!Utf8.IsValid(bytes))
        {
            throw new AbiException(Status.InvalidUtf8, $"{what} is not valid UTF-8: byte offset {FirstInvalidOffset(bytes)} of {length}.");
        }

        return Encoding.UTF8.GetString(bytes);
    }

    private static int FirstInvalidOffset(ReadOnlySpan<byte> bytes)
    {
        int offset = 0;
        while (offset < bytes.Length && Rune.DecodeFromUtf8(bytes[offset..], out _, out int consumed) == System.Buffers.OperationStatus.Done)
        {
            offset += consumed;
        }

        return offset;
    }
}
