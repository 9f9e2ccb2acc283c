using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Text;

namespace EdgeGuard.Daemon.Tests;

/// <summary>The built <c>edgeguardd</c> as a separate process on a Unix socket (TCP off), for what only a process has: signals and death.</summary>
internal sealed class DaemonProcess : IDisposable
{
    private static readonly string DaemonDll = Path.GetFullPath(typeof(DaemonProcess).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "EdgeGuardDaemon").Value!);

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();

    private DaemonProcess(Process process, string socketPath)
    {
        _process = process;
        SocketPath = socketPath;
        Client = InProcessDaemon.CreateUnixClient(socketPath);
    }

    public string SocketPath { get; }

    public HttpClient Client { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>What the daemon wrote to standard error (also part of <see cref="Output"/>).</summary>
    public string StandardError
    {
        get
        {
            lock (_output)
            {
                return _error.ToString();
            }
        }
    }

    public static DaemonProcess Start(string model, string socketPath, params string[] extra) =>
        StartWith(socketPath, ["--model", model, "--port", "-1", "--socket", socketPath, .. extra]);

    /// <summary>Starts the daemon with exactly <paramref name="arguments"/>; <paramref name="socketPath"/> is where its client connects.</summary>
    public static DaemonProcess StartWith(string socketPath, string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])[DaemonDll, .. arguments])
        {
            start.ArgumentList.Add(a);
        }

        start.Environment.Remove("EDGEGUARD_MODEL");
        start.Environment["Logging__Console__FormatterName"] = "simple";
        var process = new Process { StartInfo = start };
        var daemon = new DaemonProcess(process, socketPath);
        process.OutputDataReceived += (_, e) => daemon.Append(e.Data);
        process.ErrorDataReceived += (_, e) => daemon.Append(e.Data, toStandardError: true);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return daemon;
    }

    /// <summary>Polls <c>/readyz</c> until 200; returns how long that took from now.</summary>
    public async Task<TimeSpan> WaitReadyAsync(TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"edgeguardd exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                using var ready = await Client.GetAsync("/readyz");
                if (ready.StatusCode == HttpStatusCode.OK)
                {
                    return clock.Elapsed;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"edgeguardd not ready within {limit}:\n{Output}");
    }

    public void Signal(string name)
    {
        using var kill = Process.Start("kill", ["-" + name, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    public void KillHard() => _process.Kill();

    public bool WaitForExit(TimeSpan limit)
    {
        if (!_process.WaitForExit(limit))
        {
            return false;
        }

        // Only the untimed wait also waits for the redirected output to be read to its end.
        _process.WaitForExit();
        return true;
    }

    public async Task<string> MetricsAsync() => await Client.GetStringAsync("/metrics");

    public void Dispose()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }

    private void Append(string? line, bool toStandardError = false)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
                if (toStandardError)
                {
                    _error.AppendLine(line);
                }
            }
        }
    }
}
