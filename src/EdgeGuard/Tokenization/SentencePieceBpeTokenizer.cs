using System.Buffers;
using System.Text;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tokenization;

/// <summary>
/// The Llama 2 / TinyLlama tokenizer: SentencePiece BPE encoding of a <c>tokenizer.model</c> (<see cref="SentencePieceBpeModel"/>
/// after the model's own normaliser: a dummy-prefix <c>▁</c>, spaces as <c>▁</c>), byte fallback to <c>&lt;0x..&gt;</c>
/// pieces, SentencePiece's decoding, and <c>&lt;s&gt;</c> in front of a prompt as <c>LlamaTokenizer</c> adds it
/// (<c>add_bos_token</c>, <c>add_eos_token</c> from <c>tokenizer_config.json</c> when present). Immutable and safe to use
/// from many threads.
/// </summary>
/// <remarks>
/// Text that spells a control piece (<c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>) is encoded as the characters it is
/// (docs/decisions/0003-special-token-text.md); SentencePiece itself never reads control pieces from text either. A lone
/// UTF-16 surrogate reads as U+FFFD.
/// </remarks>
public sealed class SentencePieceBpeTokenizer : IGenerativeTokenizer, ITokenBytes
{
    private readonly SentencePieceModel _model;
    private readonly SentencePieceNormalizer _normalizer;
    private readonly SentencePieceBpeModel _bpe;
    private readonly SentencePieceDecoder _decoder;
    private readonly Dictionary<string, int> _specialIds;
    private readonly AddedTokenMatcher _matcher;
    private readonly string? _chatTemplate;
    private readonly string _origin;
    private readonly string? _bosToken;
    private readonly string? _eosToken;

    private SentencePieceBpeTokenizer(SentencePieceModel model, SentencePieceBpeConfig config, string origin)
    {
        _model = model;
        _origin = origin;
        var userDefined = new List<(byte[], int)>();
        _specialIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            var piece = model.Pieces[id];
            if (piece.Type is SentencePieceType.Control or SentencePieceType.UserDefined)
            {
                _specialIds.TryAdd(Encoding.UTF8.GetString(piece.Utf8), id);
            }

            if (piece.Type == SentencePieceType.UserDefined)
            {
                userDefined.Add((piece.Utf8, id));
            }
        }

        var userDefinedTrie = userDefined.Count > 0 ? PieceTrie.Build(userDefined) : null;
        _normalizer = new SentencePieceNormalizer(model.Normalizer, userDefinedTrie);
        _bpe = new SentencePieceBpeModel(model, userDefinedTrie);
        _decoder = new SentencePieceDecoder(model);
        _matcher = new AddedTokenMatcher(_specialIds);
        _chatTemplate = config.ChatTemplate;

