using System.Buffers;
using System.Text;
using System.Text.Json;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tokenization;

/// <summary>
/// Byte-level BPE as GPT-2 and RoBERTa use it (Hugging Face's <c>ByteLevel</c> pre-tokenizer and <c>BPE</c> model): text is
/// cut by GPT-2's pattern (<c>Gpt2PreTokenizer</c>), each piece's UTF-8 bytes are written with GPT-2's byte-to-character
/// map (<c>Ġ</c> is the space) and merged pair by pair in merge-rank order. Rows follow the tokenizer's template: RoBERTa's
/// <c>&lt;s&gt; a &lt;/s&gt;&lt;/s&gt; b &lt;/s&gt;</c> (token types all 0) or GPT-2's plain concatenation. Immutable and safe
/// to use from many threads.
/// </summary>
/// <remarks>
/// Text that spells a special token (<c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>, <c>&lt;|endoftext|&gt;</c> …) is encoded as the
/// characters it is (docs/decisions/0003-special-token-text.md), and a vocabulary whose merges would spell a special token
/// is refused, so no text can become a special id. A lone UTF-16 surrogate reads as U+FFFD.
/// </remarks>
public sealed class ByteLevelBpeTokenizer : ITokenizer
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly short[] CharToByte = BuildCharToByte();

    private readonly string[] _tokens;
    private readonly int[] _byteIds = new int[256];
    private readonly Dictionary<long, Merge> _merges;
    private readonly Dictionary<int, string> _specialById;
    private readonly (string Left, string Right)[] _mergeList;

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
            return FromTokenizerJson(json);
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

        var settings = new ByteLevelBpeSettings { AddPrefixSpace = addPrefixSpace, SpecialTokens = specials };
        return new ByteLevelBpeTokenizer(tokens, merges, settings, vocabJsonPath);
    }

    /// <summary>
    /// Reads a <c>tokenizer.json</c> whose model is BPE over a <c>ByteLevel</c> pre-tokenizer: vocabulary, merges (as
    /// <c>"a b"</c> strings or <c>["a", "b"]</c> pairs), <c>added_tokens</c> as special tokens, <c>add_prefix_space</c>, and the
    /// template from the post-processor (<c>RobertaProcessing</c>, <c>TemplateProcessing</c>, or none).
    /// </summary>
    /// <exception cref="ModelFileException">Unreadable or malformed, not BPE, another pre-tokenizer or normaliser, or an unusable vocabulary.</exception>
    public static ByteLevelBpeTokenizer FromTokenizerJson(string tokenizerJsonPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenizerJsonPath);
        return FromTokenizerJson(TokenizerFileReader.Open(tokenizerJsonPath, "tokenizer.json"));
    }

    private static ByteLevelBpeTokenizer FromTokenizerJson(TokenizerFile file)
    {
        string path = file.Origin;
        using var document = TokenizerFileReader.ReadObject(file, "tokenizer.json");
        var root = document.RootElement;
        var model = TokenizerFileReader.Model(root, "BPE", path);
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null)
        {
            throw new ModelFileException($"{path}: a normalizer ({TokenizerFileReader.String(normalizer, "type", path)}) is not supported for byte-level BPE.");
        }

        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object
            || TokenizerFileReader.String(pre, "type", path) != "ByteLevel" || TokenizerFileReader.Bool(pre, "use_regex", path) == false)
        {
            throw new ModelFileException($"{path}: the pre-tokenizer must be ByteLevel with GPT-2's pattern for byte-level BPE.");
        }

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
        foreach (var (content, id, special) in TokenizerFileReader.AddedTokens(root, path))
        {
            if (special)
            {
                specials[content] = id;
            }
        }

        var settings = new ByteLevelBpeSettings
        {
            AddPrefixSpace = TokenizerFileReader.Bool(pre, "add_prefix_space", path) ?? false,
            SpecialTokens = specials,
            Template = ReadTemplate(root, path),
        };
        return new ByteLevelBpeTokenizer(tokens, merges, settings, path);
    }

    /// <summary>The token of <paramref name="id"/> in GPT-2's byte-character spelling, or a special token's text.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is outside [0, <see cref="VocabularySize"/>).</exception>
    public string GetToken(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, VocabularySize);
        return _specialById.TryGetValue(id, out string? special) ? special : id < _tokens.Length ? _tokens[id] : string.Empty;
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
    /// <see cref="ByteLevelBpeSettings.AddPrefixSpace"/> covers nothing.
    /// </remarks>
    public void Encode(ReadOnlySpan<char> text, List<int> ids, List<TokenOffset> offsets)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(offsets);
        EncodeCore(text, ids, offsets);
    }

    /// <inheritdoc />
    /// <remarks>The tokens' bytes, as UTF-8 with invalid sequences replaced by U+FFFD; special tokens print nothing.</remarks>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new PooledBuffer<byte>(ids.Length * 4 + 16);
        try
        {
            foreach (int id in ids)
            {
                if ((uint)id >= (uint)VocabularySize)
                {
                    throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary [0, {VocabularySize}).");
                }

                if (_specialById.ContainsKey(id) || id >= _tokens.Length)
                {
                    continue;
                }

                foreach (char c in _tokens[id])
                {
                    if (TryCharToByte(c, out byte b))
                    {
                        bytes.Add(b);
                    }
                }
            }

            return Encoding.UTF8.GetString(bytes.Span);
        }
        finally
        {
            bytes.Dispose();
        }
    }

    private void EncodeCore(ReadOnlySpan<char> text, List<int> ids, List<TokenOffset>? offsets)
    {
        if (text.IsEmpty)
        {
            return;
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
            for (int at = 0; at < text.Length;)
            {
                int length = Gpt2PreTokenizer.NextLength(text[at..]);
                EncodeWord(text.Slice(at, length), at, shift, ref scratch, ids, offsets);
                at += length;
            }
        }
        finally
        {
            scratch.Dispose();
            if (prefixed is not null)
            {
                ArrayPool<char>.Shared.Return(prefixed);
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
            default:
                throw new ModelFileException($"{path}: post-processor {type ?? "(no type)"} is not supported; expected RobertaProcessing, TemplateProcessing or ByteLevel.");
        }
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

        public void Ensure(int count)
        {
            if (Bytes.Length >= count && CharAt.Length > count && Heap.Length >= count * 2)
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
        }
    }

    /// <summary>A binary min-heap of (rank, position) packed into longs over a pooled array, growing by renting.</summary>
    private struct MergeHeap(long[] storage)
    {
        private int _count;

        public long[] Storage { get; private set; } = storage;

        public void Push(int rank, int position)
        {
            if (_count == Storage.Length)
            {
                long[] bigger = ArrayPool<long>.Shared.Rent(Storage.Length * 2);
                Storage.AsSpan(0, _count).CopyTo(bigger);
                ArrayPool<long>.Shared.Return(Storage);
                Storage = bigger;
            }

            long item = ((long)rank << 32) | (uint)position;
            int i = _count++;
            while (i > 0)
            {
                int parent = (i - 1) / 2;
                if (Storage[parent] <= item)
                {
                    break;
                }

                Storage[i] = Storage[parent];
                i = parent;
            }

            Storage[i] = item;
        }

        public bool TryPop(out int rank, out int position)
        {
            if (_count == 0)
            {
                rank = position = 0;
                return false;
            }

            long top = Storage[0];
            long last = Storage[--_count];
            int i = 0;
            while (true)
            {
                int child = (2 * i) + 1;
                if (child >= _count)
                {
                    break;
                }

                if (child + 1 < _count && Storage[child + 1] < Storage[child])
                {
                    child++;
                }

                if (Storage[child] >= last)
                {
                    break;
                }

                Storage[i] = Storage[child];
                i = child;
            }

            if (_count > 0)
            {
                Storage[i] = last;
            }

            rank = (int)(top >> 32);
            position = (int)(uint)top;
            return true;
        }
    }
}
