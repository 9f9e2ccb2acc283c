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
        ["--generator-model"] = Section + ":Generator:Model",
        ["--generator-offset-unlearned"] = Section + ":Generator:OffsetUnlearned",
        ["--generator-offset-original"] = Section + ":Generator:OffsetOriginal",
        ["--generator-offset-alpha"] = Section + ":Generator:OffsetAlpha",
        ["--generator-contrast-amateur"] = Section + ":Generator:ContrastAmateur",
        ["--generator-plausibility"] = Section + ":Generator:Plausibility",
        ["--generator-context"] = Section + ":Generator:Context",
        ["--generator-max-tokens"] = Section + ":Generator:MaxTokens",
        ["--generator-prompt-overflow"] = Section + ":Generator:PromptOverflow",
        ["--guard-rail-policy"] = Section + ":GuardRail:Policy",
        ["--guard-rail-refusal"] = Section + ":GuardRail:RefusalMessage",
        ["--guard-rail-every"] = Section + ":GuardRail:EveryTokens",
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

    /// <summary>The text generator behind <c>/v1/chat/completions</c> and <c>/v1/completions</c>; null when none is configured.</summary>
    public GeneratorSettings? Generator { get; init; }

    /// <summary>What the guard does around generation.</summary>
    public GuardRailSettings GuardRail { get; init; } = new();

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
            Generator = ReadGenerator(section),
            GuardRail = ReadGuardRail(section),
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

    private static GeneratorSettings? ReadGenerator(IConfigurationSection section)
    {
        string? unlearned = Text(section, "Generator:OffsetUnlearned");
        string? original = Text(section, "Generator:OffsetOriginal");
        string? amateur = Text(section, "Generator:ContrastAmateur");
        string? model = Text(section, "Generator:Model");
        if (model is null)
        {
            if (unlearned is not null || original is not null || amateur is not null)
            {
                throw new DaemonConfigurationException($"{Section}:Generator offset or contrast partners are configured without {Section}:Generator:Model (--generator-model): give the base model too.");
            }

            return null;
        }

        if ((unlearned is null) != (original is null))
        {
            throw new DaemonConfigurationException(
                $"offset decoding needs both {Section}:Generator:OffsetUnlearned (--generator-offset-unlearned, S′) and {Section}:Generator:OffsetOriginal (--generator-offset-original, S₀).");
        }

        if (unlearned is not null && amateur is not null)
        {
            throw new DaemonConfigurationException($"configure {Section}:Generator offset partners or {Section}:Generator:ContrastAmateur, not both.");
        }

        string overflow = Text(section, "Generator:PromptOverflow") ?? "refuse";
        if (overflow is not ("refuse" or "keep-end"))
        {
            throw new DaemonConfigurationException($"{Section}:Generator:PromptOverflow is '{overflow}'; it must be refuse or keep-end.");
        }

        return new GeneratorSettings
        {
            Model = model,
            OffsetUnlearned = unlearned,
            OffsetOriginal = original,
            OffsetAlpha = Float(section, "Generator:OffsetAlpha", 1f, -100f, 100f),
            ContrastAmateur = amateur,
            Plausibility = Float(section, "Generator:Plausibility", 0.1f, 0f, 1f),
            Context = Int(section, "Generator:Context", 2048, 16, 1 << 20),
            MaxTokens = Int(section, "Generator:MaxTokens", 256, 1, 1 << 20),
            KeepPromptEnd = overflow == "keep-end",
        };
    }

    private static GuardRailSettings ReadGuardRail(IConfigurationSection section)
    {
        string policy = Text(section, "GuardRail:Policy") ?? "content_filter";
        if (policy is not ("refuse" or "content_filter"))
        {
            throw new DaemonConfigurationException($"{Section}:GuardRail:Policy is '{policy}'; it must be refuse or content_filter.");
        }

        string? refusal = section["GuardRail:RefusalMessage"];
        if (refusal is not null && refusal.Trim().Length == 0)
        {
            throw new DaemonConfigurationException($"{Section}:GuardRail:RefusalMessage is empty; give the text a refused request is answered with.");
        }

        return new GuardRailSettings
        {
            Refuse = policy == "refuse",
            RefusalMessage = refusal ?? GuardRailSettings.DefaultRefusal,
            EveryTokens = Int(section, "GuardRail:EveryTokens", 16, 0, 1 << 20),
        };
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

    private static float Float(IConfigurationSection section, string key, float fallback, float min, float max)
    {
        string? value = section[key];
        if (value is null)
        {
            return fallback;
        }

        if (!float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out float parsed) || !(parsed >= min && parsed <= max))
        {
            throw new DaemonConfigurationException($"{Section}:{key} is '{value}'; it must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}.");
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

/// <summary>The generator model and its partners (<c>EdgeGuard:Generator:*</c>).</summary>
internal sealed record GeneratorSettings
{
    /// <summary>The base model (B, or the contrastive expert): a decoder bundle or Hugging Face directory with its tokenizer.</summary>
    public required string Model { get; init; }

    /// <summary>Offset unlearning's fine-tuned small model S′; set together with <see cref="OffsetOriginal"/>.</summary>
    public string? OffsetUnlearned { get; init; }

    /// <summary>Offset unlearning's original small model S₀.</summary>
    public string? OffsetOriginal { get; init; }

    /// <summary>α of <c>ℓ_B + α·(ℓ_S′ − ℓ_S₀)</c>.</summary>
    public float OffsetAlpha { get; init; } = 1f;

    /// <summary>Contrastive decoding's amateur (e.g. a toxic fine-tune of the base).</summary>
    public string? ContrastAmateur { get; init; }

    /// <summary>Contrastive decoding's plausibility α: tokens below α × the best base probability are masked.</summary>
    public float Plausibility { get; init; } = 0.1f;

    /// <summary>Tokens one request's sessions hold (prompt and reply), at most the models' positions: the KV cache per request.</summary>
    public int Context { get; init; } = 2048;

    /// <summary>The most tokens one reply may have; a request's <c>max_tokens</c> is capped to it.</summary>
    public int MaxTokens { get; init; } = 256;

    /// <summary>A prompt longer than the context keeps its end instead of being refused with 400.</summary>
    public bool KeepPromptEnd { get; init; }
}

/// <summary>The guard around generation (<c>EdgeGuard:GuardRail:*</c>).</summary>
internal sealed record GuardRailSettings
{
    public const string DefaultRefusal = "I can't help with that.";

    /// <summary>
    /// A flagged request is answered with <see cref="RefusalMessage"/> as the assistant's reply (<c>refuse</c>), else with
    /// no text and <c>finish_reason: "content_filter"</c>.
    /// </summary>
    public bool Refuse { get; init; }

    public string RefusalMessage { get; init; } = DefaultRefusal;

    /// <summary>A stream's reply is classified (with its prompt) each time this many more tokens are held back, and at its end; 0: only at the end.</summary>
    public int EveryTokens { get; init; } = 16;
}

/// <summary>A configuration value the daemon cannot start with; the message names the key and the fix.</summary>
internal sealed class DaemonConfigurationException(string message) : Exception(message);
