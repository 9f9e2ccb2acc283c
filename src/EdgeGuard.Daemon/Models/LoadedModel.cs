namespace EdgeGuard.Daemon.Models;

/// <summary>
/// One opened guard with a reference count. The host holds one reference while the model is current; every batch
/// holds one while it runs. The guard is disposed when the last reference goes, so a reload never pulls a model out
/// from under a batch that already picked it.
/// </summary>
internal sealed class LoadedModel
{
    private int _references = 1;

    public LoadedModel(Guard guard, string path, DateTimeOffset loadedAt)
    {
        Guard = guard;
        Path = path;
        LoadedAt = loadedAt;
    }

    public Guard Guard { get; }

    public string Path { get; }

    public DateTimeOffset LoadedAt { get; }

    /// <summary>The model's own name, else the file or directory name.</summary>
    public string Name => Guard.Model.Name ?? System.IO.Path.GetFileNameWithoutExtension(Path.TrimEnd('/'));

    /// <summary>Takes a reference unless the model is already retired and released.</summary>
    public bool TryAcquire()
    {
        int current = Volatile.Read(ref _references);
        while (current > 0)
        {
            int seen = Interlocked.CompareExchange(ref _references, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    public void Release()
    {
        int left = Interlocked.Decrement(ref _references);
        System.Diagnostics.Debug.Assert(left >= 0, "released more often than acquired");
        if (left == 0)
        {
            Guard.Dispose();
        }
    }
}
