using System.Buffers;

namespace EdgeGuard.Tokenization;

/// <summary>
/// The BPE segmentation of SentencePiece (<c>bpe::Model::SampleEncode</c> without sampling): the normalised text is cut into
/// characters (a user-defined piece is one symbol that never merges), then the adjacent pair whose concatenation is a
/// piece with the highest score is merged, the leftmost on a tie, until no pair is a piece. Merges that make an unused
/// piece are undone at the end into the pieces that made them. A symbol that is no piece is the unknown id, or its UTF-8
/// byte pieces when byte fallback is on. Immutable; per-call scratch is rented.
/// </summary>
internal sealed class SentencePieceBpeModel
{
    private readonly PieceTrie _pieces;
    private readonly PieceTrie? _userDefined;
    private readonly int[] _ranks;
    private readonly SentencePieceType[] _types;
    private readonly int _unknownId;
    private readonly int[]? _byteIds;

    public SentencePieceBpeModel(SentencePieceModel model, PieceTrie? userDefined)
    {
        var pieces = model.Pieces;
        _ranks = new int[pieces.Count];
        _types = new SentencePieceType[pieces.Count];
        var entries = new List<(byte[], int)>(pieces.Count);
        int[]? byteIds = model.Trainer.ByteFallback ? new int[256] : null;
        for (int id = 0; id < pieces.Count; id++)
        {
            var piece = pieces[id];
            _ranks[id] = RankOf(piece.Score);
            _types[id] = piece.Type;
            switch (piece.Type)
            {
                case SentencePieceType.Normal or SentencePieceType.UserDefined or SentencePieceType.Unused:
                    entries.Add((piece.Utf8, id));
                    break;
                case SentencePieceType.Unknown:
                    _unknownId = id;
                    break;
                case SentencePieceType.Byte when byteIds is not null && ByteFallbackPieces.TryParse(piece.Utf8, out byte value):
                    byteIds[value] = id;
                    break;
            }
        }

        _pieces = PieceTrie.Build(entries);
        _userDefined = userDefined;
        _byteIds = byteIds;
    }

    /// <summary>
    /// Appends the ids of <paramref name="normalized"/> to <paramref name="ids"/> and, when <paramref name="trackSpans"/>,
    /// each id's (begin, end) in <paramref name="normalized"/> to <paramref name="spans"/>; of the byte pieces of an unknown
    /// symbol all start where it starts and only the last ends where it ends, as SentencePiece reports them.
    /// </summary>
    public void Encode(ReadOnlySpan<byte> normalized, ref PooledBuffer<int> ids, ref PooledBuffer<int> spans, bool trackSpans)
    {
        int size = normalized.Length;
        if (size == 0)
        {
            return;
        }

        var s = new Symbols(size);
        Dictionary<int, (int Left, int Right)>? unusedMerges = null;
        var heap = new MergeHeap(s.Heap);
        try
        {
            int count = 0;
            for (int at = 0; at < size; count++)
            {
                int length = _userDefined?.LongestPrefixLength(normalized[at..]) ?? 0;
                s.Frozen[count] = length > 0;
                if (length == 0)
                {
                    length = Math.Min(SentencePieceUtf8.OneCharLength(normalized[at]), size - at);
                }

                s.Start[count] = at;
                s.Length[count] = length;
                s.Id[count] = Lookup(normalized.Slice(at, length));
                s.Previous[count] = count - 1;
                s.Next[count] = at + length < size ? count + 1 : -1;
                at += length;
            }

            for (int i = 1; i < count; i++)
            {
                MaybePush(normalized, ref s, ref heap, ref unusedMerges, i - 1, i);
            }

            while (heap.TryPop(out int rank, out int left))
            {
                int right = s.Next[left];
                if (s.Length[left] == 0 || right < 0)
                {
                    continue;
                }

                // A stale entry is skipped unless the pair now there makes a piece of the same score, whose own entry has
                // the same priority, so taking either one merges the same pair at the same point.
                int merged = s.Frozen[left] || s.Frozen[right] ? -1 : Lookup(normalized.Slice(s.Start[left], s.Length[left] + s.Length[right]));
                if (merged < 0 || _ranks[merged] != rank)
                {
                    continue;
                }

                s.Id[left] = merged;
                s.Length[left] += s.Length[right];
                s.Length[right] = 0;
                s.Next[left] = s.Next[right];
                if (s.Next[left] >= 0)
                {
                    s.Previous[s.Next[left]] = left;
                }

                if (s.Previous[left] >= 0)
                {
                    MaybePush(normalized, ref s, ref heap, ref unusedMerges, s.Previous[left], left);
                }

                if (s.Next[left] >= 0)
                {
                    MaybePush(normalized, ref s, ref heap, ref unusedMerges, left, s.Next[left]);
                }
            }

            for (int i = 0; i >= 0; i = s.Next[i])
            {
                Emit(normalized, s.Id[i], s.Start[i], s.Start[i] + s.Length[i], unusedMerges, ref ids, ref spans, trackSpans);
            }
        }
        finally
        {
            s.Heap = heap.Storage;
            s.Dispose();
        }
    }

