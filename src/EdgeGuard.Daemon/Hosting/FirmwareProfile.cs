using System.Text.Json;
using EdgeGuard.Kernels;

namespace EdgeGuard.Daemon.Hosting;

/// <summary>
/// The daemon's part of a firmware profile (<c>firmware-profiles/NAME.json</c>): threads and batching limits for one
/// board. Fields are read from a <c>daemon</c> object, falling back to the top level; anything else in the file
/// belongs to other parts of the project and is ignored here. Command-line and configuration values win.
/// The profile's <c>int8Kernel</c> is checked against the kernel set this CPU runs (<see cref="KernelSet.ProfileProblem"/>),
/// as the CLI checks its build's profile: a daemon configured for a board whose kernel this CPU lacks does not start.
/// </summary>
internal sealed record FirmwareProfile(string Name, int? Threads, int? MaxBatch, int? MaxWaitMs, int? QueueCapacity)
{
    public const string Directory = "firmware-profiles";

    /// <summary>Finds a profile by name (in <c>firmware-profiles/</c> of the working directory or above the executable) or by path.</summary>
    public static FirmwareProfile Load(string nameOrPath)
    {
        string path = Locate(nameOrPath);
        if (FileKinds.RefuseUnlessRegularFile(path) is { } refusal)
        {
            throw new DaemonConfigurationException($"firmware profile {refusal}.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new DaemonConfigurationException($"firmware profile {path} is not valid JSON: {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonConfigurationException($"firmware profile {path} cannot be read: {e.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new DaemonConfigurationException($"firmware profile {path} must be a JSON object.");
            }

            JsonElement daemon = root.TryGetProperty("daemon", out var d) && d.ValueKind == JsonValueKind.Object ? d : root;
            string name = root.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : Path.GetFileNameWithoutExtension(path);
            if (root.TryGetProperty("int8Kernel", out var kernel))
            {
                if (kernel.ValueKind != JsonValueKind.String)
                {
                    throw new DaemonConfigurationException($"firmware profile {path}: int8Kernel must be a string naming an int8 kernel.");
                }

                if (KernelSet.ProfileProblem(name, kernel.GetString()!) is { } problem)
                {
                    throw new DaemonConfigurationException($"{path}: {problem}");
                }
            }

            return new FirmwareProfile(
                name,
                Number(daemon, "threads", path) ?? Number(root, "threads", path),
                Number(daemon, "max_batch", path),
                Number(daemon, "max_wait_ms", path),
                Number(daemon, "queue_capacity", path));
        }
    }

    private static string Locate(string nameOrPath)
    {
        if (nameOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || nameOrPath.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(nameOrPath) ? nameOrPath : throw new DaemonConfigurationException($"firmware profile {nameOrPath} does not exist.");
        }

        var candidates = new List<string> { Path.Combine(Environment.CurrentDirectory, Directory, nameOrPath + ".json") };
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            candidates.Add(Path.Combine(dir.FullName, Directory, nameOrPath + ".json"));
        }

        return candidates.FirstOrDefault(File.Exists)
            ?? throw new DaemonConfigurationException($"firmware profile '{nameOrPath}' not found: no {Directory}/{nameOrPath}.json in the working directory or above the executable.");
    }

    private static int? Number(JsonElement element, string property, string path)
    {
        if (!element.TryGetProperty(property, out var value))
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int n) && n >= 0
            ? n
            : throw new DaemonConfigurationException($"firmware profile {path}: '{property}' must be a non-negative whole number.");
    }
}
