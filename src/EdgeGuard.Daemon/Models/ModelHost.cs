using EdgeGuard.ModelFiles;

namespace EdgeGuard.Daemon.Models;

/// <summary>What a load or reload did.</summary>
internal sealed record ReloadOutcome(bool Succeeded, string Model, string Message);

/// <summary>
/// Owns the model being served. A load opens the new model aside, checks it classifies, then swaps it in atomically;
/// the old model keeps serving the batches that hold it and is disposed after the last one. A model that fails to load
/// or to classify leaves the current one serving.
/// </summary>
internal sealed class ModelHost : IDisposable
{
    // A short probe through the whole graph: a model that opens but cannot classify is not swapped in.
    private const string ProbeText = "EdgeGuard readiness probe: is this text safe?";

    private readonly GuardOptions _options;
    private readonly string _configuredPath;
    private readonly ILogger<ModelHost> _logger;
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private LoadedModel? _current;
    private bool _disposed;
    private int _reloadsSucceeded;
    private int _reloadsFailed;

    public ModelHost(string? configuredPath, GuardOptions options, ILogger<ModelHost> logger)
    {
        _configuredPath = configuredPath ?? string.Empty;
        _options = options;
        _logger = logger;
    }

    /// <summary>The model being served, or null before the first successful load.</summary>
    public LoadedModel? Current => Volatile.Read(ref _current);

    /// <summary>Why the daemon is not ready, when it is not.</summary>
    public string? NotReadyReason { get; private set; } = "the model has not been loaded yet";

    /// <summary>Loads that swapped a model in, the first one included.</summary>
    public int ReloadsSucceeded => Volatile.Read(ref _reloadsSucceeded);

    /// <summary>Loads that left the previous state serving.</summary>
    public int ReloadsFailed => Volatile.Read(ref _reloadsFailed);

    /// <summary>Takes a reference on the current model for one batch; null when none is loaded.</summary>
    public LoadedModel? Acquire()
    {
        // A reload may retire the model between the read and the acquire; read again then.
        while (true)
        {
            var model = Volatile.Read(ref _current);
            if (model is null || model.TryAcquire())
            {
                return model;
            }
        }
    }

    /// <summary>Loads the configured model (again), re-resolving the default path so a model dropped in later is found.</summary>
    public async Task<ReloadOutcome> LoadAsync(string reason, CancellationToken cancellationToken = default)
    {
        await _reloadGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            string path = DefaultModel.Find(_configuredPath.Length == 0 ? null : _configuredPath) ?? DefaultModel.ExpectedPath;
            Guard guard;
            try
            {
                // Opening maps and validates the file; off the caller's thread because it can take seconds.
                guard = await Task.Run(() => Open(path), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ModelFileException or IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
            {
                return Failed(path, reason, e.Message);
            }

            var loaded = new LoadedModel(guard, path, DateTimeOffset.UtcNow);
            var previous = Interlocked.Exchange(ref _current, loaded);
            NotReadyReason = null;
            Interlocked.Increment(ref _reloadsSucceeded);
            previous?.Release();
            var info = guard.Model;
            _logger.LogInformation(
                "Model {Name} loaded from {Path} ({Reason}): {Format}, {Precision}, {Layers} layers, threshold {Threshold}, {Threads} threads",
                loaded.Name, path, reason, info.Format, info.Precision, info.Layers, guard.Threshold, guard.Threads);
            return new ReloadOutcome(true, loaded.Name, $"loaded {path}");
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    private Guard Open(string path)
    {
        var guard = Guard.Open(path, _options);
        try
        {
            var verdict = guard.Classify(ProbeText);
            if (!float.IsFinite(verdict.UnsafeScore) || verdict.UnsafeScore < 0f || verdict.UnsafeScore > 1f)
            {
                throw new ModelFileException($"{path}: the model opened but its probe verdict is not a probability ({verdict.UnsafeScore}).");
            }

            return guard;
        }
        catch
        {
            guard.Dispose();
            throw;
        }
    }

    private ReloadOutcome Failed(string path, string reason, string message)
    {
        Interlocked.Increment(ref _reloadsFailed);
        if (_configuredPath.Length == 0)
        {
            message += $" Pass --model <bundle.gguf or Hugging Face directory>, or set {DefaultModel.EnvironmentVariable}.";
        }

        var current = Current;
        if (current is null)
        {
            NotReadyReason = "no model is loaded: " + message;
            _logger.LogError("Model load from {Path} failed ({Reason}). {Error} Not ready until a reload succeeds (SIGHUP or POST /admin/reload).", path, reason, message);
        }
        else
        {
            _logger.LogError("Model reload from {Path} failed ({Reason}). {Error} Still serving {Name} from {Current}.", path, reason, message, current.Name, current.Path);
        }

        return new ReloadOutcome(false, current?.Name ?? string.Empty, message);
    }

    public void Dispose()
    {
        _reloadGate.Wait();
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Interlocked.Exchange(ref _current, null)?.Release();
        }
        finally
        {
            _reloadGate.Release();
        }
    }
}
