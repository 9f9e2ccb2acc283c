using System.Text.Json;
using EdgeGuard.ModelFiles;
using EdgeGuard.Tokenization;
using Microsoft.ML.Tokenizers;

namespace EdgeGuard.Onnx;

/// <summary>
/// The BERT family's tokenizer (BERT, DistilBERT, ELECTRA, …): a WordPiece <c>vocab.txt</c> with Hugging Face's basic
/// tokenization (clean-up, optional lower-casing and accent stripping, punctuation and CJK splitting), from
/// Microsoft.ML.Tokenizers. Settings come from <c>tokenizer_config.json</c> when it is there, else Hugging Face's
/// <c>BertTokenizer</c> defaults (lower-case, strip accents, split CJK). Accented letters are decomposed here
/// (<see cref="AccentStripping"/>) because the library's own decomposition needs ICU, which EdgeGuard runs without.
/// </summary>
/// <remarks>
/// Text that spells <c>[SEP]</c> or <c>[CLS]</c> is tokenized as the characters it is (special tokens are not split out
/// of text), so input cannot forge a segment boundary — unlike Hugging Face's default, see
/// docs/decisions/0003-special-token-text.md.
/// </remarks>
internal sealed class WordPieceTokenizer : ITokenizer
{
    private readonly BertTokenizer _bert;

    private WordPieceTokenizer(BertTokenizer bert, int vocabularySize, bool lowerCase, bool stripAccents)
    {
        _bert = bert;
        VocabularySize = vocabularySize;
        LowerCase = lowerCase;
        StripAccents = stripAccents;
        ClsId = bert.ClassificationTokenId;
        SepId = bert.SeparatorTokenId;
    }

    /// <inheritdoc />
    public int VocabularySize { get; }

    /// <inheritdoc />
    public int ClsId { get; }

    /// <inheritdoc />
    public int SepId { get; }

    /// <summary>Whether text is lower-cased before WordPiece (<c>do_lower_case</c>).</summary>
    public bool LowerCase { get; }

    /// <summary>Whether accents are stripped before WordPiece (<c>strip_accents</c>, by default as <c>do_lower_case</c>).</summary>
    public bool StripAccents { get; }

    /// <summary>Reads <paramref name="vocabPath"/> and, if given, <paramref name="tokenizerConfigPath"/>.</summary>
    /// <exception cref="ModelFileException">A file is unreadable or malformed, or the vocabulary lacks a special token the settings name.</exception>
    public static WordPieceTokenizer FromFiles(string vocabPath, string? tokenizerConfigPath)
    {
        var settings = tokenizerConfigPath is null ? new Settings() : Settings.Load(tokenizerConfigPath);
        HashSet<string> vocabulary;
        int lines;
        try
        {
            // One token per line, the id is the line number: what Hugging Face's load_vocab does.
            vocabulary = new HashSet<string>(StringComparer.Ordinal);
            lines = 0;
            foreach (string line in File.ReadLines(vocabPath))
            {
                vocabulary.Add(line);
                lines++;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException($"{vocabPath}: cannot read the WordPiece vocabulary: {e.Message}", e);
        }

        foreach (string special in new[] { settings.ClsToken, settings.SepToken, settings.PadToken, settings.UnkToken, settings.MaskToken })
        {
            if (!vocabulary.Contains(special))
            {
                throw new ModelFileException($"{vocabPath}: the vocabulary has no '{special}' token, which a BERT-style classifier needs.");
            }
        }

        bool stripAccents = settings.StripAccents ?? settings.LowerCase;
        var options = new BertOptions
        {
            LowerCaseBeforeTokenization = settings.LowerCase,
            RemoveNonSpacingMarks = stripAccents,
            IndividuallyTokenizeCjk = settings.TokenizeChineseChars,
            ApplyBasicTokenization = true,
            SplitOnSpecialTokens = false,
            ClassificationToken = settings.ClsToken,
            SeparatorToken = settings.SepToken,
            PaddingToken = settings.PadToken,
            UnknownToken = settings.UnkToken,
            MaskingToken = settings.MaskToken,
        };
        try
        {
            return new WordPieceTokenizer(BertTokenizer.Create(vocabPath, options), lines, settings.LowerCase, stripAccents);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ArgumentException or FormatException)
        {
            throw new ModelFileException($"{vocabPath}: not a usable WordPiece vocabulary: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return [.. EncodeCore(text)];
    }

    /// <inheritdoc />
    public void Encode(ReadOnlySpan<char> text, List<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ids.AddRange(EncodeCore(text));
    }

    private IReadOnlyList<int> EncodeCore(ReadOnlySpan<char> text)
    {
        string? decomposed = StripAccents ? AccentStripping.Apply(text) : null;
        return decomposed is null
            ? _bert.EncodeToIds(text, addSpecialTokens: false, considerPreTokenization: true, considerNormalization: true)
            : _bert.EncodeToIds(decomposed, addSpecialTokens: false, considerPreTokenization: true, considerNormalization: true);
    }

    /// <summary>The fields of <c>tokenizer_config.json</c> that change how a BERT tokenizer splits text.</summary>
    private sealed record Settings
    {
        public bool LowerCase { get; init; } = true;

        public bool? StripAccents { get; init; }

        public bool TokenizeChineseChars { get; init; } = true;

        public string ClsToken { get; init; } = "[CLS]";

        public string SepToken { get; init; } = "[SEP]";

        public string PadToken { get; init; } = "[PAD]";

        public string UnkToken { get; init; } = "[UNK]";

        public string MaskToken { get; init; } = "[MASK]";

        public static Settings Load(string path)
        {
            try
            {
                using var document = JsonDocument.Parse(File.ReadAllBytes(path));
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    throw new ModelFileException($"{path}: the tokenizer config is not a JSON object.");
                }

                var defaults = new Settings();
                return new Settings
                {
                    LowerCase = Bool(root, "do_lower_case", path) ?? defaults.LowerCase,
                    StripAccents = Bool(root, "strip_accents", path),
                    TokenizeChineseChars = Bool(root, "tokenize_chinese_chars", path) ?? defaults.TokenizeChineseChars,
                    ClsToken = Token(root, "cls_token", path) ?? defaults.ClsToken,
                    SepToken = Token(root, "sep_token", path) ?? defaults.SepToken,
                    PadToken = Token(root, "pad_token", path) ?? defaults.PadToken,
                    UnkToken = Token(root, "unk_token", path) ?? defaults.UnkToken,
                    MaskToken = Token(root, "mask_token", path) ?? defaults.MaskToken,
                };
            }
            catch (JsonException e)
            {
                throw new ModelFileException($"{path}: not valid JSON: {e.Message}", e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ModelFileException($"{path}: cannot read the tokenizer config: {e.Message}", e);
            }
        }

        private static bool? Bool(JsonElement root, string name, string path)
        {
            if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            return value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new ModelFileException($"{path}: {name} must be true, false or null."),
            };
        }

        // A special token is written either as its text or, by newer transformers, as an AddedToken object with "content".
        private static string? Token(JsonElement root, string name, string path)
        {
            if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (value.ValueKind == JsonValueKind.String)
            {
                return value.GetString();
            }

            if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
            {
                return content.GetString();
            }

            throw new ModelFileException($"{path}: {name} must be a token string or an object with \"content\".");
        }
    }
}
