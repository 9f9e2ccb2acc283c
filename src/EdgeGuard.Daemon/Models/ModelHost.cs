using EdgeGuard.Daemon.Hosting;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Daemon.Models;

/// <summary>Opens a model file: <see cref="Guard.Open(string, GuardOptions?)"/> in the daemon; tests substitute models that misbehave.</summary>
internal delegate Guard ModelOpener(string path, GuardOptions options);

/// <summary>What a load or reload did.</summary>
internal sealed record ReloadOutcome(bool Succeeded, string Model, string Message);

/// <summary>
/// Owns the model being served. A load opens the new model aside, checks it classifies, then swaps it in atomically;
/// the old model keeps serving the batches that hold it and is disposed after the last one. A model that fails to load
/// or to classify, in any way, leaves the current one serving.
/// </summary>
internal sealed class ModelHost : IDisposable
{
    // A short probe through the whole graph: a model that opens but cannot classify is not swapped in.
    private const string ProbeText = "EdgeGuard readiness probe: is this text safe?";

    private readonly GuardOptions _options;
    private readonly string _configuredPath;
    private readonly ILogger<ModelHost> _logger;
    private readonly ModelOpener _open;
    private readonly SemaphoreSlim _reloadGate = new(1, 1);

    // Cancelled by Dispose: a load still under way then is abandoned instead of waited for.
    private readonly CancellationTokenSource _disposing = new();
    private LoadedModel? _current;
    private int _disposed;
    private int _reloadsSucceeded;
    private int _reloadsFailed;

    public ModelHost(string? configuredPath, GuardOptions options, ILogger<ModelHost> logger, ModelOpener? open = null)
    {
        _configuredPath = configuredPath ?? string.Empty;
        _options = options;
        _logger = logger;
        _open = open ?? Guard.Open;
    }

    /// <summary>The model being served, or null before the first successful load.</summary>
    public LoadedModel? Current => Volatile.Read(ref _current);

