using EdgeGuard.Daemon.Hosting;
using EdgeGuard.Generation;
using EdgeGuard.ModelFiles;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Daemon.Models;

/// <summary>
/// The generator models, opened once at start (a model that cannot be opened is a configuration error: exit 2, one line)
/// and shared by every request; each request decodes in sessions of its own. Without a configured generator,
/// <see cref="Group"/> is null and the generation endpoints say which setting is missing.
/// </summary>
internal sealed class GeneratorHost : IDisposable
{
    private readonly WorkerPool? _pool;
    private readonly List<GenerativeModel> _models = [];

    private GeneratorHost(GeneratorSettings? settings, int threads)
    {
        if (settings is null)
        {
            return;
        }

        _pool = new WorkerPool(threads);
        try
        {
            GenerativeModel Open(string path, bool primary)
            {
                var model = GenerativeModel.Open(path, _pool, requireTokenizer: primary);
                _models.Add(model);
                return model;
            }

            var b = Open(settings.Model, primary: true);
            Group = settings.OffsetUnlearned is { } unlearned
                ? ModelGroup.Offset(b, Open(unlearned, primary: false), Open(settings.OffsetOriginal!, primary: false), settings.OffsetAlpha)
                : settings.ContrastAmateur is { } amateur
                    ? ModelGroup.Contrastive(b, Open(amateur, primary: false), settings.Plausibility)
                    : ModelGroup.Single(b);
            Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(settings.Model));
            ContextLength = Math.Min(settings.Context, Group.ContextLength);
        }
        catch (Exception e) when (e is ModelFileException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            Dispose();
            throw new DaemonConfigurationException($"{DaemonSettings.Section}:Generator cannot be opened: {e.Message}");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The models and how they combine; null when no generator is configured.</summary>
    public ModelGroup? Group { get; }

    /// <summary>The name responses give as <c>model</c>: the base model's file or directory name.</summary>
    public string Name { get; } = string.Empty;

    /// <summary>Tokens one request's sessions hold: the configured context, at most the models' positions.</summary>
    public int ContextLength { get; }

    /// <summary>Opens what <paramref name="settings"/> names (nothing when it is null).</summary>
    /// <exception cref="DaemonConfigurationException">A model is missing, invalid, not a decoder, or the group's vocabularies differ.</exception>
    public static GeneratorHost Open(GeneratorSettings? settings, int threads) => new(settings, threads);

    /// <summary>Whether <see cref="Dispose"/> has run: the models are closed and the worker threads gone.</summary>
    public bool IsDisposed { get; private set; }

    public void Dispose()
    {
        IsDisposed = true;
        foreach (var model in _models)
        {
            model.Dispose();
        }

        _models.Clear();
        _pool?.Dispose();
    }
}
