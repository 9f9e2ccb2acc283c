using System.Buffers;
using System.Text;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tokenization;

/// <summary>
/// The DeBERTa-v3 tokenizer: SentencePiece Unigram encoding of a <c>spm.model</c>, reproducing the
/// SentencePiece library id for id, plus the DeBERTa layout <c>[CLS] prompt [SEP] response [SEP]</c> with
/// <c>[MASK]</c> appended after the last piece. Instances are immutable and safe to use from many threads.
/// </summary>
/// <remarks>
/// <para>
/// Input hygiene: text is converted to UTF-8 with every lone (unpaired) surrogate replaced by U+FFFD, so any
/// .NET string can be encoded. Everything else, NUL and other control characters included, goes through the
/// model's normaliser exactly as SentencePiece would treat the same UTF-8 (with <c>nmt_nfkc</c>, most control
/// characters are deleted, NUL is kept and becomes a byte piece).
/// </para>
/// <para>
/// Text that spells a special token (<c>[CLS]</c>, <c>[SEP]</c>, <c>[PAD]</c>, <c>[UNK]</c>, <c>[MASK]</c>) is
/// ordinary text: special ids only ever come from the structure this class adds. This differs on purpose from
/// Hugging Face tokenizers, which cut such spellings out of the text and so let input forge segment boundaries.
/// </para>
/// </remarks>
public sealed class DebertaTokenizer : ITokenizer
{
    private const string PadPiece = "[PAD]";
    private const string ClsPiece = "[CLS]";
    private const string SepPiece = "[SEP]";
    private const string UnkPiece = "[UNK]";
    private const string MaskPiece = "[MASK]";

    private readonly string[] _pieceTexts;
    private readonly SentencePieceNormalizer _normalizer;
    private readonly UnigramModel _unigram;
    private readonly SentencePieceDecoder _decoder;

    private DebertaTokenizer(SentencePieceModel model)
    {
        var pieces = model.Pieces;
        _pieceTexts = new string[pieces.Count];
        var userDefined = new List<(byte[], int)>();
        for (int id = 0; id < pieces.Count; id++)
        {
            _pieceTexts[id] = Encoding.UTF8.GetString(pieces[id].Utf8);
            if (pieces[id].Type == SentencePieceType.UserDefined)
            {
                userDefined.Add((pieces[id].Utf8, id));
            }
        }

        PieceCount = pieces.Count;
        MaskId = pieces.Count;
        PadId = FindSpecialPiece(model, PadPiece, SentencePieceType.Control);
        ClsId = FindSpecialPiece(model, ClsPiece, SentencePieceType.Control);
        SepId = FindSpecialPiece(model, SepPiece, SentencePieceType.Control);
        UnkId = FindSpecialPiece(model, UnkPiece, SentencePieceType.Unknown);
        NormalizerName = model.Normalizer.Name;

        _normalizer = new SentencePieceNormalizer(model.Normalizer, userDefined.Count > 0 ? PieceTrie.Build(userDefined) : null);
        _unigram = new UnigramModel(model);
        _decoder = new SentencePieceDecoder(model);
    }

    /// <summary>Number of pieces in the SentencePiece model.</summary>
    public int PieceCount { get; }

    /// <summary>Size of the model's embedding vocabulary: <see cref="PieceCount"/> + 1 for the appended <c>[MASK]</c>.</summary>
    public int VocabularySize => PieceCount + 1;

    /// <summary>Id of <c>[PAD]</c> (0 in DeBERTa-v3).</summary>
    public int PadId { get; }

    /// <summary>Id of <c>[CLS]</c>, which starts every model input (1 in DeBERTa-v3).</summary>
    public int ClsId { get; }

    /// <summary>Id of <c>[SEP]</c>, which ends each segment (2 in DeBERTa-v3).</summary>
    public int SepId { get; }

    /// <summary>Id of <c>[UNK]</c> (3 in DeBERTa-v3); produced only when byte fallback is off.</summary>
    public int UnkId { get; }

    /// <summary>Id of <c>[MASK]</c>, which DeBERTa-v3 appends after the model's pieces: <see cref="PieceCount"/>.</summary>
    public int MaskId { get; }

    /// <summary>The name of the model's normalisation rule, e.g. <c>nmt_nfkc</c>.</summary>
    public string NormalizerName { get; }

    /// <summary>Reads a tokenizer from the bytes of a SentencePiece <c>spm.model</c>.</summary>
    /// <exception cref="ModelFileException">
    /// The bytes are not a SentencePiece model, are corrupt or truncated, are not a Unigram model, or lack the
    /// DeBERTa special pieces (<c>[PAD]</c>, <c>[CLS]</c>, <c>[SEP]</c> as control pieces, <c>[UNK]</c> as the unknown piece).
    /// </exception>
    public static DebertaTokenizer FromSentencePieceModel(ReadOnlySpan<byte> spmModel) =>
        new(SentencePieceModelReader.Read(spmModel));

