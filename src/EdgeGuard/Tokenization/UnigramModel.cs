using System.Buffers;
using System.Diagnostics;

namespace EdgeGuard.Tokenization;

/// <summary>
/// The Unigram segmentation of SentencePiece (<c>unigram::Model::EncodeOptimized</c>): a left-to-right
/// Viterbi search that keeps, for every byte position, only the best path ending there. It reproduces
/// SentencePiece bit for bit, including its arithmetic: a piece candidate is the double sum of two floats
/// compared in double against the stored float path score, an unknown candidate is summed in float, and a
/// candidate replaces the stored one only when strictly better, so the first candidate found wins ties.
/// Candidates are found by start position, then by increasing length, exactly as SentencePiece visits them.
/// </summary>
internal sealed class UnigramModel
{
    private const float UnknownPenalty = 10f;

    private readonly PieceTrie _trie;
    private readonly float[] _scores;
    private readonly SentencePieceType[] _types;
    private readonly float _unknownScore;
    private readonly float _maxScore;
    private readonly int _unknownId;
    private readonly int[]? _byteIds;

    public UnigramModel(SentencePieceModel model)
    {
        var pieces = model.Pieces;
        _scores = new float[pieces.Count];
        _types = new SentencePieceType[pieces.Count];

        // SentencePiece starts from FLT_MAX and FLT_MIN (the smallest positive float, not the most negative),
        // so a vocabulary of negative scores still has a max score just above zero.
        float minScore = float.MaxValue;
        float maxScore = 1.17549435E-38f;
        var trieEntries = new List<(byte[], int)>(pieces.Count);
        int[]? byteIds = model.Trainer.ByteFallback ? new int[256] : null;
        for (int id = 0; id < pieces.Count; id++)
        {
            var piece = pieces[id];
            _scores[id] = piece.Score;
            _types[id] = piece.Type;
            switch (piece.Type)
            {
                case SentencePieceType.Normal:
                    minScore = Math.Min(minScore, piece.Score);
                    maxScore = Math.Max(maxScore, piece.Score);
                    trieEntries.Add((piece.Utf8, id));
                    break;
                case SentencePieceType.UserDefined:
                case SentencePieceType.Unused:
                    trieEntries.Add((piece.Utf8, id));
                    break;
                case SentencePieceType.Unknown:
                    _unknownId = id;
                    break;
                case SentencePieceType.Byte when byteIds is not null && ByteFallbackPieces.TryParse(piece.Utf8, out byte value):
                    byteIds[value] = id;
                    break;
            }
        }

        _trie = PieceTrie.Build(trieEntries);
        _unknownScore = minScore - UnknownPenalty;
        _maxScore = maxScore;
        _byteIds = byteIds;
    }

    /// <summary>Appends the ids of the best segmentation of <paramref name="normalized"/> to <paramref name="ids"/>.</summary>
    /// <remarks>
    /// An unknown span becomes its UTF-8 byte pieces when byte fallback is on; otherwise a run of unknown
    /// characters becomes one unknown id, as SentencePiece merges them.
    /// </remarks>
    public void Encode(ReadOnlySpan<byte> normalized, ref PooledBuffer<int> ids)
    {
        var noSpans = default(PooledBuffer<int>);
        EncodeCore(normalized, ref ids, ref noSpans, trackSpans: false);
    }

    /// <summary>
    /// As <see cref="Encode(ReadOnlySpan{byte}, ref PooledBuffer{int})"/>, also appending each id's span of
    /// <paramref name="normalized"/> to <paramref name="spans"/> as a (begin, end) pair. As in SentencePiece, the byte
    /// pieces of an unknown character all start where it starts and only the last one ends where it ends.
    /// </summary>
    public void Encode(ReadOnlySpan<byte> normalized, ref PooledBuffer<int> ids, ref PooledBuffer<int> spans) =>
        EncodeCore(normalized, ref ids, ref spans, trackSpans: true);

