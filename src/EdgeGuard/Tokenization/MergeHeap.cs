using System.Buffers;

namespace EdgeGuard.Tokenization;

/// <summary>
/// A binary min-heap of (rank, position) packed into longs over a pooled array, growing by renting: the agenda of a BPE
/// merge loop, lowest rank first and the leftmost position on a tie. The caller returns <see cref="Storage"/> to the pool.
/// </summary>
internal struct MergeHeap(long[] storage)
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
