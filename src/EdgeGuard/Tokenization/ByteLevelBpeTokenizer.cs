using System.Buffers;
using System.Text;
using System.Text.Json;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tokenization;

/// <summary>
/// Byte-level BPE as GPT-2, RoBERTa, Llama 3, Qwen2 and SmolLM use it (Hugging Face's <c>ByteLevel</c> pre-tokenizer and
/// <c>BPE</c> model): text is cut into pre-tokens by the model's pattern (<see cref="ByteLevelPattern"/>, after an optional
/// <c>Digits</c> split), each pre-token's UTF-8 bytes are written with GPT-2's byte-to-character map (<c>Ġ</c> is the space)
/// and merged pair by pair in merge-rank order. Rows follow the tokenizer's template: RoBERTa's
/// <c>&lt;s&gt; a &lt;/s&gt;&lt;/s&gt; b &lt;/s&gt;</c> (token types all 0), Llama 3's <c>&lt;|begin_of_text|&gt; a</c>, or
/// GPT-2's and Qwen2's plain concatenation. Immutable and safe to use from many threads.
/// </summary>
/// <remarks>
/// Text that spells a special token (<c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>, <c>&lt;|endoftext|&gt;</c> …) is encoded as the
/// characters it is (docs/decisions/0003-special-token-text.md), and a vocabulary whose merges would spell a special token
/// is refused, so no text can become a special id. A lone UTF-16 surrogate reads as U+FFFD.
/// </remarks>
public sealed class ByteLevelBpeTokenizer : IGenerativeTokenizer, ITokenBytes
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly short[] CharToByte = BuildCharToByte();

    private readonly string[] _tokens;
    private readonly int[] _byteIds = new int[256];
    private readonly Dictionary<long, Merge> _merges;
    private readonly Dictionary<int, string> _specialById;
    private readonly Dictionary<int, byte[]> _addedById;
    private readonly (string Left, string Right)[] _mergeList;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _tokenIds;
    private readonly Dictionary<string, int> _specialAndAddedIds;
    private readonly AddedTokenMatcher _addedTokenMatcher;
    private readonly string _chatTemplateOrigin;

    private ByteLevelBpeTokenizer(string[] tokens, IReadOnlyList<(string Left, string Right)> merges, ByteLevelBpeSettings settings, string source)
    {
        _tokens = tokens;
        var ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int id = 0; id < tokens.Length; id++)
        {
            if (!ids.TryAdd(tokens[id], id))
            {
                throw new ModelFileException($"{source}: the token '{tokens[id]}' appears twice in the vocabulary.");
            }
        }

        for (int b = 0; b < 256; b++)
        {
            _byteIds[b] = ids.TryGetValue(ByteToChar[b].ToString(), out int id)
                ? id
                : throw new ModelFileException($"{source}: the vocabulary has no token for byte 0x{b:X2} ('{ByteToChar[b]}'); byte-level BPE needs all 256.");
        }

        _specialById = [];
        int size = tokens.Length;
        foreach (var (content, id) in settings.SpecialTokens)
        {
            if (id < 0 || (id < tokens.Length && tokens[id] != content))
            {
                throw new ModelFileException($"{source}: special token '{content}' has id {id}, which the vocabulary gives to another token.");
            }

            _specialById[id] = content;
            size = Math.Max(size, id + 1);
        }

        _addedById = [];
        foreach (var (content, id) in settings.AddedTokens)
        {
            if (id < 0 || (id < tokens.Length && tokens[id] != content) || _specialById.ContainsKey(id))
            {
                throw new ModelFileException($"{source}: added token '{content}' has id {id}, which the vocabulary gives to another token.");
            }

            _addedById[id] = Encoding.UTF8.GetBytes(content);
            size = Math.Max(size, id + 1);
        }

        _specialAndAddedIds = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (content, id) in settings.SpecialTokens.Concat(settings.AddedTokens))
        {
            _specialAndAddedIds[content] = id;
        }

        _addedTokenMatcher = new AddedTokenMatcher(_specialAndAddedIds);
        _tokenIds = ids.GetAlternateLookup<ReadOnlySpan<char>>();
        BosId = TokenId(settings.BosToken, "bos_token", source);
        EosId = TokenId(settings.EosToken, "eos_token", source);

        _merges = new Dictionary<long, Merge>(merges.Count);
        _mergeList = [.. merges];
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            if (!ids.TryGetValue(left, out int a) || !ids.TryGetValue(right, out int b) || !ids.TryGetValue(left + right, out int merged))
            {
                throw new ModelFileException($"{source}: merge {rank} '{left} {right}' uses or makes a token that is not in the vocabulary.");
            }

            if (_specialById.ContainsKey(merged))
            {
                throw new ModelFileException($"{source}: merge {rank} '{left} {right}' spells the special token '{left + right}', which would let text forge it.");
            }

            // The first of repeated merges wins, as a dictionary built in rank order keeps it.
            _merges.TryAdd(Key(a, b), new Merge(rank, merged));
        }

        VocabularySize = size;
        Settings = settings;
        Template = settings.Template ?? DefaultTemplate(settings.SpecialTokens);
        _chatTemplateOrigin = source;
    }

    /// <summary>The settings the tokenizer runs with (special tokens, prefix space, template).</summary>
    public ByteLevelBpeSettings Settings { get; }

    /// <summary>The tokens in id order, in GPT-2's byte-character spelling (what a bundle stores).</summary>
    public IReadOnlyList<string> Tokens => _tokens;

    /// <summary>The merges in rank order (what a bundle stores).</summary>
    public IReadOnlyList<(string Left, string Right)> Merges => _mergeList;

    /// <inheritdoc />
    public int VocabularySize { get; }

    /// <inheritdoc />
    public PairTemplate Template { get; }

    /// <inheritdoc />
    public int? BosId { get; }

    /// <inheritdoc />
    public int? EosId { get; }

    bool ITokenBytes.ReplacesEachInvalidByte => false;

    /// <summary>A tokenizer from memory: <paramref name="tokens"/> in id order, <paramref name="merges"/> in rank order.</summary>
    /// <exception cref="ModelFileException">A byte symbol is missing, a merge names an unknown token or spells a special token, or a special id is taken.</exception>
    public static ByteLevelBpeTokenizer Create(IReadOnlyList<string> tokens, IReadOnlyList<(string Left, string Right)> merges, ByteLevelBpeSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(merges);
        return new ByteLevelBpeTokenizer([.. tokens], merges, settings ?? new ByteLevelBpeSettings(), "the byte-level BPE vocabulary");
    }

    /// <summary>
    /// Reads <c>vocab.json</c> and <c>merges.txt</c>, with <c>add_prefix_space</c> and the special tokens from
    /// <paramref name="tokenizerConfigPath"/> (<c>tokenizer_config.json</c>) and <paramref name="specialTokensMapPath"/>
    /// (<c>special_tokens_map.json</c>) when given; otherwise RoBERTa's special tokens when the vocabulary has <c>&lt;s&gt;</c>,
    /// else GPT-2's <c>&lt;|endoftext|&gt;</c>.
    /// </summary>
    /// <exception cref="ModelFileException">A file is missing, unreadable or malformed, or the vocabulary is unusable.</exception>
    public static ByteLevelBpeTokenizer FromFiles(string vocabJsonPath, string mergesPath, string? tokenizerConfigPath = null, string? specialTokensMapPath = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(vocabJsonPath);
        ArgumentException.ThrowIfNullOrEmpty(mergesPath);
        return FromFiles(
            TokenizerFileReader.Open(vocabJsonPath, "BPE vocabulary"),
            TokenizerFileReader.Open(mergesPath, "BPE merges"),
            tokenizerConfigPath is null ? null : TokenizerFileReader.Open(tokenizerConfigPath, "tokenizer config"),
            specialTokensMapPath is null ? null : TokenizerFileReader.Open(specialTokensMapPath, "tokenizer config"));
    }

    /// <summary>
    /// The tokenizer of a model's files as a directory or a bundle holds them: <c>tokenizer.json</c> when present (it has
    /// the vocabulary, merges, special tokens and template in one file), else <c>vocab.json</c> + <c>merges.txt</c> with
    /// <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c>.
    /// </summary>
    /// <exception cref="ModelFileException">The files a byte-level BPE needs are missing, or a file is malformed.</exception>
    internal static ByteLevelBpeTokenizer Load(TokenizerFiles files)
    {
        if (TokenizerFile.Find(files, "tokenizer.json") is { } json)
        {
            return FromTokenizerJson(json, TokenizerFile.Find(files, "tokenizer_config.json"), TokenizerFile.Find(files, "chat_template.jinja"), TokenizerFile.Find(files, "special_tokens_map.json"));
        }

        if (files.Kind == TokenizerFiles.HuggingFaceTokenizerJson)
        {
            throw new ModelFileException($"{files.Origin}: an {TokenizerFiles.HuggingFaceTokenizerJson} tokenizer needs tokenizer.json, which is missing.");
        }

        if (TokenizerFile.Find(files, "vocab.json") is not { } vocab || TokenizerFile.Find(files, "merges.txt") is not { } merges)
        {
            throw new ModelFileException($"{files.Origin}: a byte-level BPE tokenizer needs tokenizer.json, or vocab.json and merges.txt.");
        }

        return FromFiles(vocab, merges, TokenizerFile.Find(files, "tokenizer_config.json"), TokenizerFile.Find(files, "special_tokens_map.json"));
    }

    private static ByteLevelBpeTokenizer FromFiles(TokenizerFile vocabJson, TokenizerFile mergesFile, TokenizerFile? tokenizerConfig, TokenizerFile? specialTokensMap)
    {
        string vocabJsonPath = vocabJson.Origin;
        string[] tokens;
        using (var vocab = TokenizerFileReader.ReadObject(vocabJson, "BPE vocabulary"))
        {
            tokens = TokenizerFileReader.VocabularyInIdOrder(vocab.RootElement, vocabJsonPath);
        }

        var merges = ParseMerges(TokenizerFileReader.ReadLines(mergesFile), mergesFile.Origin);
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < tokens.Length; id++)
        {
            ids[tokens[id]] = id;
        }

        var names = new List<string>();
        bool addPrefixSpace = false;
        string? bos = null, eos = null;
        foreach (TokenizerFile? file in new[] { specialTokensMap, tokenizerConfig })
        {
            if (file is not { } config)
            {
                continue;
            }

            string path = config.Origin;
            using var document = TokenizerFileReader.ReadObject(config, "tokenizer config");
            var root = document.RootElement;
            foreach (string field in new[] { "bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token" })
            {
                if (TokenizerFileReader.Token(root, field, path) is { } token && !names.Contains(token))
                {
                    names.Add(token);
                }
            }

            addPrefixSpace |= TokenizerFileReader.Bool(root, "add_prefix_space", path) ?? false;
            bos = TokenizerFileReader.Token(root, "bos_token", path) ?? bos;
            eos = TokenizerFileReader.Token(root, "eos_token", path) ?? eos;
        }

        if (names.Count == 0)
        {
            names.AddRange(ids.ContainsKey("<s>") ? ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] : ["<|endoftext|>"]);
        }

        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string name in names)
        {
            if (ids.TryGetValue(name, out int id))
            {
                specials[name] = id;
            }
        }

        var settings = new ByteLevelBpeSettings
        {
            AddPrefixSpace = addPrefixSpace,
            SpecialTokens = specials,
            BosToken = bos is not null && specials.ContainsKey(bos) ? bos : null,
            EosToken = eos is not null && specials.ContainsKey(eos) ? eos : DefaultEosToken(specials),
        };
        return new ByteLevelBpeTokenizer(tokens, merges, settings, vocabJsonPath);
    }

    /// <summary>
    /// Reads a byte-level BPE <c>tokenizer.json</c> as Hugging Face <c>tokenizers</c> writes it: a BPE model (vocabulary, merges
    /// as <c>"a b"</c> strings or <c>["a", "b"]</c> pairs, <c>ignore_merges</c>), no normalizer or <c>NFC</c>, a pre-tokenizer
    /// that is <c>ByteLevel</c> or a <c>Sequence</c> of a <c>Split</c> with a known pattern or a <c>Digits</c> and a
    /// <c>ByteLevel</c>, <c>added_tokens</c>, and the template from the post-processor (<c>RobertaProcessing</c>,
    /// <c>TemplateProcessing</c>, <c>ByteLevel</c>, or a <c>Sequence</c> of them); with <paramref name="tokenizerConfigPath"/>
    /// (<c>tokenizer_config.json</c>), its <c>bos_token</c>, <c>eos_token</c> and <c>chat_template</c>.
    /// </summary>
    /// <exception cref="ModelFileException">Unreadable or malformed, a component or pattern this runtime does not implement (named), or an unusable vocabulary.</exception>
    public static ByteLevelBpeTokenizer FromTokenizerJson(string tokenizerJsonPath, string? tokenizerConfigPath = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenizerJsonPath);
        return FromTokenizerJson(
            TokenizerFileReader.Open(tokenizerJsonPath, "tokenizer.json"),
            tokenizerConfigPath is null ? null : TokenizerFileReader.Open(tokenizerConfigPath, "tokenizer config"),
            null,
            null);
    }

    private static ByteLevelBpeTokenizer FromTokenizerJson(TokenizerFile file, TokenizerFile? tokenizerConfig, TokenizerFile? chatTemplateFile, TokenizerFile? specialTokensMap)
    {
        string path = file.Origin;
        using var document = TokenizerFileReader.ReadObject(file, "tokenizer.json");
        var root = document.RootElement;
        var model = TokenizerFileReader.Model(root, "BPE", path);
        bool nfc = ReadNormalizer(root, path);
        var (pattern, digits, addPrefixSpace) = ReadPreTokenizer(root, path);
        ReadDecoder(root, path);
        CheckBpeOptions(model, path);
        if (!model.TryGetProperty("vocab", out var vocab) || !model.TryGetProperty("merges", out var mergesElement) || mergesElement.ValueKind != JsonValueKind.Array)
        {
            throw new ModelFileException($"{path}: the BPE model needs a vocab object and a merges array.");
        }

        string[] tokens = TokenizerFileReader.VocabularyInIdOrder(vocab, path);
        var merges = new List<(string, string)>();
        foreach (var merge in mergesElement.EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.String)
            {
                merges.Add(SplitMerge(merge.GetString()!, merges.Count, path));
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2 && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                merges.Add((merge[0].GetString()!, merge[1].GetString()!));
            }
            else
            {
                throw new ModelFileException($"{path}: merge {merges.Count} must be \"a b\" or [\"a\", \"b\"].");
            }
        }

        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (content, id, special) in TokenizerFileReader.AddedTokens(root, path))
        {
            (special ? specials : added)[content] = id;
        }

        var config = ReadGenerationConfig(tokenizerConfig, chatTemplateFile, specialTokensMap);
        var settings = new ByteLevelBpeSettings
        {
            AddPrefixSpace = addPrefixSpace,
            SpecialTokens = specials,
            AddedTokens = added,
            Template = ReadTemplate(root, path),
            Pattern = pattern,
            Digits = digits,
            IgnoreMerges = TokenizerFileReader.Bool(model, "ignore_merges", path) ?? false,
            NormalizeNfc = nfc,
            BosToken = config.Bos,
            EosToken = config.Eos ?? DefaultEosToken(specials),
            ChatTemplate = config.ChatTemplate,
        };
        return new ByteLevelBpeTokenizer(tokens, merges, settings, path);
    }

    /// <summary>
    /// <c>bos_token</c>, <c>eos_token</c> and <c>chat_template</c> of <c>tokenizer_config.json</c> (the template from
    /// <c>chat_template.jinja</c> when there is one, the tokens from <c>special_tokens_map.json</c> when the config names none).
    /// </summary>
    private static (string? Bos, string? Eos, string? ChatTemplate) ReadGenerationConfig(TokenizerFile? tokenizerConfig, TokenizerFile? chatTemplateFile, TokenizerFile? specialTokensMap)
    {
        string? bos = null, eos = null, chatTemplate = null;
        if (specialTokensMap is { } mapFile)
        {
            using var map = TokenizerFileReader.ReadObject(mapFile, "special tokens map");
            bos = TokenizerFileReader.Token(map.RootElement, "bos_token", mapFile.Origin);
            eos = TokenizerFileReader.Token(map.RootElement, "eos_token", mapFile.Origin);
        }

        if (tokenizerConfig is { } configFile)
        {
            using var config = TokenizerFileReader.ReadObject(configFile, "tokenizer config");
            var root = config.RootElement;
            bos = TokenizerFileReader.Token(root, "bos_token", configFile.Origin) ?? bos;
            eos = TokenizerFileReader.Token(root, "eos_token", configFile.Origin) ?? eos;
            chatTemplate = Tokenization.ChatTemplate.ReadFromConfig(root, configFile.Origin);
        }

        if (chatTemplateFile is { } jinja)
        {
            chatTemplate = Encoding.UTF8.GetString(jinja.Bytes.Span);
        }

        return (bos, eos, chatTemplate);
    }

    // Without tokenizer_config.json, the end-of-text token a GPT-2-style vocabulary names, if any.
    private static string? DefaultEosToken(Dictionary<string, int> specials) =>
        new[] { "<|endoftext|>", "<|end_of_text|>", "</s>" }.FirstOrDefault(specials.ContainsKey);

    /// <summary>Whether the normalizer is <c>NFC</c> (true) or absent (false); anything else is refused.</summary>
    private static bool ReadNormalizer(JsonElement root, string path)
    {
        if (!root.TryGetProperty("normalizer", out var normalizer) || normalizer.ValueKind == JsonValueKind.Null)
        {
            return false;
        }

        string? type = TokenizerFileReader.String(normalizer, "type", path);
        if (type == "NFC")
        {
            return true;
        }

        string hint = type is "Sequence" or "Prepend" or "Replace" ? " (a SentencePiece-style tokenizer.json, as Llama 2's: read its tokenizer.model instead)" : string.Empty;
        throw new ModelFileException($"{path}: the normalizer {type ?? "(no type)"} is not supported for byte-level BPE; only none or NFC{hint}.");
    }

    /// <summary>
    /// The pre-tokenizer: <c>ByteLevel</c> (GPT-2's pattern when <c>use_regex</c>), or a <c>Sequence</c> of <c>Split</c>
    /// (a known pattern, <c>Isolated</c>) or <c>Digits</c>, then <c>ByteLevel</c>.
    /// </summary>
    private static (ByteLevelPattern Pattern, DigitSplitting Digits, bool AddPrefixSpace) ReadPreTokenizer(JsonElement root, string path)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object)
        {
            throw new ModelFileException($"{path}: byte-level BPE needs a ByteLevel pre-tokenizer; this tokenizer.json has none.");
        }

        string? type = TokenizerFileReader.String(pre, "type", path);
        if (type == "ByteLevel")
        {
            return (ByteLevelRegex(pre, path) ? ByteLevelPattern.Gpt2 : ByteLevelPattern.None, DigitSplitting.None, TokenizerFileReader.Bool(pre, "add_prefix_space", path) ?? false);
        }

        if (type != "Sequence" || !pre.TryGetProperty("pretokenizers", out var steps) || steps.ValueKind != JsonValueKind.Array || steps.GetArrayLength() != 2
            || steps[1].ValueKind != JsonValueKind.Object || TokenizerFileReader.String(steps[1], "type", path) != "ByteLevel")
        {
            throw new ModelFileException($"{path}: the pre-tokenizer {Describe(pre)} is not supported; byte-level BPE reads ByteLevel, or a Sequence of Split or Digits then ByteLevel.");
        }

        var first = steps[0];
        var byteLevel = steps[1];
        bool addPrefixSpace = TokenizerFileReader.Bool(byteLevel, "add_prefix_space", path) ?? false;
        bool byteLevelRegex = ByteLevelRegex(byteLevel, path);
        switch (first.ValueKind == JsonValueKind.Object ? TokenizerFileReader.String(first, "type", path) : null)
        {
            case "Digits":
                var digits = TokenizerFileReader.Bool(first, "individual_digits", path) ?? false ? DigitSplitting.Individual : DigitSplitting.Runs;
                return (byteLevelRegex ? ByteLevelPattern.Gpt2 : ByteLevelPattern.None, digits, addPrefixSpace);
            case "Split":
                if (byteLevelRegex)
                {
                    throw new ModelFileException($"{path}: a Split before a ByteLevel with use_regex is not supported; the Split's pattern must be the only one.");
                }

                return (SplitPattern(first, path), DigitSplitting.None, addPrefixSpace);
            default:
                throw new ModelFileException($"{path}: the pre-tokenizer step {Describe(first)} is not supported; byte-level BPE reads Split or Digits before ByteLevel.");
        }
    }

    private static bool ByteLevelRegex(JsonElement byteLevel, string path) => TokenizerFileReader.Bool(byteLevel, "use_regex", path) ?? true;

    private static ByteLevelPattern SplitPattern(JsonElement split, string path)
    {
        string? behavior = TokenizerFileReader.String(split, "behavior", path);
        if (behavior != "Isolated" || TokenizerFileReader.Bool(split, "invert", path) == true)
        {
            throw new ModelFileException($"{path}: a Split with behavior {behavior ?? "(none)"}{(TokenizerFileReader.Bool(split, "invert", path) == true ? " inverted" : string.Empty)} is not supported; only Isolated, not inverted.");
        }

        string? regex = split.TryGetProperty("pattern", out var pattern) && pattern.ValueKind == JsonValueKind.Object
            ? TokenizerFileReader.String(pattern, "Regex", path)
            : null;
        if (regex is null)
        {
            throw new ModelFileException($"{path}: a Split's pattern must be a Regex; got {(split.TryGetProperty("pattern", out var p) ? p.GetRawText() : "none")}.");
        }

        return ByteLevelPreTokenizer.FromRegex(regex)
            ?? throw new ModelFileException($"{path}: the Split pattern {ErrorText.Quote(regex)} is not one this runtime implements (GPT-2's, Llama 3's or Qwen2's).");
    }

    private static void ReadDecoder(JsonElement root, string path)
    {
        if (root.TryGetProperty("decoder", out var decoder) && decoder.ValueKind != JsonValueKind.Null
            && TokenizerFileReader.String(decoder, "type", path) != "ByteLevel")
        {
            throw new ModelFileException($"{path}: the decoder {Describe(decoder)} is not supported for byte-level BPE; expected ByteLevel.");
        }
    }

    private static void CheckBpeOptions(JsonElement model, string path)
    {
        if (TokenizerFileReader.Bool(model, "byte_fallback", path) == true)
        {
            throw new ModelFileException($"{path}: a BPE model with byte_fallback is SentencePiece-style, not byte-level; read its tokenizer.model instead.");
        }

        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() != 0)
        {
            throw new ModelFileException($"{path}: BPE dropout {dropout.GetRawText()} makes encoding random; only null or 0 is supported.");
        }

        foreach (string affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (TokenizerFileReader.String(model, affix, path) is { Length: > 0 } value)
            {
                throw new ModelFileException($"{path}: the BPE {affix} {ErrorText.Quote(value)} is not supported for byte-level BPE.");
            }
        }
    }

    private static string Describe(JsonElement element)
    {
        string text = element.GetRawText();
        return text.Length <= 80 ? text : text[..80] + "…";
    }

    /// <summary>The token of <paramref name="id"/> in GPT-2's byte-character spelling, or a special or added token's text.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is outside [0, <see cref="VocabularySize"/>).</exception>
    public string GetToken(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, VocabularySize);
        return _specialById.TryGetValue(id, out string? special) ? special
            : _addedById.TryGetValue(id, out byte[]? added) ? Encoding.UTF8.GetString(added)
            : id < _tokens.Length ? _tokens[id] : string.Empty;
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
    /// <remarks>
    /// Ranges are untrimmed (a token's leading space is part of it) and a token made of some bytes of a character covers
    /// the whole character, as Hugging Face reports them without <c>trim_offsets</c>; a prefix space added by
    /// <see cref="ByteLevelBpeSettings.AddPrefixSpace"/> covers nothing. With <see cref="ByteLevelBpeSettings.NormalizeNfc"/>,
    /// text that is not in NFC is normalised first and the ranges are positions in the normalised text (Hugging Face maps
    /// them back to the input; for text already in NFC, nearly all text, the two are the same).
    /// </remarks>
    public void Encode(ReadOnlySpan<char> text, List<int> ids, List<TokenOffset> offsets)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(offsets);
        EncodeCore(text, ids, offsets);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The tokens' bytes, as UTF-8 with each maximal invalid sequence replaced by U+FFFD (as Rust's <c>from_utf8_lossy</c>);
    /// special tokens print nothing, other added tokens their text.
    /// </remarks>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new PooledBuffer<byte>(ids.Length * 4 + 16);
        try
        {
            var state = default(TokenDecodeState);
            foreach (int id in ids)
            {
                if ((uint)id >= (uint)VocabularySize)
                {
                    throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary [0, {VocabularySize}).");
                }

                ((ITokenBytes)this).AppendBytes(id, ref state, ref bytes);
            }

            return Encoding.UTF8.GetString(bytes.Span);
        }
        finally
        {
            bytes.Dispose();
        }
    }

    void ITokenBytes.AppendBytes(int id, ref TokenDecodeState state, ref PooledBuffer<byte> bytes)
    {
        if (_addedById.TryGetValue(id, out byte[]? added))
        {
            bytes.AddRange(added);
            return;
        }

        if (_specialById.ContainsKey(id) || id >= _tokens.Length)
        {
            return;
        }

        foreach (char c in _tokens[id])
        {
            if (TryCharToByte(c, out byte b))
            {
                bytes.Add(b);
            }
        }
    }

    /// <inheritdoc />
    public int? SpecialTokenId(string content)
    {
        ArgumentNullException.ThrowIfNull(content);
        return _specialAndAddedIds.TryGetValue(content, out int id) ? id : null;
    }

    /// <inheritdoc />
    public bool IsSpecial(int id) => _specialById.ContainsKey(id);

    /// <inheritdoc />
    public void EncodeWithSpecialTokens(ReadOnlySpan<char> text, List<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        _addedTokenMatcher.Encode(text, ids, (part, list) => EncodeCore(part, list, null));
    }

    /// <inheritdoc />
    public StreamingDecoder CreateStreamingDecoder() => new(this);

    /// <inheritdoc />
    public ChatTemplate GetChatTemplate() => ChatTemplate.Recognize(Settings.ChatTemplate, _chatTemplateOrigin, Settings.BosToken, Settings.EosToken);

    private void EncodeCore(ReadOnlySpan<char> text, List<int> ids, List<TokenOffset>? offsets)
    {
        if (text.IsEmpty)
        {
            return;
        }

        char[]? normalized = null;
        if (Settings.NormalizeNfc && UnicodeNfc.TryNormalize(text, out normalized, out int normalizedLength))
        {
            // Offsets then count in the normalised text, which differs from the input only where it was not in NFC.
            text = normalized.AsSpan(0, normalizedLength);
        }

        int shift = 0;
        char[]? prefixed = null;
        if (Settings.AddPrefixSpace && text[0] != ' ')
        {
            prefixed = ArrayPool<char>.Shared.Rent(text.Length + 1);
            prefixed[0] = ' ';
            text.CopyTo(prefixed.AsSpan(1));
            text = prefixed.AsSpan(0, text.Length + 1);
            shift = 1;
        }

        var scratch = new WordScratch(64);
        try
        {
            ByteLevelPattern pattern = Settings.Pattern;
            DigitSplitting digits = Settings.Digits;
            for (int at = 0; at < text.Length;)
            {
                int pieceEnd = at + ByteLevelPreTokenizer.DigitPieceLength(text[at..], digits);
                while (at < pieceEnd)
                {
                    int length = ByteLevelPreTokenizer.NextLength(text[at..pieceEnd], pattern);
                    EncodeWord(text.Slice(at, length), at, shift, ref scratch, ids, offsets);
                    at += length;
                }
            }
        }
        finally
        {
            scratch.Dispose();
            if (prefixed is not null)
            {
                ArrayPool<char>.Shared.Return(prefixed);
            }

            if (normalized is not null)
            {
                ArrayPool<char>.Shared.Return(normalized);
            }
        }
    }

    /// <summary>BPE over one pre-token: merges the lowest-ranked adjacent pair (leftmost on a tie) until none is left.</summary>
    private void EncodeWord(ReadOnlySpan<char> word, int wordStart, int shift, ref WordScratch s, List<int> ids, List<TokenOffset>? offsets)
    {
        // The UTF8 encoding's replacement fallback turns each lone surrogate into U+FFFD.
        int count = Encoding.UTF8.GetByteCount(word);
        s.Ensure(count);
        Encoding.UTF8.GetBytes(word, s.Bytes);
        if (offsets is not null)
        {
            Utf16Positions.MapUtf8ToUtf16(word, s.CharAt.AsSpan(0, count + 1));
        }

        if (Settings.IgnoreMerges && TryWholeWord(ref s, count, out int wholeId))
        {
            ids.Add(wholeId);
            if (offsets is not null)
            {
                int start = Math.Max(wordStart - shift, 0);
                offsets.Add(new TokenOffset(start, Math.Max(wordStart + word.Length - shift - start, 0)));
            }

            return;
        }

        for (int i = 0; i < count; i++)
        {
            s.Ids[i] = _byteIds[s.Bytes[i]];
            s.Length[i] = 1;
            s.Next[i] = i + 1 < count ? i + 1 : -1;
            s.Previous[i] = i - 1;
        }

        var heap = new MergeHeap(s.Heap);
        for (int i = 0; i + 1 < count; i++)
        {
            if (_merges.TryGetValue(Key(s.Ids[i], s.Ids[i + 1]), out var merge))
            {
                heap.Push(merge.Rank, i);
            }
        }

        while (heap.TryPop(out int rank, out int at))
        {
            int next = s.Next[at];
            if (s.Length[at] == 0 || next < 0 || !_merges.TryGetValue(Key(s.Ids[at], s.Ids[next]), out var merge) || merge.Rank != rank)
            {
                continue;
            }

            s.Ids[at] = merge.Id;
            s.Length[at] += s.Length[next];
            s.Length[next] = 0;
            s.Next[at] = s.Next[next];
            if (s.Next[at] >= 0)
            {
                s.Previous[s.Next[at]] = at;
            }

            int previous = s.Previous[at];
            if (previous >= 0 && _merges.TryGetValue(Key(s.Ids[previous], s.Ids[at]), out var left))
            {
                heap.Push(left.Rank, previous);
            }

            if (s.Next[at] >= 0 && _merges.TryGetValue(Key(s.Ids[at], s.Ids[s.Next[at]]), out var right))
            {
                heap.Push(right.Rank, at);
            }
        }

        s.Heap = heap.Storage;
        for (int i = 0; i >= 0 && i < count; i = s.Next[i])
        {
            ids.Add(s.Ids[i]);
            if (offsets is not null)
            {
                int first = s.CharAt[i], last = s.CharAt[i + s.Length[i] - 1];
                int end = last + (char.IsHighSurrogate(word[last]) && last + 1 < word.Length && char.IsLowSurrogate(word[last + 1]) ? 2 : 1);
                int start = Math.Max(wordStart + first - shift, 0);
                offsets.Add(new TokenOffset(start, Math.Max(wordStart + end - shift - start, 0)));
            }
        }
    }

    /// <summary>With <c>ignore_merges</c>: the id of the whole pre-token when the vocabulary has it, looked up without allocating.</summary>
    private bool TryWholeWord(ref WordScratch s, int count, out int id)
    {
        Span<char> spelled = s.Chars.AsSpan(0, count);
        for (int i = 0; i < count; i++)
        {
            spelled[i] = ByteToChar[s.Bytes[i]];
        }

        return _tokenIds.TryGetValue(spelled, out id) && !_specialById.ContainsKey(id);
    }

    private static PairTemplate DefaultTemplate(IReadOnlyDictionary<string, int> specials) =>
        specials.TryGetValue("<s>", out int bos) && specials.TryGetValue("</s>", out int eos) ? PairTemplate.Roberta(bos, eos) : PairTemplate.None;

    private static PairTemplate? ReadTemplate(JsonElement root, string path)
    {
        if (!root.TryGetProperty("post_processor", out var post) || post.ValueKind == JsonValueKind.Null)
        {
            return PairTemplate.None;
        }

        string? type = TokenizerFileReader.String(post, "type", path);
        switch (type)
        {
            case "ByteLevel":
                return PairTemplate.None;
            case "RobertaProcessing":
                return PairTemplate.Roberta(TemplateTokenId(post, "cls", path), TemplateTokenId(post, "sep", path));
            case "TemplateProcessing":
                return TemplateProcessing(post, path);
            case "Sequence" when post.TryGetProperty("processors", out var processors) && processors.ValueKind == JsonValueKind.Array:
                // Llama 3.x: ByteLevel (offsets only) then TemplateProcessing (the BOS); at most one step frames the row.
                PairTemplate? template = null;
                foreach (var step in processors.EnumerateArray())
                {
                    string? stepType = step.ValueKind == JsonValueKind.Object ? TokenizerFileReader.String(step, "type", path) : null;
                    if (stepType == "ByteLevel")
                    {
                        continue;
                    }

                    if (stepType != "TemplateProcessing" || template is not null)
                    {
                        throw new ModelFileException($"{path}: post-processor step {Describe(step)} is not supported; a Sequence may hold ByteLevel steps and one TemplateProcessing.");
                    }

                    template = TemplateProcessing(step, path);
                }

                return template ?? PairTemplate.None;
            default:
                throw new ModelFileException($"{path}: post-processor {type ?? "(no type)"} is not supported; expected RobertaProcessing, TemplateProcessing, ByteLevel or a Sequence of them.");
        }
    }

    private int? TokenId(string? content, string field, string source)
    {
        if (content is null)
        {
            return null;
        }

        if (_specialAndAddedIds.TryGetValue(content, out int id) || _tokenIds.TryGetValue(content, out id))
        {
            return id;
        }

        throw new ModelFileException($"{source}: the {field} {ErrorText.Quote(content)} is not a token of the vocabulary.");
    }

    private static int TemplateTokenId(JsonElement post, string name, string path)
    {
        if (post.TryGetProperty(name, out var pair) && pair.ValueKind == JsonValueKind.Array && pair.GetArrayLength() == 2 && pair[1].TryGetInt32(out int id))
        {
            return id;
        }

        throw new ModelFileException($"{path}: RobertaProcessing needs \"{name}\": [token, id].");
    }

    /// <summary>Reads <c>TemplateProcessing</c>'s pair template <c>specials $A specials $B specials</c> into prefix, middle and suffix.</summary>
    private static PairTemplate TemplateProcessing(JsonElement post, string path)
    {
        var specialIds = new Dictionary<string, int[]>(StringComparer.Ordinal);
        if (post.TryGetProperty("special_tokens", out var specials) && specials.ValueKind == JsonValueKind.Object)
        {
            foreach (var entry in specials.EnumerateObject())
            {
                if (!entry.Value.TryGetProperty("ids", out var idArray) || idArray.ValueKind != JsonValueKind.Array)
                {
                    throw new ModelFileException($"{path}: TemplateProcessing special token '{entry.Name}' has no ids.");
                }

                specialIds[entry.Name] = [.. idArray.EnumerateArray().Select(e => e.GetInt32())];
            }
        }

        if (!post.TryGetProperty("pair", out var pair) || pair.ValueKind != JsonValueKind.Array)
        {
            throw new ModelFileException($"{path}: TemplateProcessing has no pair template.");
        }

        var parts = new List<int>[] { [], [], [] };
        int part = 0, secondType = 1;
        foreach (var piece in pair.EnumerateArray())
        {
            if (piece.TryGetProperty("Sequence", out var sequence))
            {
                if (TokenizerFileReader.String(sequence, "id", path) == "B")
                {
                    secondType = TokenizerFileReader.Int(sequence, "type_id", path) ?? 1;
                }

                part = Math.Min(part + 1, 2);
            }
            else if (piece.TryGetProperty("SpecialToken", out var special) && TokenizerFileReader.String(special, "id", path) is { } name && specialIds.TryGetValue(name, out int[]? ids))
            {
                parts[part].AddRange(ids);
            }
            else
            {
                throw new ModelFileException($"{path}: TemplateProcessing pair piece {piece.GetRawText()} is not a sequence or a known special token.");
            }
        }

        return new PairTemplate(parts[0].ToArray(), parts[1].ToArray(), parts[2].ToArray(), Math.Clamp(secondType, 0, 1));
    }

    private static List<(string, string)> ParseMerges(List<string> lines, string path)
    {
        var merges = new List<(string, string)>(lines.Count);
        foreach (string line in lines)
        {
            if (line.Length == 0 || (merges.Count == 0 && line.StartsWith("#version", StringComparison.Ordinal)))
            {
                continue;
            }

            merges.Add(SplitMerge(line, merges.Count, path));
        }

        return merges;
    }

    private static (string, string) SplitMerge(string merge, int rank, string path)
    {
        int space = merge.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0 || space == merge.Length - 1 || merge.IndexOf(' ', space + 1) >= 0)
        {
            throw new ModelFileException($"{path}: merge {rank} '{merge}' must be two tokens separated by one space.");
        }

        return (merge[..space], merge[(space + 1)..]);
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    private static bool TryCharToByte(char c, out byte value)
    {
        int index = c < CharToByte.Length ? CharToByte[c] : -1;
        value = (byte)index;
        return index >= 0;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[512];
        Array.Fill(map, (short)-1);
        for (int b = 0; b < 256; b++)
        {
            map[ByteToChar[b]] = (short)b;
        }

        return map;
    }

    /// <summary>GPT-2's <c>bytes_to_unicode</c>: printable bytes stand for themselves, the others for U+0100 onwards.</summary>
    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is (>= '!' and <= '~') or (>= 0xA1 and <= 0xAC) or (>= 0xAE and <= 0xFF);
            map[b] = printable ? (char)b : (char)next++;
        }

        return map;
    }

    private readonly record struct Merge(int Rank, int Id);

    /// <summary>Pooled per-call scratch for merging one pre-token's symbols.</summary>
    private struct WordScratch(int capacity) : IDisposable
    {
        public byte[] Bytes = ArrayPool<byte>.Shared.Rent(capacity);
        public int[] Ids = ArrayPool<int>.Shared.Rent(capacity);
        public int[] Length = ArrayPool<int>.Shared.Rent(capacity);
        public int[] Next = ArrayPool<int>.Shared.Rent(capacity);
        public int[] Previous = ArrayPool<int>.Shared.Rent(capacity);
        public int[] CharAt = ArrayPool<int>.Shared.Rent(capacity + 1);
        public long[] Heap = ArrayPool<long>.Shared.Rent(capacity * 2);
        public char[] Chars = ArrayPool<char>.Shared.Rent(capacity);

        public void Ensure(int count)
        {
            if (Bytes.Length >= count && CharAt.Length > count && Heap.Length >= count * 2 && Chars.Length >= count)
            {
                return;
            }

            Dispose();
            this = new WordScratch(Math.Max(count, 64));
        }

        public readonly void Dispose()
        {
            ArrayPool<byte>.Shared.Return(Bytes);
            ArrayPool<int>.Shared.Return(Ids);
            ArrayPool<int>.Shared.Return(Length);
            ArrayPool<int>.Shared.Return(Next);
            ArrayPool<int>.Shared.Return(Previous);
            ArrayPool<int>.Shared.Return(CharAt);
            ArrayPool<long>.Shared.Return(Heap);
            ArrayPool<char>.Shared.Return(Chars);
        }
    }
}