        BosId = PieceId(config.BosToken, model.Trainer.BosId, "bos_token");
        EosId = PieceId(config.EosToken, model.Trainer.EosId, "eos_token");
        _bosToken = BosId is { } bos ? Encoding.UTF8.GetString(model.Pieces[bos].Utf8) : null;
        _eosToken = EosId is { } eos ? Encoding.UTF8.GetString(model.Pieces[eos].Utf8) : null;
        int[] bosIds = config.AddBos && BosId is { } b ? [b] : [];
        int[] eosIds = config.AddEos && EosId is { } e ? [e] : [];
        Template = new PairTemplate(bosIds, [.. eosIds, .. bosIds], eosIds, 1);
    }

    /// <summary>Number of pieces in the model; every id is below it.</summary>
    public int VocabularySize => _model.Pieces.Count;

    /// <summary><c>&lt;s&gt; a</c> (and <c>&lt;/s&gt;</c> after it when <c>add_eos_token</c>); <c>&lt;s&gt; a &lt;s&gt; b</c> for two segments.</summary>
    public PairTemplate Template { get; }

    /// <inheritdoc />
    public int? BosId { get; }

    /// <inheritdoc />
    public int? EosId { get; }

    /// <summary>The id of the unknown piece (<c>&lt;unk&gt;</c>); produced only for characters without a piece when byte fallback is off.</summary>
    public int UnknownId => _model.Trainer.UnkId;

    bool ITokenBytes.ReplacesEachInvalidByte => true;

    /// <summary>Reads a tokenizer from the bytes of a SentencePiece BPE <c>tokenizer.model</c>, with <c>LlamaTokenizer</c>'s defaults (BOS added, EOS not).</summary>
    /// <exception cref="ModelFileException">The bytes are not a SentencePiece BPE model, or are corrupt or truncated.</exception>
    public static SentencePieceBpeTokenizer FromModel(ReadOnlySpan<byte> tokenizerModel) =>
        new(SentencePieceModelReader.Read(tokenizerModel, TrainerSpec.BpeModelType), new SentencePieceBpeConfig(), "tokenizer.model");

    /// <summary>
    /// Reads <c>tokenizer.model</c> at <paramref name="tokenizerModelPath"/> and, when given, <c>tokenizer_config.json</c>
    /// (<c>add_bos_token</c>, <c>add_eos_token</c>, <c>bos_token</c>, <c>eos_token</c>, <c>chat_template</c>).
    /// </summary>
    /// <exception cref="ModelFileException">A file is missing, unreadable or not valid; the message names it.</exception>
    public static SentencePieceBpeTokenizer FromFiles(string tokenizerModelPath, string? tokenizerConfigPath = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenizerModelPath);
        return Create(
            TokenizerFileReader.Open(tokenizerModelPath, "SentencePiece model"),
            tokenizerConfigPath is null ? null : TokenizerFileReader.Open(tokenizerConfigPath, "tokenizer config"),
            null);
    }

    /// <summary>The tokenizer of a model's files as a directory or a bundle holds them.</summary>
    internal static SentencePieceBpeTokenizer Load(TokenizerFiles files) =>
        Create(
            TokenizerFile.Find(files, "tokenizer.model") ?? throw new ModelFileException($"{files.Origin}: a {TokenizerFiles.SentencePieceBpe} tokenizer needs tokenizer.model, which is missing."),
            TokenizerFile.Find(files, "tokenizer_config.json"),
            TokenizerFile.Find(files, "chat_template.jinja"));

    /// <summary>The text of piece <paramref name="id"/>, with <c>▁</c> for spaces.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is outside [0, <see cref="VocabularySize"/>).</exception>
    public string GetPiece(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, VocabularySize);
        return Encoding.UTF8.GetString(_model.Pieces[id].Utf8);
    }

    /// <inheritdoc />
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        EncodeCore(text, ids, null);
        return [.. ids];
    }

    /// <inheritdoc />
    public void Encode(ReadOnlySpan<char> text, List<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        EncodeCore(text, ids, null);
    }

    /// <inheritdoc />
    /// <remarks>As SentencePiece reports them: see <see cref="DebertaTokenizer.Encode(ReadOnlySpan{char}, List{int}, List{TokenOffset})"/>.</remarks>
    public void Encode(ReadOnlySpan<char> text, List<int> ids, List<TokenOffset> offsets)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(offsets);
        EncodeCore(text, ids, offsets);
    }

    /// <inheritdoc />
    /// <remarks>As SentencePiece decodes: control pieces print nothing, the unknown piece " ⁇ ", byte pieces are reassembled, the dummy-prefix space is dropped.</remarks>
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

    void ITokenBytes.AppendBytes(int id, ref TokenDecodeState state, ref PooledBuffer<byte> bytes) => _decoder.AppendBytes(id, ref state, ref bytes);

    /// <inheritdoc />
    public int? SpecialTokenId(string content)
    {
        ArgumentNullException.ThrowIfNull(content);
        return _specialIds.TryGetValue(content, out int id) ? id : null;
    }

    /// <inheritdoc />
    public bool IsSpecial(int id) => (uint)id < (uint)VocabularySize && _model.Pieces[id].Type == SentencePieceType.Control;

    /// <inheritdoc />
    /// <remarks>Each stretch of text between token texts is encoded on its own, with its own dummy prefix, as <c>LlamaTokenizer</c> (legacy) does.</remarks>
    public void EncodeWithSpecialTokens(ReadOnlySpan<char> text, List<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        _matcher.Encode(text, ids, (part, list) => EncodeCore(part, list, null));
    }

    /// <inheritdoc />
    public StreamingDecoder CreateStreamingDecoder() => new(this);

    /// <inheritdoc />
    public ChatTemplate GetChatTemplate() => ChatTemplate.Recognize(_chatTemplate, _origin, _bosToken, _eosToken);

    private static SentencePieceBpeTokenizer Create(TokenizerFile model, TokenizerFile? tokenizerConfig, TokenizerFile? chatTemplateFile)
    {
        SentencePieceModel parsed;
        try
        {
            parsed = SentencePieceModelReader.Read(model.Bytes.Span, TrainerSpec.BpeModelType);
        }
        catch (ModelFileException e)
        {
            throw new ModelFileException($"{model.Origin}: {e.Message}", e);
        }

        var config = new SentencePieceBpeConfig();
        if (tokenizerConfig is { } configFile)
        {
            using var document = TokenizerFileReader.ReadObject(configFile, "tokenizer config");
            var root = document.RootElement;
            string path = configFile.Origin;
            config = new SentencePieceBpeConfig
            {
                AddBos = TokenizerFileReader.Bool(root, "add_bos_token", path) ?? true,
                AddEos = TokenizerFileReader.Bool(root, "add_eos_token", path) ?? false,
                BosToken = TokenizerFileReader.Token(root, "bos_token", path),
                EosToken = TokenizerFileReader.Token(root, "eos_token", path),
                ChatTemplate = ChatTemplate.ReadFromConfig(root, path),
            };
        }

        if (chatTemplateFile is { } jinja)
        {
            config = config with { ChatTemplate = Encoding.UTF8.GetString(jinja.Bytes.Span) };
        }

        return new SentencePieceBpeTokenizer(parsed, config, tokenizerConfig?.Origin ?? model.Origin);
    }

    private int? PieceId(string? named, int trainerId, string field)
    {
        if (named is not null)
        {
            return _specialIds.TryGetValue(named, out int id)
                ? id
                : throw new ModelFileException($"{_origin}: the {field} {ErrorText.Quote(named)} is not a control or user-defined piece of tokenizer.model.");
        }

        return trainerId >= 0 ? trainerId : null;
    }

    private void EncodeCore(ReadOnlySpan<char> text, List<int> ids, List<TokenOffset>? offsets)
    {
        if (text.IsEmpty)
        {
            return;
        }

        // The UTF8 encoding's replacement fallback turns each lone surrogate into U+FFFD.
        int byteCount = Encoding.UTF8.GetByteCount(text);
        byte[] utf8 = ArrayPool<byte>.Shared.Rent(byteCount);
        int[]? utf16At = offsets is null ? null : ArrayPool<int>.Shared.Rent(byteCount + 1);
        var normalized = new PooledBuffer<byte>(byteCount + byteCount / 4 + 8);
        var normToOrig = offsets is null ? default : new PooledBuffer<int>(byteCount + byteCount / 4 + 9);
        var pieceIds = new PooledBuffer<int>(text.Length / 2 + 8);
        var spans = offsets is null ? default : new PooledBuffer<int>(text.Length + 16);
        try
        {
            int written = Encoding.UTF8.GetBytes(text, utf8);
            if (utf16At is null)
            {
                _normalizer.Normalize(utf8.AsSpan(0, written), ref normalized);
            }
            else
            {
                Utf16Positions.MapUtf8ToUtf16(text, utf16At.AsSpan(0, written + 1));
                _normalizer.Normalize(utf8.AsSpan(0, written), ref normalized, ref normToOrig);
            }

            _bpe.Encode(normalized.Span, ref pieceIds, ref spans, trackSpans: offsets is not null);
            foreach (int id in pieceIds.Span)
            {
                ids.Add(id);
            }

            if (offsets is not null && utf16At is not null)
            {
                ReadOnlySpan<int> bounds = spans.Span, alignment = normToOrig.Span;
                for (int i = 0; i < bounds.Length; i += 2)
                {
                    int start = utf16At[alignment[bounds[i]]];
                    offsets.Add(new TokenOffset(start, utf16At[alignment[bounds[i + 1]]] - start));
                }
            }
        }
        finally
        {
            spans.Dispose();
            pieceIds.Dispose();
            normToOrig.Dispose();
            normalized.Dispose();
            if (utf16At is not null)
            {
                ArrayPool<int>.Shared.Return(utf16At);
            }

            ArrayPool<byte>.Shared.Return(utf8);
        }
    }

    /// <summary>What <c>tokenizer_config.json</c> says about framing and chat, with <c>LlamaTokenizer</c>'s defaults.</summary>
    private sealed record SentencePieceBpeConfig
    {
        public bool AddBos { get; init; } = true;

        public bool AddEos { get; init; }

        public string? BosToken { get; init; }

        public string? EosToken { get; init; }

        public string? ChatTemplate { get; init; }
    }
}
