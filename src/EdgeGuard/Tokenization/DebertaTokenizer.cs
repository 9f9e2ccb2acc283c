using System.Buffers;
using System.Text;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tokenization;

/// <summary>
/// The DeBERTa-v3 tokenizer: SentencePiece Unigram encoding of a <c>spm.model</c>, reproducing the
/// SentencePiece library id for id (and its offsets), plus the DeBERTa layout <c>[CLS] prompt [SEP] response [SEP]</c>
/// (<see cref="PairTemplate.Bert"/>) with <c>[MASK]</c> appended after the last piece. Instances are immutable and safe
/// to use from many threads.
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
        Template = PairTemplate.Bert(ClsId, SepId);

        _normalizer = new SentencePieceNormalizer(model.Normalizer, userDefined.Count > 0 ? PieceTrie.Build(userDefined) : null);
        _unigram = new UnigramModel(model);
        _decoder = new SentencePieceDecoder(model);
    }

    /// <summary>Number of pieces in the SentencePiece model.</summary>
    public int PieceCount { get; }

    /// <summary>Size of the model's embedding vocabulary: <see cref="PieceCount"/> + 1 for the appended <c>[MASK]</c>.</summary>
    public int VocabularySize => PieceCount + 1;

    /// <summary><c>[CLS] a [SEP]</c> and <c>[CLS] a [SEP] b [SEP]</c>; DeBERTa-v3 ignores the token types.</summary>
    public PairTemplate Template { get; }

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
    /// Appends the SentencePiece ids of <paramref name="text"/> (no special tokens) to <paramref name="ids"/> and their
    /// ranges of <paramref name="text"/> to <paramref name="offsets"/>, as SentencePiece reports them: a piece covers the
    /// characters its normalised bytes came from (a leading meta space that stands for no character is empty, a space
    /// that whitespace collapsing kept covers the run it stands for), and of the byte pieces of one character only the
    /// last covers it, the others are empty at its start.
    /// </summary>
    public void Encode(ReadOnlySpan<char> text, List<int> ids, List<TokenOffset> offsets)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(offsets);
        if (text.IsEmpty)
        {
            return;
        }

        int byteCount = Encoding.UTF8.GetByteCount(text);
        byte[] utf8 = ArrayPool<byte>.Shared.Rent(byteCount);
        int[] utf16At = ArrayPool<int>.Shared.Rent(byteCount + 1);
        var normalized = new PooledBuffer<byte>(byteCount + byteCount / 4 + 8);
        var normToOrig = new PooledBuffer<int>(byteCount + byteCount / 4 + 9);
        var pieceIds = new PooledBuffer<int>(text.Length / 2 + 8);
        var spans = new PooledBuffer<int>(text.Length + 16);
        try
        {
            int written = Encoding.UTF8.GetBytes(text, utf8);
            Utf16Positions.MapUtf8ToUtf16(text, utf16At.AsSpan(0, written + 1));
            _normalizer.Normalize(utf8.AsSpan(0, written), ref normalized, ref normToOrig);
            _unigram.Encode(normalized.Span, ref pieceIds, ref spans);
            ids.AddRange(pieceIds.Span);
            ReadOnlySpan<int> bounds = spans.Span, alignment = normToOrig.Span;
            for (int i = 0; i < bounds.Length; i += 2)
            {
                int start = utf16At[alignment[bounds[i]]];
                offsets.Add(new TokenOffset(start, utf16At[alignment[bounds[i + 1]]] - start));
            }
        }
        finally
        {
            spans.Dispose();
            pieceIds.Dispose();
            normToOrig.Dispose();
            normalized.Dispose();
            ArrayPool<int>.Shared.Return(utf16At);
            ArrayPool<byte>.Shared.Return(utf8);
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