    /// <summary>A piece's priority as a heap rank: higher scores give lower ranks (the float's bits, made sortable, reversed).</summary>
    private static int RankOf(float score)
    {
        int bits = BitConverter.SingleToInt32Bits(score);
        int sortable = bits ^ ((bits >> 31) & 0x7FFFFFFF);
        return ~sortable;
    }

    private void MaybePush(ReadOnlySpan<byte> normalized, ref Symbols s, ref MergeHeap heap, ref Dictionary<int, (int, int)>? unusedMerges, int left, int right)
    {
        if (s.Frozen[left] || s.Frozen[right])
        {
            return;
        }

        int merged = Lookup(normalized.Slice(s.Start[left], s.Length[left] + s.Length[right]));
        if (merged < 0)
        {
            return;
        }

        heap.Push(_ranks[merged], left);
        if (_types[merged] == SentencePieceType.Unused)
        {
            // As SentencePiece, the last pair seen making an unused piece is what it is split back into.
            (unusedMerges ??= [])[merged] = (s.Id[left], s.Id[right]);
        }
    }

    private void Emit(ReadOnlySpan<byte> normalized, int id, int begin, int end, Dictionary<int, (int Left, int Right)>? unusedMerges, ref PooledBuffer<int> ids, ref PooledBuffer<int> spans, bool trackSpans)
    {
        if (id >= 0 && _types[id] == SentencePieceType.Unused && unusedMerges is not null && unusedMerges.TryGetValue(id, out var parts))
        {
            Emit(normalized, parts.Left, begin, begin, unusedMerges, ref ids, ref spans, trackSpans);
            if (trackSpans)
            {
                // Both halves are reported over the whole unused piece's bytes: its split point is not kept.
                spans.Span[^1] = end;
            }

            Emit(normalized, parts.Right, begin, end, unusedMerges, ref ids, ref spans, trackSpans);
            return;
        }

        if (id >= 0)
        {
            Add(ref ids, ref spans, trackSpans, id, begin, end);
            return;
        }

        if (_byteIds is null || end <= begin)
        {
            Add(ref ids, ref spans, trackSpans, _unknownId, begin, end);
            return;
        }

        foreach (byte b in normalized[begin..end])
        {
            Add(ref ids, ref spans, trackSpans, _byteIds[b], begin, begin);
        }

        if (trackSpans)
        {
            spans.Span[^1] = end;
        }
    }

    private static void Add(ref PooledBuffer<int> ids, ref PooledBuffer<int> spans, bool trackSpans, int id, int begin, int end)
    {
        ids.Add(id);
        if (trackSpans)
        {
            spans.Add(begin);
            spans.Add(end);
        }
    }

    /// <summary>The id of the piece spelled exactly <paramref name="bytes"/>, or -1.</summary>
    private int Lookup(ReadOnlySpan<byte> bytes)
    {
        int node = PieceTrie.Root;
        foreach (byte b in bytes)
        {
            node = _pieces.Step(node, b);
            if (node == PieceTrie.NoNode)
            {
                return -1;
            }
        }

        int id = _pieces.ValueOf(node);
        return id == PieceTrie.NoNode ? -1 : id;
    }

    /// <summary>Pooled per-call scratch: the symbols as a doubly linked list over the normalised bytes.</summary>
    private struct Symbols(int capacity) : IDisposable
    {
        public int[] Start = ArrayPool<int>.Shared.Rent(capacity);
        public int[] Length = ArrayPool<int>.Shared.Rent(capacity);
        public int[] Id = ArrayPool<int>.Shared.Rent(capacity);
        public int[] Next = ArrayPool<int>.Shared.Rent(capacity);
        public int[] Previous = ArrayPool<int>.Shared.Rent(capacity);
        public bool[] Frozen = ArrayPool<bool>.Shared.Rent(capacity);
        public long[] Heap = ArrayPool<long>.Shared.Rent(capacity * 2);

        public readonly void Dispose()
        {
            ArrayPool<int>.Shared.Return(Start);
            ArrayPool<int>.Shared.Return(Length);
            ArrayPool<int>.Shared.Return(Id);
            ArrayPool<int>.Shared.Return(Next);
            ArrayPool<int>.Shared.Return(Previous);
            ArrayPool<bool>.Shared.Return(Frozen);
            ArrayPool<long>.Shared.Return(Heap);
        }
    }
}
