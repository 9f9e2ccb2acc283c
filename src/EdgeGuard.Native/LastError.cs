using System.Text;

namespace EdgeGuard.Native;

/// <summary>
/// <c>edgeguard_last_error()</c>: each thread's message of its most recent failed call, as NUL-terminated UTF-8 at an
/// address that stays put until that thread's next failure.
/// </summary>
/// <remarks>
/// The bytes live in a pinned array (the pinned object heap never moves it) held by a thread-static field, so a
/// thread's message goes away with the thread and nothing has to be freed by hand; native memory here would leak one
/// block per thread that ever failed.
/// </remarks>
internal static unsafe class LastError
{
    /// <summary>Longest message in bytes, NUL excluded; longer ones are cut at a character boundary.</summary>
    internal const int MaxMessageBytes = 2047;

    /// <summary>What a thread reads when even its message could not be allocated; shared, so never written to.</summary>
    private static readonly byte[] OutOfMemoryText = StaticText.PinnedUtf8("out of memory (the error message itself could not be allocated).");

    [ThreadStatic]
    private static byte[]? t_message;

    /// <summary>The calling thread's message; "" before its first failure.</summary>
    public static byte* Current => t_message is { } message ? StaticText.Address(message) : StaticText.Empty;

    /// <summary>Records <paramref name="message"/> as one line for the calling thread.</summary>
    public static void Set(string message)
    {
        ReadOnlySpan<char> kept = message.AsSpan(0, CharsFitting(message, MaxMessageBytes));
        int length = Encoding.UTF8.GetByteCount(kept);
        byte[]? buffer = t_message;
        if (buffer is null || buffer == OutOfMemoryText || buffer.Length < length + 1)
        {
            buffer = GC.AllocateUninitializedArray<byte>(Math.Max(256, length + 1), pinned: true);
            t_message = buffer;
        }

        int written = Encoding.UTF8.GetBytes(kept, buffer);
        for (int i = 0; i < written; i++)
        {
            if (buffer[i] is (byte)'\r' or (byte)'\n')
            {
                buffer[i] = (byte)' ';
            }
        }

        buffer[written] = 0;
    }

    /// <summary>Characters of <paramref name="message"/> whose UTF-8 fits <paramref name="maxBytes"/>, never splitting a surrogate pair.</summary>
    private static int CharsFitting(string message, int maxBytes)
    {
        int bytes = 0;
        int i = 0;
        while (i < message.Length)
        {
            int step = char.IsHighSurrogate(message[i]) && i + 1 < message.Length && char.IsLowSurrogate(message[i + 1]) ? 2 : 1;
            int size = step == 2 ? 4 : message[i] < 0x80 ? 1 : message[i] < 0x800 ? 2 : 3;
            if (bytes + size > maxBytes)
            {
                break;
            }

            bytes += size;
            i += step;
        }

        return i;
    }

    /// <summary>Records the out-of-memory message without allocating.</summary>
    public static void SetOutOfMemory() => t_message = OutOfMemoryText;
}