    private void EncodeCore(ReadOnlySpan<byte> normalized, ref PooledBuffer<int> ids, ref PooledBuffer<int> spans, bool trackSpans)
    {
        int size = normalized.Length;
        if (size == 0)
        {
            return;
        }

        BestPath[] bestPathEndingAt = ArrayPool<BestPath>.Shared.Rent(size + 1);
        var path = new PooledBuffer<int>(size / 3 + 1);
        try
        {
            FindBestPath(normalized, bestPathEndingAt.AsSpan(0, size + 1));

            for (int end = size; end > 0; end = bestPathEndingAt[end].StartsAt)
            {
                Debug.Assert(bestPathEndingAt[end].StartsAt >= 0, "every character boundary is reachable");
                path.Add(end);
            }

            bool previousWasUnknown = false;
            var ends = path.Span;
            for (int i = ends.Length - 1; i >= 0; i--)
            {
                ref readonly BestPath node = ref bestPathEndingAt[ends[i]];
                int begin = node.StartsAt, end = ends[i];
                if (node.Id != _unknownId)
                {
                    ids.Add(node.Id);
                    AddSpan(ref spans, trackSpans, begin, end);
                    previousWasUnknown = false;
                    continue;
                }

                if (_byteIds is not null)
                {
                    foreach (byte b in normalized[begin..end])
                    {
                        ids.Add(_byteIds[b]);
                        AddSpan(ref spans, trackSpans, begin, begin);
                    }

                    if (trackSpans)
                    {
                        spans.Span[^1] = end;
                    }
                }
                else if (!previousWasUnknown)
                {
                    ids.Add(_unknownId);
                    AddSpan(ref spans, trackSpans, begin, end);
                }
                else if (trackSpans)
                {
                    spans.Span[^1] = end;
                }

                previousWasUnknown = true;
            }
        }
        finally
        {
            path.Dispose();
            ArrayPool<BestPath>.Shared.Return(bestPathEndingAt);
        }
    }

    private static void AddSpan(ref PooledBuffer<int> spans, bool trackSpans, int begin, int end)
    {
        if (trackSpans)
        {
            spans.Add(begin);
            spans.Add(end);
        }
    }

    private void FindBestPath(ReadOnlySpan<byte> normalized, Span<BestPath> bestPathEndingAt)
    {
        bestPathEndingAt.Fill(new BestPath { Score = 0f, StartsAt = -1, Id = -1 });
        int size = normalized.Length;
        var trie = _trie;
        int startsAt = 0;
        while (startsAt < size)
        {
            float bestScoreTillHere = bestPathEndingAt[startsAt].Score;
            int charLength = Math.Min(SentencePieceUtf8.OneCharLength(normalized[startsAt]), size - startsAt);
            bool hasSingleCharPiece = false;

            int node = PieceTrie.Root;
            for (int keyPos = startsAt; keyPos < size;)
            {
                node = trie.Step(node, normalized[keyPos]);
                if (node == PieceTrie.NoNode)
                {
                    break;
                }

                keyPos++;
                int id = trie.ValueOf(node);
                if (id == PieceTrie.NoNode || _types[id] == SentencePieceType.Unused)
                {
                    continue;
                }

                int length = keyPos - startsAt;

                // User-defined pieces get a bonus so they always win; the 0.1 literal makes this a double in C++.
                double score = _types[id] == SentencePieceType.UserDefined
                    ? (double)(length * _maxScore) - 0.1
                    : _scores[id];
                double candidate = score + bestScoreTillHere;
                ref BestPath target = ref bestPathEndingAt[keyPos];
                if (target.StartsAt == -1 || candidate > target.Score)
                {
                    target.Score = (float)candidate;
                    target.StartsAt = startsAt;
                    target.Id = id;
                }

                hasSingleCharPiece |= length == charLength;
            }

            if (!hasSingleCharPiece)
            {
                float candidate = _unknownScore + bestScoreTillHere;
                ref BestPath target = ref bestPathEndingAt[startsAt + charLength];
                if (target.StartsAt == -1 || candidate > target.Score)
                {
                    target.Score = candidate;
                    target.StartsAt = startsAt;
                    target.Id = _unknownId;
                }
            }

            startsAt += charLength;
        }
    }

    private struct BestPath
    {
        public float Score;
        public int StartsAt;
        public int Id;
    }
}
