using System.Globalization;
using System.Net;

namespace EdgeGuard.Daemon.Hosting;

/// <summary>
/// Everything the daemon is told, read once at start from the <c>EdgeGuard</c> configuration section
/// (appsettings.json, then <c>EdgeGuard__Key</c> environment variables, then the command line).
/// Read by hand rather than through the configuration binder: no reflection under NativeAOT, and a bad value
/// fails with a message that names the key.
/// </summary>
internal sealed record DaemonSettings
{
    public const string Section = "EdgeGuard";

    public const int DefaultPort = 8088;

    /// <summary>
    /// The longest bearer token, configured or presented: configured tokens are printable ASCII (what an HTTP header can
    /// carry), so characters and bytes are the same count.
    /// </summary>
    public const int MaxTokenBytes = 1024;

    /// <summary>Command-line switches and the configuration keys they set.</summary>
    public static readonly IReadOnlyDictionary<string, string> SwitchMappings = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--model"] = Section + ":Model",
        ["--host"] = Section + ":Host",
        ["--port"] = Section + ":Port",
        ["--socket"] = Section + ":Socket",
        ["--profile"] = Section + ":Profile",
        ["--threads"] = Section + ":Threads",
        ["--token"] = Section + ":Token",
        ["--token-file"] = Section + ":TokenFile",
        ["--max-body-bytes"] = Section + ":MaxBodyBytes",
        ["--max-inputs"] = Section + ":MaxInputs",
        ["--max-windows"] = Section + ":MaxWindows",
        ["--max-batch"] = Section + ":MaxBatch",
        ["--max-wait-ms"] = Section + ":MaxWaitMs",
        ["--queue"] = Section + ":QueueCapacity",
        ["--deadline-ms"] = Section + ":DeadlineMs",
        ["--body-timeout-ms"] = Section + ":BodyTimeoutMs",
        ["--drain-seconds"] = Section + ":DrainSeconds",
        ["--max-connections"] = Section + ":MaxConnections",
        ["--idle-timeout-seconds"] = Section + ":IdleTimeoutSeconds",
        ["--log-text"] = Section + ":LogRequestText",
        ["--gpio-chip"] = Section + ":Gpio:Chip",
        ["--gpio-line"] = Section + ":Gpio:Line",
    };

    /// <summary>Model path as given; null means the default model (<c>$EDGEGUARD_MODEL</c>, else <c>models/edgeguard-default</c>).</summary>
    public string? Model { get; init; }

    public IPAddress Host { get; init; } = IPAddress.Loopback;

    /// <summary>TCP port; 0 asks the system for a free one (tests), -1 disables TCP.</summary>
    public int Port { get; init; } = DefaultPort;

    /// <summary>Unix socket path; null when the daemon listens on TCP only.</summary>
    public string? Socket { get; init; }

    public string? Profile { get; init; }

    public int Threads { get; init; }

    public string? Token { get; init; }

    public long MaxBodyBytes { get; init; } = 1 << 20;

    public int MaxInputs { get; init; } = 64;

    /// <summary>Model windows one input may need (its length bound); longer input is refused with 400.</summary>
    public int MaxWindows { get; init; } = 64;

    public int MaxBatch { get; init; } = 8;

    public int MaxWaitMs { get; init; } = 2;

    public int QueueCapacity { get; init; } = 256;

    public int DeadlineMs { get; init; } = 10_000;

    public int BodyTimeoutMs { get; init; } = 10_000;

    public int DrainSeconds { get; init; } = 20;

    /// <summary>Open connections (TCP and Unix socket together); more are closed at once.</summary>
    public int MaxConnections { get; init; } = 512;

    /// <summary>
    /// How long a connection may sit without a request (keep-alive) before the daemon closes it; the time to send the
    /// request headers is bounded by <see cref="BodyTimeoutMs"/> like the body.
    /// </summary>
    public int IdleTimeoutSeconds { get; init; } = 15;

    /// <summary>Request text in logs: off unless explicitly enabled, because prompts are private.</summary>
    public bool LogRequestText { get; init; }

    public string? GpioChip { get; init; }

    public int? GpioLine { get; init; }

    public int GpioHoldMs { get; init; } = 2_000;

    /// <summary>True when any listener accepts connections from other machines.</summary>
    public bool ListensBeyondLoopback => Port >= 0 && !IPAddress.IsLoopback(Host);

    public static DaemonSettings Read(IConfiguration configuration, FirmwareProfile? profile)
    {
        var section = configuration.GetSection(Section);
        string? token = Text(section, "Token");
        string? tokenFile = Text(section, "TokenFile");
        string tokenOrigin = $"{Section}:Token";
        if (token is null && tokenFile is not null)
        {
            // A file keeps the token out of the process list and the unit file.
            token = ReadTokenFile(tokenFile);
            tokenOrigin = $"the token in {tokenFile}";
        }

        if (!string.IsNullOrEmpty(token))
        {
            CheckToken(token, tokenOrigin);
        }

        string? host = Text(section, "Host");
        IPAddress address = IPAddress.Loopback;
        if (host is not null && !(host == "localhost" || IPAddress.TryParse(host, out address!)))
        {
            throw new DaemonConfigurationException($"{Section}:Host '{host}' is not an IP address; use 127.0.0.1, ::1, 0.0.0.0 or a specific address.");
        }

        if (address.IsIPv4MappedToIPv6)
        {
            // An IPv6 socket cannot bind a mapped address; the IPv4 address is what was meant.
            throw new DaemonConfigurationException($"{Section}:Host '{host}' is an IPv4-mapped IPv6 address; write it as IPv4: {address.MapToIPv4()}.");
        }

        string? socket = section["Socket"];
        socket = socket is null ? DefaultSocketPath() : socket.Length == 0 || socket == "none" ? null : socket;

        var settings = new DaemonSettings
        {
            Model = Text(section, "Model"),
            Host = address,
            Port = Int(section, "Port", DefaultPort, -1, 65535),
            Socket = socket,
            Profile = profile?.Name,
            Threads = Int(section, "Threads", profile?.Threads ?? 0, 0, 1024),
            Token = string.IsNullOrEmpty(token) ? null : token,
            MaxBodyBytes = Int(section, "MaxBodyBytes", 1 << 20, 64, int.MaxValue),
            MaxInputs = Int(section, "MaxInputs", 64, 1, 100_000),
            MaxWindows = Int(section, "MaxWindows", 64, 1, 1_000_000),
            MaxBatch = Int(section, "MaxBatch", profile?.MaxBatch ?? 8, 1, 1024),
            MaxWaitMs = Int(section, "MaxWaitMs", profile?.MaxWaitMs ?? 2, 0, 10_000),
            QueueCapacity = Int(section, "QueueCapacity", profile?.QueueCapacity ?? 256, 1, 1_000_000),
            DeadlineMs = Int(section, "DeadlineMs", 10_000, 1, 3_600_000),
            BodyTimeoutMs = Int(section, "BodyTimeoutMs", 10_000, 1, 3_600_000),
            DrainSeconds = Int(section, "DrainSeconds", 20, 0, 3600),
            MaxConnections = Int(section, "MaxConnections", 512, 1, 1_000_000),
            IdleTimeoutSeconds = Int(section, "IdleTimeoutSeconds", 15, 1, 3600),
            LogRequestText = Bool(section, "LogRequestText"),
            GpioChip = Text(section, "Gpio:Chip"),
            GpioLine = section["Gpio:Line"] is null ? null : Int(section, "Gpio:Line", 0, 0, 4096),
            GpioHoldMs = Int(section, "Gpio:HoldMs", 2_000, 0, 3_600_000),
        };

        if (settings.Port < 0 && settings.Socket is null)
        {
            throw new DaemonConfigurationException($"{Section}:Port is -1 and no socket is configured: the daemon would listen nowhere.");
        }

        if (settings.ListensBeyondLoopback && settings.Token is null)
        {
            throw new DaemonConfigurationException(
                $"listening on {settings.Host} reaches other machines and needs a bearer token: pass --token-file <file> (or --token, or {Section}__Token), or listen on 127.0.0.1.");
        }

        return settings;
    }

    private static string ReadTokenFile(string path)
    {
        // A FIFO would block the start until something writes to it; a device is not a token file either.
        if (FileKinds.RefuseUnlessRegularFile(path) is { } refusal)
        {
            throw new DaemonConfigurationException($"{Section}:TokenFile: {refusal}.");
        }

        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonConfigurationException($"{Section}:TokenFile {path} cannot be read: {e.Message}");
        }
    }

    /// <summary>A token no client could present (too long, or with a character a header cannot carry) would lock every client out.</summary>
    private static void CheckToken(string token, string origin)
    {
        if (token.Length > MaxTokenBytes)
        {
            throw new DaemonConfigurationException($"{origin} is {token.Length} characters long; a token may have at most {MaxTokenBytes}.");
        }

        foreach (char c in token)
        {
            if (c is < '!' or > '~')
            {
                // The character itself is not shown: it is part of a secret.
                throw new DaemonConfigurationException(
                    $"{origin} contains a space, a control character or a character outside ASCII; an Authorization header cannot carry it. Use letters, digits and punctuation.");
            }
        }
    }

    /// <summary>systemd's RuntimeDirectory, else the user's runtime directory; no socket when neither exists.</summary>
    private static string? DefaultSocketPath()
    {
        string? dir = Environment.GetEnvironmentVariable("RUNTIME_DIRECTORY") ?? Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        if (string.IsNullOrEmpty(dir))
        {
            return null;
        }

        // RUNTIME_DIRECTORY may list several directories separated by colons; the first is ours.
        int colon = dir.IndexOf(':', StringComparison.Ordinal);
        return Path.Combine(colon < 0 ? dir : dir[..colon], "edgeguardd.sock");
    }

    private static string? Text(IConfigurationSection section, string key)
    {
        string? value = section[key];
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    private static int Int(IConfigurationSection section, string key, int fallback, int min, int max)
    {
        string? value = section[key];
        if (value is null)
        {
            return fallback;
        }

        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int parsed) || parsed < min || parsed > max)
        {
            throw new DaemonConfigurationException($"{Section}:{key} is '{value}'; it must be a whole number from {min} to {max}.");
        }

        return parsed;
    }

    private static bool Bool(IConfigurationSection section, string key)
    {
        string? value = section[key];
        if (value is null)
        {
            return false;
        }

        return bool.TryParse(value, out bool parsed)
            ? parsed
            : throw new DaemonConfigurationException($"{Section}:{key} is '{value}'; it must be true or false.");
    }
}

/// <summary>A configuration value the daemon cannot start with; the message names the key and the fix.</summary>
internal sealed class DaemonConfigurationException(string message) : Exception(message);
