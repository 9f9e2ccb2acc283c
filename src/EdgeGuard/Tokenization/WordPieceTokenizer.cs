using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tokenization;

/// <summary>
/// The BERT family's tokenizer (BERT, MiniLM, DistilBERT, ELECTRA, …) as Hugging Face's <c>tokenizers</c> runs it:
/// <c>BertNormalizer</c> (clean-up, CJK ideographs split, accent stripping and lower-casing for uncased models),
/// <c>BertPreTokenizer</c> (split on whitespace and around punctuation), then greedy longest-match-first WordPiece with
/// <c>##</c> continuations and one <c>[UNK]</c> for a word it cannot spell or that is over 100 characters. Rows are
/// <c>[CLS] a [SEP]</c> / <c>[CLS] a [SEP] b [SEP]</c> with token types 0 then 1 (<see cref="PairTemplate.Bert"/>).
/// Immutable and safe to use from many threads.
/// </summary>
/// <remarks>
/// <para>
/// Text that spells <c>[SEP]</c>, <c>[CLS]</c> or any other special token is tokenized as the characters it is, so input
/// cannot forge a segment boundary (docs/decisions/0003-special-token-text.md). A lone UTF-16 surrogate reads as U+FFFD,
/// which the clean-up drops.
/// </para>
/// <para>
/// Character classes follow the Rust implementation: whitespace is Unicode's White_Space, control is any C* category
/// except tab, newline and carriage return, punctuation is ASCII punctuation or any P* category; lower-casing is per
/// character (no final-sigma rule). Accent stripping uses a table instead of ICU (see <c>AccentStripping</c>).
/// </para>
/// </remarks>
public sealed class WordPieceTokenizer : ITokenizer
{
    private const string VocabularyWhat = "WordPiece vocabulary";

    private readonly string[] _tokens;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly bool _stripAccents;

