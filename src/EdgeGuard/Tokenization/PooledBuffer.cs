using System.Buffers;

namespace EdgeGuard.Tokenization;

/// <summary>
/// A growable buffer over an array rented from <see cref="ArrayPool{T}.Shared"/>: the scratch space of one
/// encode call. A mutable struct: pass it by <c>ref</c>, and <see cref="Dispose"/> it exactly once (disposing the
/// <c>default</c> value, which holds nothing, is allowed).
/// </summary>
internal struct PooledBuffer<T> : IDisposable
    where T : unmanaged
{
    private T[] _array;
    private int _count;

    public PooledBuffer(int initialCapacity)
    {
        _array = ArrayPool<T>.Shared.Rent(Math.Max(initialCapacity, 16));
        _count = 0;
    }

    public readonly int Count => _count;

    public readonly Span<T> Span => _array.AsSpan(0, _count);

    public void Add(T item)
    {
        if (_count == _array.Length)
        {
            Grow(1);
        }

        _array[_count++] = item;
    }

    public void AddRange(ReadOnlySpan<T> items)
    {
        if (_array.Length - _count < items.Length)
        {
            Grow(items.Length);
        }

        items.CopyTo(_array.AsSpan(_count));
        _count += items.Length;
    }

    /// <summary>Drops the last <paramref name="n"/> items.</summary>
    public void Shrink(int n) => _count -= n;

    public void Dispose()
    {
        T[] array = _array;
        _array = [];
        _count = 0;
        if (array is { Length: > 0 })
        {
            ArrayPool<T>.Shared.Return(array);
        }
    }

    private void Grow(int needed)
    {
        long wanted = Math.Max((long)_array.Length * 2, (long)_count + needed);
        int capacity = (int)Math.Min(wanted, Array.MaxLength);
        T[] bigger = ArrayPool<T>.Shared.Rent(capacity);
        _array.AsSpan(0, _count).CopyTo(bigger);
        ArrayPool<T>.Shared.Return(_array);
        _array = bigger;
    }
}
