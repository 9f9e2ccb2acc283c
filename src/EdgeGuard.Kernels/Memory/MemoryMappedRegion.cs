using System.Buffers;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace EdgeGuard.Kernels.Memory;

/// <summary>
/// A read-only memory map of a whole file, handed out as <see cref="ReadOnlyMemory{T}"/> slices so that
/// model code above this layer reads mapped weights with safe spans and never sees a pointer.
/// </summary>
public sealed unsafe partial class MemoryMappedRegion : IDisposable
{
    private readonly MemoryMappedFile? _file;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _base;
    private int _disposed;

    private MemoryMappedRegion(MemoryMappedFile? file, MemoryMappedViewAccessor? view, byte* basePointer, long length)
    {
        _file = file;
        _view = view;
        _base = basePointer;
        Length = length;
    }

    /// <summary>Length of the mapped file in bytes.</summary>
    public long Length { get; }

    /// <summary>Maps <paramref name="path"/> read-only. An empty file maps to an empty region.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static MemoryMappedRegion Open(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
        long length = stream.Length;
        if (length == 0)
        {
            return new MemoryMappedRegion(null, null, null, 0);
        }

        var file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = file.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            pointer += view.PointerOffset;
            return new MemoryMappedRegion(file, view, pointer, length);
        }
        catch
        {
            view?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>The bytes in <c>[offset, offset + length)</c>.</summary>
    public ReadOnlySpan<byte> GetSpan(long offset, int length)
    {
        CheckRange(offset, (long)length);
        return new ReadOnlySpan<byte>(_base + offset, length);
    }

    /// <summary>
    /// <paramref name="count"/> elements of <typeparamref name="T"/> starting at byte <paramref name="offset"/>.
    /// The offset must be aligned to the element size; the memory stays valid until this region is disposed.
    /// </summary>
    public ReadOnlyMemory<T> GetMemory<T>(long offset, int count) where T : unmanaged
    {
        long bytes = (long)count * sizeof(T);
        CheckRange(offset, bytes);
        if (offset % sizeof(T) != 0)
        {
            throw new ArgumentException($"Offset {offset} is not aligned to {sizeof(T)} bytes.", nameof(offset));
        }

        return new Manager<T>(this, (T*)(_base + offset), count).Memory;
    }

    /// <summary>
    /// Drops the whole pages inside <c>[offset, offset + length)</c> from this process's resident memory (Linux:
    /// <c>madvise(MADV_DONTNEED)</c>; elsewhere nothing happens). The bytes stay readable: the next access brings them
    /// back from the page cache. For reads that pass over a file once, such as hashing it, so that the pass does not
    /// leave the whole file counted in the process's resident set.
    /// </summary>
    public void Evict(long offset, long length)
    {
        CheckRange(offset, length);
        if (!OperatingSystem.IsLinux() || length == 0)
        {
            return;
        }

        long page = Environment.SystemPageSize;
        long start = (offset + page - 1) / page * page;
        long end = (offset + length) / page * page;
        if (end > start)
        {
            // Advice only: a failure leaves the pages resident, which is what not calling would have done.
            _ = Madvise(_base + start, (nuint)(end - start), DontNeed);
        }
    }

    private const int DontNeed = 4;

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);

    private void CheckRange(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (offset < 0 || length < 0 || offset > Length || length > Length - offset)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"Range [{offset}, {offset}+{length}) lies outside the {Length}-byte file.");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }

        _file?.Dispose();
        _base = null;
    }

    private sealed class Manager<T>(MemoryMappedRegion owner, T* pointer, int count) : MemoryManager<T> where T : unmanaged
    {
        public override Span<T> GetSpan()
        {
            ObjectDisposedException.ThrowIf(owner._disposed != 0, owner);
            return new Span<T>(pointer, count);
        }

        public override MemoryHandle Pin(int elementIndex = 0) => new(pointer + elementIndex);

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