    /// <summary>Why the daemon is not ready, when it is not; at most a few hundred characters, control characters escaped.</summary>
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
    /// <param name="reason">What asked for the load, for the log.</param>
    /// <param name="cancellationToken">
    /// The daemon's shutdown: waiting for an earlier load, or for this one, ends with <see cref="OperationCanceledException"/>.
    /// An open that is blocked in the system cannot be interrupted; it is abandoned, and whatever it opens later is closed.
    /// </param>
    /// <returns>Whether the model was swapped in; a failed load never throws, whatever the model file did.</returns>
    public async Task<ReloadOutcome> LoadAsync(string reason, CancellationToken cancellationToken = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        await _reloadGate.WaitAsync(stop.Token).ConfigureAwait(false);
        try
        {
            return await LoadGatedAsync(reason, stop.Token).ConfigureAwait(false);
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    private async Task<ReloadOutcome> LoadGatedAsync(string reason, CancellationToken cancellationToken)
    {
        string path = DefaultModel.Find(_configuredPath.Length == 0 ? null : _configuredPath) ?? DefaultModel.ExpectedPath;
        if (RefuseToOpen(path) is { } refusal)
        {
            return Failed(path, reason, PrintableText.Escape(refusal, PrintableText.MaxErrorChars));
        }

        // Opening maps and validates the file, which can take seconds: on a thread of its own, waited for only until the
        // daemon stops. A blocked open cannot be interrupted, so it is then left to finish (or not) alone.
        var (opening, thread) = OpenOnItsOwnThread(path, reason);
        OpenAttempt attempt;
        try
        {
            attempt = await opening.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _logger.LogWarning("Model load from {Path} ({Reason}) abandoned: the daemon is stopping.", PrintableText.Escape(path), reason);
            _ = opening.ContinueWith(static t => t.Result.Guard?.Dispose(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            throw;
        }

        if (attempt.Guard is not { } guard)
        {
            // A model can allocate a lot before it fails (a config asking for millions of labels). The thread that
            // caught the failure keeps it reachable while it lives, and an idle daemon may not collect for hours: the
            // memory is collected once that thread has ended (it is only returning). Loads are rare.
            thread.Join();
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            return Failed(path, reason, attempt.Error!);
        }

        var loaded = new LoadedModel(guard, path, DateTimeOffset.UtcNow);
        var previous = Interlocked.Exchange(ref _current, loaded);
        NotReadyReason = null;
        Interlocked.Increment(ref _reloadsSucceeded);
        previous?.Release();
        var info = guard.Model;
        _logger.LogInformation(
            "Model {Name} loaded from {Path} ({Reason}): {Format}, {Precision}, {Layers} layers, threshold {Threshold}, {Threads} threads",
            PrintableText.Escape(loaded.Name), PrintableText.Escape(path), reason, info.Format, info.Precision, info.Layers, guard.Threshold, guard.Threads);
        return new ReloadOutcome(true, loaded.Name, $"loaded {path}");
    }

    /// <summary>
    /// Why <paramref name="path"/> will not be opened, or null. Only regular files and directories are opened: open(2) of
    /// a FIFO or a serial device waits, maybe forever. A model directory is checked entry by entry for the same reason.
    /// </summary>
    private static string? RefuseToOpen(string path)
    {
        var kind = FileKinds.Of(path);
        if (kind != FileKind.Directory)
        {
            return kind is FileKind.RegularFile or FileKind.Missing or FileKind.Unknown
                ? null
                : $"{path} is {FileKinds.Describe(kind)}, not a regular file or a model directory.";
        }

        try
        {
            foreach (string entry in Directory.EnumerateFileSystemEntries(path))
            {
                var entryKind = FileKinds.Of(entry);
                if (entryKind is not (FileKind.RegularFile or FileKind.Directory or FileKind.Missing or FileKind.Unknown))
                {
                    return $"{entry} is {FileKinds.Describe(entryKind)}, not a regular file; a model directory holds regular files only.";
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Unreadable directory: the loader says so in its own words.
        }

        return null;
    }

    /// <summary>An opened guard, or why there is none.</summary>
    private readonly record struct OpenAttempt(Guard? Guard, string? Error);

    /// <summary>
    /// Runs <see cref="TryOpen"/> on a new thread that ends with it, so that a blocked open holds no pool thread and a
    /// failed one leaves nothing behind: its exception is caught on that thread, only a short printable message leaves it,
    /// and what the runtime keeps of the exception goes with the thread.
    /// </summary>
    private (Task<OpenAttempt> Attempt, Thread Thread) OpenOnItsOwnThread(string path, string reason)
    {
        var attempt = new TaskCompletionSource<OpenAttempt>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() => attempt.SetResult(TryOpen(path, reason)))
        {
            IsBackground = true,
            Name = "edgeguardd model load",
        };
        thread.Start();
        return (attempt.Task, thread);
    }

    /// <summary>The opened guard, or why there is none in at most <see cref="PrintableText.MaxErrorChars"/> printable characters.</summary>
    private OpenAttempt TryOpen(string path, string reason)
    {
        try
        {
            return new OpenAttempt(Open(path), null);
        }
        catch (Exception e)
        {
            // Whatever a model file makes the loader throw, it is that file's failure, not the daemon's: unexpected
            // exception types are named (and their stack logged at Debug) rather than allowed to stop the daemon.
            bool documented = e is ModelFileException or IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException;
            if (!documented)
            {
                _logger.LogDebug(e, "Model load from {Path} ({Reason}) threw {Exception}", PrintableText.Escape(path), reason, e.GetType().Name);
            }

            // The loader's message may be huge (it may list every label a config asks for) or hold control characters
            // from a file: what the daemon repeats in /readyz, /admin/reload and its log is bounded and printable.
            string message = documented ? e.Message : $"{path}: the loader failed with {e.GetType().Name}: {e.Message}";
            return new OpenAttempt(null, PrintableText.Escape(message, PrintableText.MaxErrorChars));
        }
    }

    private Guard Open(string path)
    {
        var guard = _open(path, _options);
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

    /// <summary>Counts and reports a failed load; <paramref name="message"/> is already bounded and printable.</summary>
    private ReloadOutcome Failed(string path, string reason, string message)
    {
        Interlocked.Increment(ref _reloadsFailed);
        if (_configuredPath.Length == 0)
        {
            message += $" Pass --model <bundle.gguf or Hugging Face directory>, or set {DefaultModel.EnvironmentVariable}.";
        }

        string shownPath = PrintableText.Escape(path, PrintableText.MaxErrorChars);
        var current = Current;
        if (current is null)
        {
            NotReadyReason = "no model is loaded: " + message;
            _logger.LogError("Model load from {Path} failed ({Reason}). {Error} Not ready until a reload succeeds (SIGHUP or POST /admin/reload).", shownPath, reason, message);
        }
        else
        {
            _logger.LogError(
                "Model reload from {Path} failed ({Reason}). {Error} Still serving {Name} from {Current}.",
                shownPath, reason, message, PrintableText.Escape(current.Name), PrintableText.Escape(current.Path));
        }

        return new ReloadOutcome(false, current?.Name ?? string.Empty, message);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // A load under way gives up its wait and releases the gate; then nothing can swap a model in any more.
        _disposing.Cancel();
        _reloadGate.Wait();
        try
        {
            Interlocked.Exchange(ref _current, null)?.Release();
        }
        finally
        {
            _reloadGate.Release();
        }
    }
}