    private WordPieceTokenizer(string[] tokens, WordPieceSettings settings, string source)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.MaxInputCharsPerWord, 1);
        ArgumentException.ThrowIfNullOrEmpty(settings.ContinuingSubwordPrefix);
        _tokens = tokens;
        _ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int id = 0; id < tokens.Length; id++)
        {
            // Hugging Face's load_vocab: a repeated line maps the token to its last id.
            _ids[tokens[id]] = id;
        }

        _lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        Settings = settings;
        _stripAccents = settings.StripsAccents;
        UnknownId = Require(settings.UnknownToken, source);
        ClsId = Require(settings.ClassificationToken, source);
        SepId = Require(settings.SeparatorToken, source);
        PadId = Require(settings.PaddingToken, source);
        MaskId = Require(settings.MaskToken, source);
        Template = PairTemplate.Bert(ClsId, SepId);
    }

    /// <summary>The options the tokenizer runs with.</summary>
    public WordPieceSettings Settings { get; }

    /// <summary>The tokens in id order (what a bundle stores).</summary>
    public IReadOnlyList<string> Tokens => _tokens;

    /// <inheritdoc />
    public int VocabularySize => _tokens.Length;

    /// <inheritdoc />
    public PairTemplate Template { get; }

    /// <summary>Id of the unknown token.</summary>
    public int UnknownId { get; }

    /// <summary>Id of <c>[CLS]</c>.</summary>
    public int ClsId { get; }

    /// <summary>Id of <c>[SEP]</c>.</summary>
    public int SepId { get; }

    /// <summary>Id of <c>[PAD]</c>.</summary>
    public int PadId { get; }

    /// <summary>Id of <c>[MASK]</c>.</summary>
    public int MaskId { get; }

    /// <summary>A tokenizer over an in-memory vocabulary: <paramref name="tokens"/> in id order, as the lines of <c>vocab.txt</c>.</summary>
    /// <exception cref="ModelFileException">The vocabulary lacks a special token the settings name.</exception>
    public static WordPieceTokenizer Create(IReadOnlyList<string> tokens, WordPieceSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        return new WordPieceTokenizer([.. tokens], settings ?? new WordPieceSettings(), "the WordPiece vocabulary");
    }

    /// <summary>
    /// Reads a model directory: <c>vocab.txt</c> with the normaliser settings of <c>tokenizer.json</c> when it is there, else
    /// of <c>tokenizer_config.json</c> when that is there, else <c>BertTokenizer</c>'s defaults (uncased). A directory with only
    /// <c>tokenizer.json</c> is read by <see cref="FromTokenizerJson(string)"/>.
    /// </summary>
    /// <exception cref="ModelFileException">No vocabulary, or a file is unreadable, malformed or lacks a special token.</exception>
    public static WordPieceTokenizer FromDirectory(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        return Load(TokenizerFiles.FromDirectory(directory, TokenizerFiles.WordPiece));
    }

    /// <summary>
    /// Reads <paramref name="vocabPath"/> (<c>vocab.txt</c>: one token per line, the id is the line number) with settings from
    /// <paramref name="tokenizerConfigPath"/> (<c>tokenizer_config.json</c>) and/or <paramref name="tokenizerJsonPath"/>
    /// (<c>tokenizer.json</c>, whose <c>BertNormalizer</c> and <c>WordPiece</c> options win); defaults where neither says.
    /// </summary>
    /// <exception cref="ModelFileException">A file is unreadable or malformed, or the vocabulary lacks a special token the settings name.</exception>
    public static WordPieceTokenizer FromFiles(string vocabPath, string? tokenizerConfigPath = null, string? tokenizerJsonPath = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(vocabPath);
        return FromFiles(
            TokenizerFileReader.Open(vocabPath, VocabularyWhat),
            tokenizerConfigPath is null ? null : TokenizerFileReader.Open(tokenizerConfigPath, "tokenizer config"),
            tokenizerJsonPath is null ? null : TokenizerFileReader.Open(tokenizerJsonPath, "tokenizer.json"));
    }

    /// <summary>Reads a <c>tokenizer.json</c> whose model is WordPiece (vocabulary inside) and its <c>BertNormalizer</c> options.</summary>
    /// <exception cref="ModelFileException">Unreadable, malformed, not WordPiece, or lacking a special token.</exception>
    public static WordPieceTokenizer FromTokenizerJson(string tokenizerJsonPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenizerJsonPath);
        return FromTokenizerJson(TokenizerFileReader.Open(tokenizerJsonPath, "tokenizer.json"));
    }

    /// <summary>
    /// The tokenizer of a model's files as a directory or a bundle holds them: <c>vocab.txt</c> with the settings of
    /// <c>tokenizer.json</c> and <c>tokenizer_config.json</c> when present, or <c>tokenizer.json</c> alone.
    /// </summary>
    /// <exception cref="ModelFileException">No vocabulary, or a file is malformed or lacks a special token.</exception>
    internal static WordPieceTokenizer Load(TokenizerFiles files)
    {
        if (TokenizerFile.Find(files, "vocab.txt") is not { } vocab)
        {
            return TokenizerFile.Find(files, "tokenizer.json") is { } json
                ? FromTokenizerJson(json)
                : throw new ModelFileException($"{files.Origin}: no vocab.txt or tokenizer.json; a WordPiece model needs its vocabulary.");
        }

        return FromFiles(vocab, TokenizerFile.Find(files, "tokenizer_config.json"), TokenizerFile.Find(files, "tokenizer.json"));
    }

    private static WordPieceTokenizer FromFiles(TokenizerFile vocab, TokenizerFile? tokenizerConfig, TokenizerFile? tokenizerJson)
    {
        var settings = new WordPieceSettings();
        if (tokenizerConfig is { } config)
        {
            settings = ReadTokenizerConfig(config, settings);
        }

        if (tokenizerJson is { } json)
        {
            using var document = TokenizerFileReader.ReadObject(json, "tokenizer.json");
            settings = ReadTokenizerJsonSettings(document.RootElement, json.Origin, settings);
        }

        var tokens = TokenizerFileReader.ReadLines(vocab);
        return new WordPieceTokenizer([.. tokens], settings, vocab.Origin);
    }

    private static WordPieceTokenizer FromTokenizerJson(TokenizerFile file)
    {
        string tokenizerJsonPath = file.Origin;
        using var document = TokenizerFileReader.ReadObject(file, "tokenizer.json");
        var root = document.RootElement;
        var model = TokenizerFileReader.Model(root, "WordPiece", tokenizerJsonPath);
        if (!model.TryGetProperty("vocab", out var vocab))
        {
            throw new ModelFileException($"{tokenizerJsonPath}: the WordPiece model has no vocab.");
        }

        string[] tokens = TokenizerFileReader.VocabularyInIdOrder(vocab, tokenizerJsonPath);
        var settings = ReadTokenizerJsonSettings(root, tokenizerJsonPath, new WordPieceSettings());
        return new WordPieceTokenizer(tokens, settings, tokenizerJsonPath);
    }

    /// <summary>The token of <paramref name="id"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is outside [0, <see cref="VocabularySize"/>).</exception>
    public string GetToken(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, VocabularySize);
        return _tokens[id];
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
    /// <remarks>A piece covers the input characters its normalised characters came from; an unknown word covers the whole word.</remarks>
    public void Encode(ReadOnlySpan<char> text, List<int> ids, List<TokenOffset> offsets)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(offsets);
        EncodeCore(text, ids, offsets);
    }

    /// <inheritdoc />
    /// <remarks>
    /// As Hugging Face's WordPiece decoder: pieces joined by spaces, a <c>##</c> piece glued to the one before, then (by
    /// default) <c>clean_up_tokenization</c>. Lower-casing and accent stripping are not undone.
    /// </remarks>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder(ids.Length * 4);
        string prefix = Settings.ContinuingSubwordPrefix;
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_tokens.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary [0, {_tokens.Length}).");
            }

            if (id == ClsId || id == SepId || id == PadId || id == MaskId)
            {
                continue;
            }

            string token = _tokens[id];
            if (text.Length == 0)
            {
                text.Append(token);
            }
            else if (token.StartsWith(prefix, StringComparison.Ordinal))
            {
                text.Append(token, prefix.Length, token.Length - prefix.Length);
            }
            else
            {
                text.Append(' ').Append(token);
            }
        }

        return Settings.CleanUpTokenizationSpaces ? TokenizationSpaces.CleanUp(text) : text.ToString();
    }

    private void EncodeCore(ReadOnlySpan<char> text, List<int> ids, List<TokenOffset>? offsets)
    {
        if (text.IsEmpty)
        {
            return;
        }

        bool track = offsets is not null;
        var normalized = new PooledBuffer<char>(text.Length + 16);
        var origins = track ? new PooledBuffer<int>(text.Length * 2 + 16) : default;
        char[] candidate = ArrayPool<char>.Shared.Rent(Settings.ContinuingSubwordPrefix.Length + 64);
        try
        {
            Normalize(text, ref normalized, ref origins, track);
            ReadOnlySpan<char> chars = normalized.Span;
            int wordStart = -1;
            for (int i = 0; i < chars.Length;)
            {
                Rune.DecodeFromUtf16(chars[i..], out Rune rune, out int width);
                bool space = Rune.IsWhiteSpace(rune);
                bool punctuation = !space && IsPunctuation(rune);
                if (space || punctuation)
                {
                    if (wordStart >= 0)
                    {
                        EncodeWord(chars, wordStart, i, ref origins, ref candidate, ids, offsets);
                        wordStart = -1;
                    }

                    if (punctuation)
                    {
                        EncodeWord(chars, i, i + width, ref origins, ref candidate, ids, offsets);
                    }
                }
                else if (wordStart < 0)
                {
                    wordStart = i;
                }

                i += width;
            }

            if (wordStart >= 0)
            {
                EncodeWord(chars, wordStart, chars.Length, ref origins, ref candidate, ids, offsets);
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(candidate);
            origins.Dispose();
            normalized.Dispose();
        }
    }

    /// <summary>
    /// <c>BertNormalizer</c>: writes the normalised text and, when tracking, for each normalised UTF-16 unit the start and
    /// end of the input character it came from.
    /// </summary>
    private void Normalize(ReadOnlySpan<char> text, ref PooledBuffer<char> output, ref PooledBuffer<int> origins, bool track)
    {
        Span<char> stripped = stackalloc char[AccentStripping.MaxReplacementLength];
        Span<char> units = stackalloc char[2];
        for (int i = 0; i < text.Length;)
        {
            if (Rune.DecodeFromUtf16(text[i..], out Rune rune, out int width) != OperationStatus.Done)
            {
                rune = Rune.ReplacementChar;
            }

            int start = i, end = i + width;
            i = end;
            int value = rune.Value;
            if (Settings.CleanText)
            {
                if (value == 0 || value == 0xFFFD || IsControl(rune))
                {
                    continue;
                }

                if (Rune.IsWhiteSpace(rune))
                {
                    Append(ref output, ref origins, track, ' ', start, end);
                    continue;
                }
            }

            if (Settings.TokenizeChineseChars && IsChineseCharacter(value))
            {
                Append(ref output, ref origins, track, ' ', start, end);
                AppendRune(ref output, ref origins, track, rune, units, start, end);
                Append(ref output, ref origins, track, ' ', start, end);
                continue;
            }

            if (_stripAccents)
            {
                if (Rune.GetUnicodeCategory(rune) == UnicodeCategory.NonSpacingMark)
                {
                    continue;
                }

                if (AccentStripping.TryStrip(value, stripped, out int written))
                {
                    for (int k = 0; k < written;)
                    {
                        Rune.DecodeFromUtf16(stripped[k..written], out Rune part, out int partWidth);
                        AppendCased(ref output, ref origins, track, part, units, start, end);
                        k += partWidth;
                    }

                    continue;
                }
            }

            AppendCased(ref output, ref origins, track, rune, units, start, end);
        }
    }

    private void AppendCased(ref PooledBuffer<char> output, ref PooledBuffer<int> origins, bool track, Rune rune, Span<char> units, int start, int end)
    {
        if (Settings.LowerCase)
        {
            // Rust's char::to_lowercase: İ has the one multi-character lower case in Unicode, i + combining dot above.
            if (rune.Value == 0x130)
            {
                Append(ref output, ref origins, track, 'i', start, end);
                Append(ref output, ref origins, track, '\u0307', start, end);
                return;
            }

            rune = Rune.ToLowerInvariant(rune);
        }

        AppendRune(ref output, ref origins, track, rune, units, start, end);
    }

    private static void AppendRune(ref PooledBuffer<char> output, ref PooledBuffer<int> origins, bool track, Rune rune, Span<char> units, int start, int end)
    {
        int count = rune.EncodeToUtf16(units);
        for (int k = 0; k < count; k++)
        {
            Append(ref output, ref origins, track, units[k], start, end);
        }
    }

    private static void Append(ref PooledBuffer<char> output, ref PooledBuffer<int> origins, bool track, char c, int start, int end)
    {
        output.Add(c);
        if (track)
        {
            origins.Add(start);
            origins.Add(end);
        }
    }

    /// <summary>Greedy longest-match-first WordPiece over the word <c>chars[start..end)</c>.</summary>
    private void EncodeWord(ReadOnlySpan<char> chars, int start, int end, ref PooledBuffer<int> origins, ref char[] candidate, List<int> ids, List<TokenOffset>? offsets)
    {
        ReadOnlySpan<char> word = chars[start..end];
        if (CountRunes(word) > Settings.MaxInputCharsPerWord)
        {
            AddToken(UnknownId, start, end, ref origins, ids, offsets);
            return;
        }

        int firstPiece = ids.Count;
        string prefix = Settings.ContinuingSubwordPrefix;
        for (int pieceStart = 0; pieceStart < word.Length;)
        {
            int pieceEnd = word.Length;
            int id = -1;
            while (pieceStart < pieceEnd)
            {
                ReadOnlySpan<char> piece = word[pieceStart..pieceEnd];
                if (pieceStart > 0)
                {
                    if (candidate.Length < prefix.Length + piece.Length)
                    {
                        ArrayPool<char>.Shared.Return(candidate);
                        candidate = ArrayPool<char>.Shared.Rent(prefix.Length + piece.Length);
                    }

                    prefix.CopyTo(candidate);
                    piece.CopyTo(candidate.AsSpan(prefix.Length));
                    piece = candidate.AsSpan(0, prefix.Length + piece.Length);
                }

                if (_lookup.TryGetValue(piece, out id))
                {
                    break;
                }

                id = -1;
                pieceEnd -= char.IsLowSurrogate(word[pieceEnd - 1]) && pieceEnd - 2 >= pieceStart && char.IsHighSurrogate(word[pieceEnd - 2]) ? 2 : 1;
            }

            if (id < 0)
            {
                // A word WordPiece cannot spell is one unknown token, whatever pieces it found before.
                ids.RemoveRange(firstPiece, ids.Count - firstPiece);
                offsets?.RemoveRange(firstPiece, offsets.Count - firstPiece);
                AddToken(UnknownId, start, end, ref origins, ids, offsets);
                return;
            }

            AddToken(id, start + pieceStart, start + pieceEnd, ref origins, ids, offsets);
            pieceStart = pieceEnd;
        }
    }

    private static void AddToken(int id, int start, int end, ref PooledBuffer<int> origins, List<int> ids, List<TokenOffset>? offsets)
    {
        ids.Add(id);
        if (offsets is not null)
        {
            ReadOnlySpan<int> bounds = origins.Span;
            int from = bounds[2 * start];
            offsets.Add(new TokenOffset(from, bounds[(2 * (end - 1)) + 1] - from));
        }
    }

    private static int CountRunes(ReadOnlySpan<char> word)
    {
        int count = word.Length;
        for (int i = 1; i < word.Length; i++)
        {
            if (char.IsLowSurrogate(word[i]) && char.IsHighSurrogate(word[i - 1]))
            {
                count--;
            }
        }

        return count;
    }

    private static bool IsControl(Rune rune)
    {
        if (rune.Value is '\t' or '\n' or '\r')
        {
            return false;
        }

        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;
    }

    private static bool IsPunctuation(Rune rune)
    {
        int c = rune.Value;
        if (c is (>= 33 and <= 47) or (>= 58 and <= 64) or (>= 91 and <= 96) or (>= 123 and <= 126))
        {
            return true;
        }

        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    // The CJK Unified Ideographs blocks BERT splits into single characters (Hangul, kana and CJK punctuation are not among them).
    private static bool IsChineseCharacter(int c) =>
        c is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF) or (>= 0x2A700 and <= 0x2B73F)
            or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);

    private int Require(string token, string source) =>
        _ids.TryGetValue(token, out int id)
            ? id
            : throw new ModelFileException($"{source}: the vocabulary has no '{token}' token, which a BERT-style model needs.");

    private static WordPieceSettings ReadTokenizerConfig(TokenizerFile file, WordPieceSettings settings)
    {
        string path = file.Origin;
        using var document = TokenizerFileReader.ReadObject(file, "tokenizer config");
        var root = document.RootElement;
        return settings with
        {
            LowerCase = TokenizerFileReader.Bool(root, "do_lower_case", path) ?? settings.LowerCase,
            StripAccents = TokenizerFileReader.Bool(root, "strip_accents", path) ?? settings.StripAccents,
            TokenizeChineseChars = TokenizerFileReader.Bool(root, "tokenize_chinese_chars", path) ?? settings.TokenizeChineseChars,
            CleanUpTokenizationSpaces = TokenizerFileReader.Bool(root, "clean_up_tokenization_spaces", path) ?? settings.CleanUpTokenizationSpaces,
            UnknownToken = TokenizerFileReader.Token(root, "unk_token", path) ?? settings.UnknownToken,
            ClassificationToken = TokenizerFileReader.Token(root, "cls_token", path) ?? settings.ClassificationToken,
            SeparatorToken = TokenizerFileReader.Token(root, "sep_token", path) ?? settings.SeparatorToken,
            PaddingToken = TokenizerFileReader.Token(root, "pad_token", path) ?? settings.PaddingToken,
            MaskToken = TokenizerFileReader.Token(root, "mask_token", path) ?? settings.MaskToken,
        };
    }

    private static WordPieceSettings ReadTokenizerJsonSettings(JsonElement root, string path, WordPieceSettings settings)
    {
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind == JsonValueKind.Object)
        {
            string? type = TokenizerFileReader.String(normalizer, "type", path);
            if (type != "BertNormalizer")
            {
                throw new ModelFileException($"{path}: normalizer {type ?? "(no type)"} is not supported for WordPiece; BertNormalizer expected.");
            }

            settings = settings with
            {
                CleanText = TokenizerFileReader.Bool(normalizer, "clean_text", path) ?? true,
                TokenizeChineseChars = TokenizerFileReader.Bool(normalizer, "handle_chinese_chars", path) ?? true,
                StripAccents = TokenizerFileReader.Bool(normalizer, "strip_accents", path),
                LowerCase = TokenizerFileReader.Bool(normalizer, "lowercase", path) ?? true,
            };
        }

        if (root.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.Object)
        {
            settings = settings with
            {
                UnknownToken = TokenizerFileReader.String(model, "unk_token", path) ?? settings.UnknownToken,
                ContinuingSubwordPrefix = TokenizerFileReader.String(model, "continuing_subword_prefix", path) ?? settings.ContinuingSubwordPrefix,
                MaxInputCharsPerWord = TokenizerFileReader.Int(model, "max_input_chars_per_word", path) ?? settings.MaxInputCharsPerWord,
            };
        }

        return settings;
    }
}