    /// <summary>Reads a tokenizer from a SentencePiece <c>spm.model</c> file.</summary>
    /// <exception cref="ModelFileException">
    /// The file is missing or unreadable, or its content is rejected as by <see cref="FromSentencePieceModel"/>;
    /// the message names the path.
    /// </exception>
    public static DebertaTokenizer FromFile(string spmModelPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(spmModelPath);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(spmModelPath);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ModelFileException($"{spmModelPath}: SentencePiece model file not found.", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new ModelFileException($"{spmModelPath}: cannot read the SentencePiece model: {ex.Message}", ex);
        }

        try
        {
            return FromSentencePieceModel(bytes);
        }
        catch (ModelFileException ex)
        {
            throw new ModelFileException($"{spmModelPath}: {ex.Message}", ex);
        }
    }

    /// <summary>The text of piece <paramref name="id"/>; <see cref="MaskId"/> gives <c>[MASK]</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is outside [0, <see cref="VocabularySize"/>).</exception>
    public string GetPiece(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, VocabularySize);
        return id == MaskId ? MaskPiece : _pieceTexts[id];
    }

    /// <summary>The SentencePiece ids of <paramref name="text"/>, without special tokens.</summary>
    /// <remarks>Lone surrogates are encoded as U+FFFD; no string content makes this throw.</remarks>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new PooledBuffer<int>(text.Length / 2 + 8);
        try
        {
            EncodeCore(text, ref ids);
            return ids.Span.ToArray();
        }
        finally
        {
            ids.Dispose();
        }
    }

    /// <summary>Appends the SentencePiece ids of <paramref name="text"/> (no special tokens) to <paramref name="ids"/>.</summary>
    /// <remarks>Lone surrogates are encoded as U+FFFD; no text content makes this throw.</remarks>
    public void Encode(ReadOnlySpan<char> text, List<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var buffer = new PooledBuffer<int>(text.Length / 2 + 8);
        try
        {
            EncodeCore(text, ref buffer);
            ids.AddRange(buffer.Span);
        }
        finally
        {
            buffer.Dispose();
        }
    }

    /// <summary>
    /// Decodes ids as SentencePiece does: control pieces and <c>[MASK]</c> print nothing, <c>[UNK]</c> prints
    /// the model's unknown surface (" ⁇ " by default), byte pieces are reassembled into characters, ▁ prints a space
    /// and the leading meta space is dropped.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, <see cref="VocabularySize"/>).</exception>
    public string Decode(ReadOnlySpan<int> ids)
    {
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)VocabularySize)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary [0, {VocabularySize}).");
            }
        }

        return _decoder.Decode(ids);
    }

    /// <summary>
    /// Encodes a prompt, or a prompt and a response, as DeBERTa model input: <c>[CLS] prompt [SEP]</c> or
    /// <c>[CLS] prompt [SEP] response [SEP]</c>, truncated longest-first to <paramref name="maxLength"/> tokens
    /// (see <see cref="BuildPair"/>).
    /// </summary>
    /// <param name="prompt">The user prompt.</param>
    /// <param name="response">The model's response, or null to classify the prompt alone. An empty response still gets its <c>[SEP]</c>.</param>
    /// <param name="maxLength">The most tokens to return, special tokens included.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> is below 3 with a response, or below 2 without.</exception>
    public EncodedPair EncodePair(string prompt, string? response, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        bool hasResponse = response is not null;
        ThrowIfMaxLengthTooSmall(maxLength, hasResponse);
        var promptIds = new PooledBuffer<int>(prompt.Length / 2 + 8);
        var responseIds = new PooledBuffer<int>(response is null ? 0 : response.Length / 2 + 8);
        try
        {
            EncodeCore(prompt, ref promptIds);
            if (response is not null)
            {
                EncodeCore(response, ref responseIds);
            }

            return BuildPair(promptIds.Span, responseIds.Span, hasResponse, maxLength, ClsId, SepId);
        }
        finally
        {
            responseIds.Dispose();
            promptIds.Dispose();
        }
    }

    /// <summary>
    /// Assembles <c>[CLS] prompt [SEP]</c> or <c>[CLS] prompt [SEP] response [SEP]</c> from ids that are already
    /// tokenized, truncating to <paramref name="maxLength"/> tokens including the special tokens.
    /// </summary>
    /// <remarks>
    /// Truncation follows Hugging Face transformers' <c>TruncationStrategy.LONGEST_FIRST</c>: one token at a time
    /// is removed from the end of the longer segment, and from the response when both are equally long. So the
    /// longer segment is first cut down to the shorter one, and any remaining excess is split with the response
    /// losing the odd token. (The Rust <c>tokenizers</c> fast path gives the odd token to the originally longer
    /// segment instead; the two differ by one token only when both segments are cut.)
    /// </remarks>
    /// <param name="promptIds">The prompt's ids, without special tokens.</param>
    /// <param name="responseIds">The response's ids, without special tokens; must be empty when <paramref name="hasResponse"/> is false.</param>
    /// <param name="hasResponse">Whether to add the response segment and its <c>[SEP]</c>.</param>
    /// <param name="maxLength">The most tokens to return, special tokens included.</param>
    /// <param name="clsId">The id of <c>[CLS]</c>.</param>
    /// <param name="sepId">The id of <c>[SEP]</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> is below 3 with a response, or below 2 without.</exception>
    /// <exception cref="ArgumentException"><paramref name="responseIds"/> is not empty but <paramref name="hasResponse"/> is false.</exception>
    public static EncodedPair BuildPair(
        ReadOnlySpan<int> promptIds,
        ReadOnlySpan<int> responseIds,
        bool hasResponse,
        int maxLength,
        int clsId,
        int sepId)
    {
        ThrowIfMaxLengthTooSmall(maxLength, hasResponse);
        if (!hasResponse && !responseIds.IsEmpty)
        {
            throw new ArgumentException("Response ids were given but hasResponse is false.", nameof(responseIds));
        }

        int specialTokens = hasResponse ? 3 : 2;
        (int keptPrompt, int keptResponse) = TruncateLongestFirst(promptIds.Length, responseIds.Length, maxLength - specialTokens);

        var ids = new int[keptPrompt + keptResponse + specialTokens];
        int at = 0;
        ids[at++] = clsId;
        promptIds[..keptPrompt].CopyTo(ids.AsSpan(at));
        at += keptPrompt;
        ids[at++] = sepId;
        if (hasResponse)
        {
            responseIds[..keptResponse].CopyTo(ids.AsSpan(at));
            at += keptResponse;
            ids[at] = sepId;
        }

        bool truncated = keptPrompt < promptIds.Length || keptResponse < responseIds.Length;
        return new EncodedPair(ids, keptPrompt, keptResponse, truncated);
    }

    /// <summary>How many prompt and response tokens longest-first truncation keeps within <paramref name="budget"/>.</summary>
    private static (int Prompt, int Response) TruncateLongestFirst(int prompt, int response, int budget)
    {
        long excess = (long)prompt + response - budget;
        if (excess <= 0)
        {
            return (prompt, response);
        }

        // Removing from the longer side until both are equal ...
        long fromLonger = Math.Min(Math.Abs((long)prompt - response), excess);
        long keptPrompt = prompt > response ? prompt - fromLonger : prompt;
        long keptResponse = prompt > response ? response : response - fromLonger;
        excess -= fromLonger;

        // ... then alternating, response first, since ties are cut from the response.
        keptResponse -= (excess + 1) / 2;
        keptPrompt -= excess / 2;
        return ((int)keptPrompt, (int)keptResponse);
    }

    private static void ThrowIfMaxLengthTooSmall(int maxLength, bool hasResponse)
    {
        int minimum = hasResponse ? 3 : 2;
        if (maxLength < minimum)
        {
            throw new ArgumentOutOfRangeException(
                nameof(maxLength),
                maxLength,
                $"maxLength must be at least {minimum} to hold the special tokens {(hasResponse ? "[CLS] [SEP] [SEP]" : "[CLS] [SEP]")}.");
        }
    }

    private static int FindSpecialPiece(SentencePieceModel model, string text, SentencePieceType requiredType)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            var piece = model.Pieces[id];
            if (piece.Utf8.AsSpan().SequenceEqual(utf8))
            {
                if (piece.Type != requiredType)
                {
                    throw new ModelFileException(
                        $"Not a DeBERTa-v3 SentencePiece model: piece {id} '{text}' has type {piece.Type}, expected {requiredType}.");
                }

                return id;
            }
        }

        throw new ModelFileException($"Not a DeBERTa-v3 SentencePiece model: it has no '{text}' piece.");
    }

    private void EncodeCore(ReadOnlySpan<char> text, ref PooledBuffer<int> ids)
    {
        if (text.IsEmpty)
        {
            return;
        }

        // The UTF8 encoding's replacement fallback turns each lone surrogate into U+FFFD.
        int byteCount = Encoding.UTF8.GetByteCount(text);
        byte[] utf8 = ArrayPool<byte>.Shared.Rent(byteCount);
        var normalized = new PooledBuffer<byte>(byteCount + byteCount / 4 + 8);
        try
        {
            int written = Encoding.UTF8.GetBytes(text, utf8);
            _normalizer.Normalize(utf8.AsSpan(0, written), ref normalized);
            _unigram.Encode(normalized.Span, ref ids);
        }
        finally
        {
            normalized.Dispose();
            ArrayPool<byte>.Shared.Return(utf8);
        }
    }
}
