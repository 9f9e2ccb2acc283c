using System.Buffers;
using System.Text;

namespace EdgeGuard.Tokenization;

/// <summary>
/// Decodes a generated sequence one id at a time and returns only text that is complete: the bytes of a character that
/// a token boundary cuts (a byte-level token holding half of an emoji, SentencePiece byte pieces <c>&lt;0xE4&gt;</c> …)
/// are held back until the character is whole. The pieces returned by <see cref="Push"/> followed by <see cref="Flush"/>
/// are exactly the tokenizer's <see cref="ITokenizer.Decode"/> of all the ids. Not thread-safe: one per sequence.
/// </summary>
public sealed class StreamingDecoder : IDisposable
{
    private readonly ITokenBytes _tokens;
    private PooledBuffer<byte> _pending = new(32);
    private TokenDecodeState _state;
    private bool _disposed;

    internal StreamingDecoder(ITokenBytes tokens) => _tokens = tokens;

    /// <summary>Bytes held back because they are the start of a character that is not complete yet.</summary>
    public int PendingByteCount => _pending.Count;

    /// <summary>
    /// Adds <paramref name="id"/> and returns the text that is now complete (empty when the token only adds to a character
    /// held back, or prints nothing, as a special token does).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is outside the vocabulary.</exception>
    /// <exception cref="ObjectDisposedException">The decoder was disposed.</exception>
    public string Push(int id)
    {
        if ((uint)id >= (uint)_tokens.VocabularySize)
        {
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} is outside the vocabulary [0, {_tokens.VocabularySize}).");
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        _tokens.AppendBytes(id, ref _state, ref _pending);
        int complete = CompleteLength(_pending.Span);
        if (complete == 0)
        {
            return string.Empty;
        }

        string text = ToText(_pending.Span[..complete], _tokens.ReplacesEachInvalidByte);
        _pending.Span[complete..].CopyTo(_pending.Span);
        _pending.Shrink(complete);
        return text;
    }

    /// <summary>Ends the sequence: the held-back bytes as text (each incomplete character prints U+FFFD), and a fresh start.</summary>
    public string Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        string text = _pending.Count == 0 ? string.Empty : ToText(_pending.Span, _tokens.ReplacesEachInvalidByte);
        _pending.Shrink(_pending.Count);
        _state = default;
        return text;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _disposed = true;
        _pending.Dispose();
    }

    /// <summary>
    /// The bytes <paramref name="bytes"/> print as text, invalid sequences replaced by U+FFFD: one per byte that starts no
    /// valid character when <paramref name="replaceEachInvalidByte"/> (SentencePiece), else one per maximal invalid subsequence.
    /// </summary>
    internal static string ToText(ReadOnlySpan<byte> bytes, bool replaceEachInvalidByte)
    {
        if (!replaceEachInvalidByte || System.Text.Unicode.Utf8.IsValid(bytes))
        {
            return Encoding.UTF8.GetString(bytes);
        }

        var text = new PooledBuffer<byte>(bytes.Length + 8);
        try
        {
            while (!bytes.IsEmpty)
            {
                if (SentencePieceUtf8.TryDecodeChar(bytes, out int length))
                {
                    text.AddRange(bytes[..length]);
                }
                else
                {
                    text.AddRange(SentencePieceUtf8.ReplacementCharacter);
                }

                bytes = bytes[length..];
            }

            return Encoding.UTF8.GetString(text.Span);
        }
        finally
        {
            text.Dispose();
        }
    }

    /// <summary>
    /// How many leading bytes can be printed now: all but a trailing start of a character that more bytes could complete.
    /// A lead byte ends any invalid sequence before it, so printing the bytes before it gives the same text as printing
    /// them later with the rest.
    /// </summary>
    private static int CompleteLength(ReadOnlySpan<byte> bytes)
    {
        for (int back = 1; back <= Math.Min(3, bytes.Length); back++)
        {
            int at = bytes.Length - back;
            if ((bytes[at] & 0xC0) == 0x80)
            {
                continue;
            }

            return Rune.DecodeFromUtf8(bytes[at..], out _, out _) == OperationStatus.NeedMoreData ? at : bytes.Length;
        }

        return bytes.Length;
    }
}
